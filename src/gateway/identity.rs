//! VerifiedAssertion -> the identity kept in the session, through the IdP's mapping table.

use crate::config::Idp;
use crate::mapping::{self, MappingRefusal};
use crate::saml::VerifiedAssertion;

use crate::identity::Operator;
use crate::identity::shared_text::{Groups, Text};

/// Map a verified login, writing the mapping's audit line (or its refusal's).
pub fn map(idp: &Idp, verified: &VerifiedAssertion) -> Result<Operator, MappingRefusal> {
    match mapping::apply(&idp.mapping, verified) {
        Ok(mapped) => {
            mapping::audit(&mapped);
            let op = mapped.operator;
            let user = Text::from(op.id);
            Ok(Operator {
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
