//! Attribute names known out of the box. IdPs name the same fact in different ways: LDAP
//! friendly names (`mail`), the `urn:oid:` names of the SAML V2.0 X.500/LDAP attribute profile
//! (Shibboleth, SimpleSAMLphp), and claim URIs (Entra ID, ADFS). A table that says `mail`
//! finds the address under any of them, so one table can serve several IdPs.
//!
//! Names compare ASCII-case-insensitively: ADFS writes `.../claims/EmailAddress` where Entra
//! writes `.../claims/emailaddress`, and the difference never means a different fact.

use crate::saml::assertion::{Claims, SamlAttribute};

/// Entra ID puts this attribute in place of `groups` when the user is in more groups than fit
/// in a token (150 for SAML): the "groups overage" claim, a Graph API link.
pub const ENTRA_GROUPS_OVERAGE: &str = "http://schemas.microsoft.com/claims/groups.link";

/// Each line: the names under which IdPs send one fact. The first is the name we display.
const KNOWN: &[&[&str]] = &[
    &[
        "mail",
        "email",
        "emailAddress",
        "urn:oid:0.9.2342.19200300.100.1.3",
        "urn:oid:1.2.840.113549.1.9.1",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        "http://schemas.xmlsoap.org/claims/EmailAddress",
    ],
    &[
        "givenName",
        "firstName",
        "urn:oid:2.5.4.42",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    ],
    &[
        "sn",
        "surname",
        "lastName",
        "urn:oid:2.5.4.4",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    ],
    &[
        "displayName",
        "urn:oid:2.16.840.1.113730.3.1.241",
        "http://schemas.microsoft.com/identity/claims/displayname",
    ],
    &[
        "cn",
        "commonName",
        "urn:oid:2.5.4.3",
        "http://schemas.xmlsoap.org/claims/CommonName",
    ],
    // Entra ID's `name` claim carries the user principal name, not a display name.
    &[
        "name",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    ],
    &[
        "upn",
        "userPrincipalName",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    ],
    &["uid", "userid", "urn:oid:0.9.2342.19200300.100.1.1"],
    &["eduPersonPrincipalName", "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"],
    &["eduPersonAffiliation", "urn:oid:1.3.6.1.4.1.5923.1.1.1.1"],
    &[
        "eduPersonScopedAffiliation",
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.9",
    ],
    &["eduPersonEntitlement", "urn:oid:1.3.6.1.4.1.5923.1.1.1.7"],
    &["eduPersonUniqueId", "urn:oid:1.3.6.1.4.1.5923.1.1.1.13"],
    &[
        "ou",
        "organizationalUnitName",
        "orgUnit",
        "urn:oid:2.5.4.11",
    ],
    &["o", "organizationName", "urn:oid:2.5.4.10"],
    &["departmentNumber", "urn:oid:2.16.840.1.113730.3.1.2"],
    &["employeeNumber", "urn:oid:2.16.840.1.113730.3.1.3"],
    &["title", "urn:oid:2.5.4.12"],
    &["telephoneNumber", "urn:oid:2.5.4.20"],
    &[
        "groups",
        "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
        "http://schemas.xmlsoap.org/claims/Group",
    ],
    &["memberOf", "urn:oid:1.2.840.113556.1.2.102"],
    &["isMemberOf", "urn:oid:1.3.6.1.4.1.5923.1.5.1.1"],
    &[
        "role",
        "roles",
        "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
    ],
    &[
        "objectidentifier",
        "http://schemas.microsoft.com/identity/claims/objectidentifier",
    ],
    &[
        "tenantid",
        "http://schemas.microsoft.com/identity/claims/tenantid",
    ],
];

/// An attribute as the table names it, with every name it is known by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeName {
    /// What the admin wrote: used in messages.
    written: String,
    /// The written name and its aliases.
    names: Vec<&'static str>,
}

impl AttributeName {
    /// Resolves a name from the table to its alias group; an unknown name matches only itself.
    pub fn new(written: &str) -> Self {
        let names = KNOWN
            .iter()
            .find(|group| group.iter().any(|n| n.eq_ignore_ascii_case(written)))
            .map(|group| group.to_vec())
            .unwrap_or_default();
        AttributeName {
            written: written.to_owned(),
            names,
        }
    }

    pub fn written(&self) -> &str {
        &self.written
    }

    /// The canonical name (the first of its alias group), for comparing two conditions.
    pub fn canonical(&self) -> String {
        match self.names.first() {
            Some(first) => first.to_ascii_lowercase(),
            None => self.written.to_ascii_lowercase(),
        }
    }

    /// Whether an Attribute in the assertion is this one (by Name or FriendlyName).
    pub fn is(&self, attribute: &SamlAttribute) -> bool {
        self.matches_name(&attribute.name)
            || attribute
                .friendly_name
                .as_deref()
                .is_some_and(|f| self.matches_name(f))
    }

    fn matches_name(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case(&self.written)
            || self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// Every non-empty value of this attribute in the claims, in document order. An empty
    /// value is treated as absent: an IdP that sends `<AttributeValue/>` has said nothing.
    pub fn values<'a>(&'a self, claims: &'a Claims) -> impl Iterator<Item = &'a str> + 'a {
        claims
            .attributes
            .iter()
            .filter(move |a| self.is(a))
            .flat_map(|a| a.values.iter().map(String::as_str))
            .filter(|v| !v.is_empty())
    }

    /// The first non-empty value, trimmed (for single-valued fields: email, name, ...).
    pub fn first_value<'a>(&'a self, claims: &'a Claims) -> Option<&'a str> {
        self.values(claims).map(str::trim).find(|v| !v.is_empty())
    }
}

/// Whether the claims carry the Entra ID groups overage attribute.
pub fn has_groups_overage(claims: &Claims) -> bool {
    claims
        .attributes
        .iter()
        .any(|a| a.name.eq_ignore_ascii_case(ENTRA_GROUPS_OVERAGE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(name: &str, friendly: Option<&str>, values: &[&str]) -> SamlAttribute {
        SamlAttribute {
            name: name.to_owned(),
            name_format: None,
            friendly_name: friendly.map(str::to_owned),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn each_issue_alias_resolves_to_its_friendly_name() {
        let cases = [
            ("mail", "urn:oid:0.9.2342.19200300.100.1.3"),
            ("givenName", "urn:oid:2.5.4.42"),
            ("sn", "urn:oid:2.5.4.4"),
            ("displayName", "urn:oid:2.16.840.1.113730.3.1.241"),
            ("eduPersonPrincipalName", "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"),
            ("eduPersonAffiliation", "urn:oid:1.3.6.1.4.1.5923.1.1.1.1"),
            (
                "mail",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            ),
            (
                "givenName",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
            ),
            (
                "sn",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
            ),
            (
                "name",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
            ),
            (
                "displayName",
                "http://schemas.microsoft.com/identity/claims/displayname",
            ),
            (
                "groups",
                "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
            ),
            (
                "role",
                "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
            ),
        ];
        for (friendly, uri) in cases {
            let by_friendly = AttributeName::new(friendly);
            assert!(
                by_friendly.is(&attr(uri, None, &["x"])),
                "{friendly} vs {uri}"
            );
            let by_uri = AttributeName::new(uri);
            assert!(
                by_uri.is(&attr(friendly, None, &["x"])),
                "{uri} vs {friendly}"
            );
        }
    }

    #[test]
    fn matches_friendly_name_and_ignores_ascii_case() {
        let mail = AttributeName::new("mail");
        assert!(mail.is(&attr("urn:x:custom", Some("mail"), &[])));
        assert!(mail.is(&attr(
            "http://schemas.xmlsoap.org/claims/emailaddress",
            None,
            &[]
        )));
        assert!(!mail.is(&attr("givenName", None, &[])));
    }

    #[test]
    fn unknown_name_matches_only_itself() {
        let cost = AttributeName::new("costCenter");
        assert!(cost.is(&attr("costcenter", None, &[])));
        assert!(!cost.is(&attr("department", None, &[])));
        assert_eq!(cost.canonical(), "costcenter");
    }

    #[test]
    fn empty_values_count_as_absent() {
        let claims = Claims {
            idp_entity_id: "idp".into(),
            name_id: crate::saml::assertion::NameId {
                value: "n".into(),
                format: None,
                name_qualifier: None,
                sp_name_qualifier: None,
            },
            attributes: vec![attr("mail", None, &["", "  ", "a@example.com"])],
        };
        let mail = AttributeName::new("mail");
        assert_eq!(mail.first_value(&claims), Some("a@example.com"));
        assert_eq!(mail.values(&claims).count(), 2);
    }
}
