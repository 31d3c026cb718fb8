//! VerifiedAssertion -> the identity kept in the session.
//!
//! TEMPORARY: a minimal fallback (NameID as the user, well-known attribute names for email,
//! name and groups, no access group) until `mapping::apply` lands on main; then this file
//! calls the mapping table and converts its `Operator`.

use crate::config::Idp;
use crate::saml::VerifiedAssertion;

use super::session::SessionIdentity;

const EMAIL: &[&str] = &[
    "email",
    "mail",
    "emailAddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
];
const NAME: &[&str] = &[
    "displayName",
    "urn:oid:2.16.840.1.113730.3.1.241",
    "http://schemas.microsoft.com/identity/claims/displayname",
];
const GROUPS: &[&str] = &[
    "groups",
    "memberOf",
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
];

/// Why no session may be created for a verified assertion.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct IdentityRefusal(pub String);

impl IdentityRefusal {
    pub fn kind(&self) -> &'static str {
        "mapping_refused"
    }
}

pub fn map(_idp: &Idp, verified: &VerifiedAssertion) -> Result<SessionIdentity, IdentityRefusal> {
    let claims = &verified.claims;
    let first = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| claims.values(n).next().map(str::to_string))
    };
    let mut groups: Vec<String> = Vec::new();
    for n in GROUPS {
        for g in claims.values(n) {
            if !groups.iter().any(|x| x == g) {
                groups.push(g.to_string());
            }
        }
    }
    let user = verified.name_id().value.clone();
    if user.is_empty() {
        return Err(IdentityRefusal("the assertion's NameID is empty".into()));
    }
    Ok(SessionIdentity {
        preferred_username: Some(user.clone()),
        user,
        email: first(EMAIL),
        name: first(NAME),
        access_group: String::new(),
        groups,
        extra: Vec::new(),
    })
}
