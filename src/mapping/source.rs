//! Where an operator field's value comes from: an attribute (`"mail"`), or a template over
//! attributes (`"{givenName} {sn}"`). A field lists several sources; the first that yields a
//! value wins, so one table copes with IdPs that send `displayName` and with those that don't.

use super::aliases::AttributeName;
use crate::saml::assertion::Claims;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ValueSource {
    Attribute(AttributeName),
    Template(Vec<Part>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Text(String),
    Attribute(AttributeName),
}

impl ValueSource {
    /// A string with `{` is a template (`{{` and `}}` write literal braces); any other string
    /// names an attribute. The error is the reason a template is bad.
    pub fn parse(written: &str) -> Result<ValueSource, String> {
        let trimmed = written.trim();
        if trimmed.is_empty() {
            return Err("it is empty".to_owned());
        }
        if !trimmed.contains('{') && !trimmed.contains('}') {
            return Ok(ValueSource::Attribute(AttributeName::new(trimmed)));
        }
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = written.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for k in chars.by_ref() {
                        if k == '}' {
                            closed = true;
                            break;
                        }
                        if k == '{' {
                            return Err("a `{` opens inside another `{...}`".to_owned());
                        }
                        name.push(k);
                    }
                    if !closed {
                        return Err("a `{` is never closed by `}`".to_owned());
                    }
                    let name = name.trim();
                    if name.is_empty() {
                        return Err("`{}` names no attribute".to_owned());
                    }
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Attribute(AttributeName::new(name)));
                }
                '}' => return Err("a `}` has no opening `{` (write `}}` for a brace)".to_owned()),
                other => text.push(other),
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        if !parts.iter().any(|p| matches!(p, Part::Attribute(_))) {
            return Err("it names no attribute in `{...}`".to_owned());
        }
        Ok(ValueSource::Template(parts))
    }

    /// The value for a single-valued field: an attribute's first non-empty value, or the
    /// template filled with each attribute's first value. A template applies only when every
    /// attribute it names has a value: "José " from "{givenName} {sn}" is not a name.
    pub fn single(&self, claims: &Claims) -> Option<String> {
        let value = match self {
            ValueSource::Attribute(name) => name.first_value(claims)?.to_owned(),
            ValueSource::Template(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Text(t) => out.push_str(t),
                        Part::Attribute(name) => out.push_str(name.first_value(claims)?),
                    }
                }
                out.trim().to_owned()
            }
        };
        (!value.is_empty()).then_some(value)
    }

    /// The value for a forwarded header: every non-empty value of an attribute, trimmed and
    /// joined with `,` (the `X-Forwarded-Groups` convention); a template as in [`Self::single`].
    pub fn joined(&self, claims: &Claims) -> Option<String> {
        match self {
            ValueSource::Attribute(name) => {
                let values: Vec<&str> = name
                    .values(claims)
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .collect();
                (!values.is_empty()).then(|| values.join(","))
            }
            ValueSource::Template(_) => self.single(claims),
        }
    }
}

/// The first source in `sources` that yields a value.
pub(crate) fn first_single(sources: &[ValueSource], claims: &Claims) -> Option<String> {
    sources.iter().find_map(|s| s.single(claims))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::assertion::{NameId, SamlAttribute};

    fn claims(attrs: &[(&str, &[&str])]) -> Claims {
        Claims {
            idp_entity_id: "https://idp.example.com".into(),
            name_id: NameId {
                value: "n".into(),
                format: None,
                name_qualifier: None,
                sp_name_qualifier: None,
            },
            attributes: attrs
                .iter()
                .map(|(n, vs)| SamlAttribute {
                    name: n.to_string(),
                    name_format: None,
                    friendly_name: None,
                    values: vs.iter().map(|v| v.to_string()).collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn template_fills_in_first_values_through_aliases() {
        let src = ValueSource::parse("{givenName} {sn}").unwrap();
        let c = claims(&[
            ("urn:oid:2.5.4.42", &["José", "Pepe"]),
            (
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
                &["Müller"],
            ),
        ]);
        assert_eq!(src.single(&c).as_deref(), Some("José Müller"));
    }

    #[test]
    fn template_with_a_missing_attribute_yields_nothing() {
        let src = ValueSource::parse("{givenName} {sn}").unwrap();
        let c = claims(&[("givenName", &["José"])]);
        assert_eq!(src.single(&c), None);
    }

    #[test]
    fn doubled_braces_are_literal() {
        let src = ValueSource::parse("{{{uid}}}").unwrap();
        let c = claims(&[("uid", &["jm"])]);
        assert_eq!(src.single(&c).as_deref(), Some("{jm}"));
    }

    #[test]
    fn bad_templates_are_explained() {
        for (t, reason) in [
            ("{givenName", "never closed"),
            ("{} x", "names no attribute"),
            ("a}b", "no opening"),
            ("{a{b}}", "inside another"),
            ("{{literal}}", "names no attribute"),
            ("  ", "empty"),
        ] {
            let err = ValueSource::parse(t).unwrap_err();
            assert!(err.contains(reason), "{t}: {err}");
        }
    }

    #[test]
    fn joined_keeps_every_value_of_a_multi_valued_attribute() {
        let src = ValueSource::parse("eduPersonAffiliation").unwrap();
        let c = claims(&[("urn:oid:1.3.6.1.4.1.5923.1.1.1.1", &["staff", "", "member"])]);
        assert_eq!(src.joined(&c).as_deref(), Some("staff,member"));
        assert_eq!(src.single(&c).as_deref(), Some("staff"));
    }

    #[test]
    fn first_source_with_a_value_wins() {
        let sources = [
            ValueSource::parse("displayName").unwrap(),
            ValueSource::parse("{givenName} {sn}").unwrap(),
        ];
        let c = claims(&[("givenName", &["Ana"]), ("sn", &["Ruiz"])]);
        assert_eq!(first_single(&sources, &c).as_deref(), Some("Ana Ruiz"));
        let c = claims(&[("displayName", &["Dr. Ana Ruiz"]), ("givenName", &["Ana"])]);
        assert_eq!(first_single(&sources, &c).as_deref(), Some("Dr. Ana Ruiz"));
    }
}
