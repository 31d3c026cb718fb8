//! VerifiedAssertion -> the identity kept in the session, through the IdP's mapping table.

use crate::config::Idp;
use crate::mapping::{self, MappingRefusal};
use crate::saml::VerifiedAssertion;

use super::headers::Identity;
use super::session::SessionIdentity;

/// Map a verified login, writing the mapping's audit line (or its refusal's).
pub fn map(idp: &Idp, verified: &VerifiedAssertion) -> Result<SessionIdentity, MappingRefusal> {
    match mapping::apply(&idp.mapping, verified) {
        Ok(mapped) => {
            mapping::audit(&mapped);
            let op = mapped.operator;
            Ok(SessionIdentity {
                preferred_username: Some(op.id.clone()),
                user: op.id,
                email: op.email,
                name: op.name,
                access_group: op.access_group,
                groups: op.groups,
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
        Identity {
            user: s.user.clone(),
            email: s.email.clone(),
            preferred_username: s.preferred_username.clone(),
            groups: s.groups.clone(),
            access_group: s.access_group.clone(),
            name: s.name.clone(),
            extra: s.extra.clone(),
        }
    }
}
