//! What a verified Assertion says, in SAML's words. Only the ACS pipeline builds a
//! [`VerifiedAssertion`], so a function that takes one can only ever see verified data.

use serde::Serialize;
use time::OffsetDateTime;

/// The Subject's NameID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NameId {
    pub value: String,
    pub format: Option<String>,
    pub name_qualifier: Option<String>,
    pub sp_name_qualifier: Option<String>,
}

/// One `saml:Attribute` with all its values (text only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SamlAttribute {
    pub name: String,
    pub name_format: Option<String>,
    pub friendly_name: Option<String>,
    pub values: Vec<String>,
}

/// Which parts of the message carried a signature that verified.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SignedParts {
    pub response: bool,
    pub assertion: bool,
}

/// The identity facts the mapping table reads: NameID and attributes, with the IdP they came
/// from. Built from a [`VerifiedAssertion`], or from plain JSON by `samlgate mapping test`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Claims {
    pub idp_entity_id: String,
    pub name_id: NameId,
    pub attributes: Vec<SamlAttribute>,
}

impl Claims {
    /// All values of the attributes whose Name or FriendlyName is `name`.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attributes
            .iter()
            .filter(move |a| a.name == name || a.friendly_name.as_deref() == Some(name))
            .flat_map(|a| a.values.iter().map(String::as_str))
    }
}

/// An Assertion that passed every check of the ACS pipeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifiedAssertion {
    pub claims: Claims,
    /// The Assertion's ID: the replay cache key, with the IdP entityID.
    pub assertion_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub issue_instant: OffsetDateTime,
    /// The request this answers; `None` for IdP-initiated login.
    pub in_response_to: Option<String>,
    pub session_index: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub authn_instant: Option<OffsetDateTime>,
    pub authn_context_class_ref: Option<String>,
    /// The IdP's bound on the session (`AuthnStatement/@SessionNotOnOrAfter`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub session_not_on_or_after: Option<OffsetDateTime>,
    /// The earliest NotOnOrAfter among Conditions and the bearer SubjectConfirmationData,
    /// plus the allowed skew: until then the Assertion ID must stay in the replay cache.
    #[serde(with = "time::serde::rfc3339")]
    pub replay_until: OffsetDateTime,
    pub signed: SignedParts,
    /// True when the Assertion arrived as an EncryptedAssertion.
    pub was_encrypted: bool,
    pub(crate) _sealed: Sealed,
}

/// Private marker: only this crate can build a [`VerifiedAssertion`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sealed(());

impl Serialize for Sealed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_unit()
    }
}

impl VerifiedAssertion {
    pub fn idp_entity_id(&self) -> &str {
        &self.claims.idp_entity_id
    }

    pub fn name_id(&self) -> &NameId {
        &self.claims.name_id
    }
}
