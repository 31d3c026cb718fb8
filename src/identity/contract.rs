//! The header contract: which headers carry the identity to the backend, under which names.
//!
//! The contract is declared as data (a list of header name -> [`IdentityField`]), following
//! oauth2-proxy's default names so that existing backends work unchanged (`X-Forwarded-User`,
//! `X-Forwarded-Email`, `X-Forwarded-Preferred-Username`, `X-Forwarded-Groups`,
//! `X-Forwarded-Access-Group`, `X-Forwarded-Name`). Names are configurable under `[headers]`, and
//! extra headers (e.g. `X-Forwarded-Department`) can be declared. A contract that cannot be
//! enforced (an unknown field, a name declared twice, a header the proxy itself manages) is
//! refused when it is built, so the configuration check reports it.
//!
//! How the values are written and how client-sent copies are stripped is the gateway's
//! `headers` module.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::HeaderName;
use serde::Deserialize;

/// Where a contract header takes its value from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityField {
    User,
    Email,
    PreferredUsername,
    /// Comma-joined, each group encoded on its own.
    Groups,
    AccessGroup,
    Name,
}

impl IdentityField {
    const ALL: [(IdentityField, &'static str, &'static str); 6] = [
        (IdentityField::User, "user", "x-forwarded-user"),
        (IdentityField::Email, "email", "x-forwarded-email"),
        (
            IdentityField::PreferredUsername,
            "preferred_username",
            "x-forwarded-preferred-username",
        ),
        (IdentityField::Groups, "groups", "x-forwarded-groups"),
        (
            IdentityField::AccessGroup,
            "access_group",
            "x-forwarded-access-group",
        ),
        (IdentityField::Name, "name", "x-forwarded-name"),
    ];
}

/// The `[headers]` configuration section, as deserialized from TOML.
///
/// ```toml
/// [headers]
/// names = { user = "X-Remote-User" }        # override a default name
/// extra = ["X-Forwarded-Department"]       # extra identity headers the gateway may set
/// also_strip = ["X-Remote-Groups"]         # more names to remove from every incoming request
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderContractConfig {
    #[serde(default)]
    pub names: BTreeMap<String, String>,
    #[serde(default)]
    pub extra: Vec<String>,
    #[serde(default)]
    pub also_strip: Vec<String>,
}

/// A configuration of the header contract that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderContractError {
    #[error(
        "headers.names: unknown identity field {key:?} (expected one of user, email, preferred_username, groups, access_group, name)"
    )]
    UnknownField { key: String },
    #[error("headers: {name:?} is not a valid HTTP header name")]
    InvalidName { name: String },
    #[error(
        "headers: {name:?} is declared twice (names are compared ignoring case and treating '_' as '-')"
    )]
    Duplicate { name: String },
    #[error(
        "headers: {name:?} cannot be an identity header: the proxy manages it (hop-by-hop or request framing)"
    )]
    Reserved { name: String },
}

/// One declared header: its name and where its value comes from.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) name: HeaderName,
    pub(crate) source: IdentityField,
}

/// The declared identity headers (see the module documentation for the contract and the value encoding).
#[derive(Debug, Clone)]
pub struct HeaderContract {
    pub(crate) rules: Vec<Rule>,
    pub(crate) extra: Vec<HeaderName>,
    /// Every name to strip, normalized (lower case, `_` -> `-`): rules, extras and `also_strip`.
    strip_names: Vec<String>,
    /// The rules' names in order: the header names of every identity that has every field, shared
    /// by their [`IdentityHeaders`] rather than copied into each.
    pub(crate) rule_names: Arc<[HeaderName]>,
}

impl Default for HeaderContract {
    /// The oauth2-proxy default names, no extras.
    fn default() -> Self {
        let rules = IdentityField::ALL
            .iter()
            .map(|(source, _, name)| Rule {
                name: HeaderName::from_static(name),
                source: *source,
            })
            .collect();
        Self::assemble(rules, Vec::new(), Vec::new())
    }
}

/// Headers a contract may not claim: the proxy itself manages them.
const RESERVED: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
];

impl HeaderContract {
    /// Build the contract from the `[headers]` section, reporting the first unusable entry.
    pub fn from_config(config: &HeaderContractConfig) -> Result<Self, HeaderContractError> {
        for key in config.names.keys() {
            if !IdentityField::ALL.iter().any(|(_, k, _)| k == key) {
                return Err(HeaderContractError::UnknownField { key: key.clone() });
            }
        }
        let mut rules = Vec::with_capacity(IdentityField::ALL.len());
        for (source, key, default_name) in IdentityField::ALL {
            let name = match config.names.get(key) {
                Some(configured) => parse_name(configured)?,
                None => HeaderName::from_static(default_name),
            };
            rules.push(Rule { name, source });
        }
        let extra = config
            .extra
            .iter()
            .map(|n| parse_name(n))
            .collect::<Result<Vec<_>, _>>()?;
        let also_strip = config
            .also_strip
            .iter()
            .map(|n| parse_name(n).map(|h| normalize(h.as_str())))
            .collect::<Result<Vec<_>, _>>()?;

        let mut seen: Vec<String> = Vec::new();
        for name in rules.iter().map(|r| &r.name).chain(extra.iter()) {
            let norm = normalize(name.as_str());
            if seen.contains(&norm) {
                return Err(HeaderContractError::Duplicate {
                    name: name.as_str().to_owned(),
                });
            }
            seen.push(norm);
        }
        Ok(Self::assemble(rules, extra, also_strip))
    }

    fn assemble(rules: Vec<Rule>, extra: Vec<HeaderName>, also_strip: Vec<String>) -> Self {
        let mut strip_names: Vec<String> = rules
            .iter()
            .map(|r| &r.name)
            .chain(extra.iter())
            .map(|n| normalize(n.as_str()))
            .chain(also_strip)
            .collect();
        strip_names.sort();
        strip_names.dedup();
        let rule_names = rules.iter().map(|r| r.name.clone()).collect();
        Self {
            rules,
            extra,
            strip_names,
            rule_names,
        }
    }

    /// Also strip `name` from every incoming request: the header the identity token travels in,
    /// which the gateway sets beside the contract's. Refused like a contract name when it is not
    /// a header name, is one the proxy manages, or is already one of the contract's headers.
    pub fn with_token_header(
        mut self,
        name: &str,
    ) -> Result<(Self, HeaderName), HeaderContractError> {
        let parsed = parse_name(name)?;
        let norm = normalize(parsed.as_str());
        if self
            .rules
            .iter()
            .map(|r| &r.name)
            .chain(self.extra.iter())
            .any(|n| normalize(n.as_str()) == norm)
        {
            return Err(HeaderContractError::Duplicate {
                name: name.to_owned(),
            });
        }
        if !self.strip_names.contains(&norm) {
            self.strip_names.push(norm);
            self.strip_names.sort();
        }
        Ok((self, parsed))
    }

    /// The header that carries `field`.
    pub fn header_for(&self, field: IdentityField) -> Option<&HeaderName> {
        self.rules
            .iter()
            .find(|r| r.source == field)
            .map(|r| &r.name)
    }

    /// Every declared identity header name (contract rules, then extras), for display and diagnostics.
    pub fn header_names(&self) -> impl Iterator<Item = &HeaderName> {
        self.rules.iter().map(|r| &r.name).chain(self.extra.iter())
    }

    /// Whether `name` is one this contract strips (ignoring case, `_` taken as `-`).
    pub fn is_stripped(&self, name: &str) -> bool {
        self.strip_names
            .iter()
            .any(|s| eq_folded(s.as_bytes(), name.as_bytes()))
    }
}

fn parse_name(name: &str) -> Result<HeaderName, HeaderContractError> {
    let parsed =
        HeaderName::from_bytes(name.as_bytes()).map_err(|_| HeaderContractError::InvalidName {
            name: name.to_owned(),
        })?;
    let norm = normalize(parsed.as_str());
    if RESERVED.contains(&norm.as_str()) || norm.starts_with("proxy-") {
        return Err(HeaderContractError::Reserved {
            name: name.to_owned(),
        });
    }
    Ok(parsed)
}

/// Lower case, `_` -> `-`: the form under which two header names are "the same" for stripping.
fn normalize(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b == b'_' {
                '-'
            } else {
                char::from(b.to_ascii_lowercase())
            }
        })
        .collect()
}

/// `normalized` (already folded) equals `name` once folded; no allocation, this runs on every request header.
fn eq_folded(normalized: &[u8], name: &[u8]) -> bool {
    normalized.len() == name.len()
        && normalized.iter().zip(name).all(|(a, b)| {
            let b = if *b == b'_' {
                b'-'
            } else {
                b.to_ascii_lowercase()
            };
            *a == b
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_unusable_configurations() {
        let cfg = |names: &[(&str, &str)], extra: &[&str]| HeaderContractConfig {
            names: names
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            also_strip: vec![],
        };
        assert_eq!(
            HeaderContract::from_config(&cfg(&[("uid", "X-Uid")], &[])).unwrap_err(),
            HeaderContractError::UnknownField { key: "uid".into() }
        );
        assert_eq!(
            HeaderContract::from_config(&cfg(&[("user", "bad header")], &[])).unwrap_err(),
            HeaderContractError::InvalidName {
                name: "bad header".into()
            }
        );
        assert_eq!(
            HeaderContract::from_config(&cfg(&[("email", "X_Forwarded_User")], &[])).unwrap_err(),
            HeaderContractError::Duplicate {
                name: "x_forwarded_user".into()
            }
        );
        assert_eq!(
            HeaderContract::from_config(&cfg(&[("user", "Host")], &[])).unwrap_err(),
            HeaderContractError::Reserved {
                name: "Host".into()
            }
        );
    }
}
