//! VerifiedAssertion -> the identity kept in the session, through the IdP's mapping table.

use crate::config::Idp;
use crate::mapping::{self, MappingRefusal};
use crate::saml::VerifiedAssertion;

use super::headers::Identity;
use super::session::SessionIdentity;
use super::shared_text::{Groups, Text};

/// Map a verified login, writing the mapping's audit line (or its refusal's).
pub fn map(idp: &Idp, verified: &VerifiedAssertion) -> Result<SessionIdentity, MappingRefusal> {
    match mapping::apply(&idp.mapping, verified) {
        Ok(mapped) => {
            mapping::audit(&mapped);
            let op = mapped.operator;
            let user = Text::from(op.id);
            Ok(SessionIdentity {
                preferred_username: Some(user.clone()),
                user,
                email: op.email.map(Text::from),
                name: op.name.map(Text::from),
                access_group: op.access_group,
                groups: Groups::from(op.groups),
                extra: op.extra,
            })
        }
        Err(refusal) => {
            mapping::audit_refusal(&verified.claims, &refusal);
            Err(refusal)
        }
    }
}

impl From<&SessionIdentity> for Identity {
    fn from(s: &SessionIdentity) -> Self {
        let text = |t: &Option<Text>| t.as_ref().map(|t| t.to_string());
        Identity {
            user: s.user.to_string(),
            email: text(&s.email),
            preferred_username: text(&s.preferred_username),
            groups: s.groups.to_vec(),
            access_group: s.access_group.clone(),
            name: text(&s.name),
            extra: s.extra.clone(),
        }
    }
}
