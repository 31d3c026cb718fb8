//! A typed refusal that names the failed check and the values compared.
//!
//! Grouped by who is at fault, as rustls does: the message is malformed, a signature failed,
//! a condition (time, audience, recipient) failed, our policy refuses it, or it is a replay.
//! `Display` is the log line an admin reads; `kind()` is a stable label for metrics.

use super::time::format_precise as fmt_time;
use time::OffsetDateTime;

use crate::crypto::{DecryptionError, SignatureError};
use crate::xml::{NotTextOnly, XmlError};

#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("malformed SAML message: {0}")]
    Malformed(#[from] Malformed),
    #[error("signature check failed: {0}")]
    Signature(#[from] SignatureError),
    #[error("{0}")]
    Conditions(#[from] ConditionFailure),
    #[error("{0}")]
    Policy(#[from] PolicyFailure),
    #[error("decryption failed: {0}")]
    Decryption(#[from] DecryptionError),
    #[error("replay: {0}")]
    Replay(#[from] ReplayFailure),
}

impl Rejection {
    /// A stable label for metrics (`samlgate_rejections_total{kind=...}`).
    pub fn kind(&self) -> &'static str {
        match self {
            Rejection::Malformed(m) => m.kind(),
            Rejection::Signature(s) => s.kind(),
            Rejection::Conditions(c) => c.kind(),
            Rejection::Policy(p) => p.kind(),
            Rejection::Decryption(_) => "decryption_failed",
            Rejection::Replay(_) => "replay",
        }
    }

    /// The group: malformed / signature / conditions / policy / decryption / replay.
    pub fn category(&self) -> &'static str {
        match self {
            Rejection::Malformed(_) => "malformed",
            Rejection::Signature(_) => "signature",
            Rejection::Conditions(_) => "conditions",
            Rejection::Policy(_) => "policy",
            Rejection::Decryption(_) => "decryption",
            Rejection::Replay(_) => "replay",
        }
    }
}

impl From<XmlError> for Rejection {
    fn from(e: XmlError) -> Self {
        Rejection::Malformed(Malformed::Xml(e))
    }
}

impl From<NotTextOnly> for Rejection {
    fn from(e: NotTextOnly) -> Self {
        Rejection::Malformed(Malformed::NotTextOnly(e))
    }
}

/// The message is not a well-formed SAML Response of the shape the profile allows.
#[derive(Debug, thiserror::Error)]
pub enum Malformed {
    #[error("SAMLResponse is {size} bytes, over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("SAMLResponse is not valid base64: {0}")]
    Base64(String),
    #[error("XML refused: {0}")]
    Xml(XmlError),
    #[error("{0}")]
    NotTextOnly(NotTextOnly),
    #[error("root element is <{found}>, expected samlp:Response")]
    NotAResponse { found: String },
    #[error("missing required {what}")]
    Missing { what: &'static str },
    #[error("{what} appears {count} times, exactly one is allowed")]
    NotExactlyOne { what: &'static str, count: usize },
    #[error("an Assertion appears where none is allowed: inside <{container}>")]
    AssertionOutOfPlace { container: String },
    #[error("ID {id:?} is used by more than one element")]
    DuplicateId { id: String },
    #[error("{what} {value:?} is not a valid xs:dateTime")]
    BadTime { what: &'static str, value: String },
    #[error("Version {0:?} is not 2.0")]
    BadVersion(String),
}

impl Malformed {
    pub fn kind(&self) -> &'static str {
        match self {
            Malformed::TooLarge { .. } => "too_large",
            Malformed::Base64(_) => "bad_base64",
            Malformed::Xml(_) => "bad_xml",
            Malformed::NotTextOnly(_) => "element_in_text",
            Malformed::NotAResponse { .. } => "not_a_response",
            Malformed::Missing { .. } => "missing_element",
            Malformed::NotExactlyOne { .. } => "not_exactly_one",
            Malformed::AssertionOutOfPlace { .. } => "assertion_out_of_place",
            Malformed::DuplicateId { .. } => "duplicate_id",
            Malformed::BadTime { .. } => "bad_time",
            Malformed::BadVersion(_) => "bad_version",
        }
    }
}

/// A time, audience, recipient or destination condition failed.
#[derive(Debug, thiserror::Error)]
pub enum ConditionFailure {
    #[error(
        "{what} NotBefore {} is after now {} (allowed skew {}s)",
        fmt_time(not_before),
        fmt_time(now),
        skew_secs
    )]
    NotYetValid {
        what: &'static str,
        not_before: OffsetDateTime,
        now: OffsetDateTime,
        skew_secs: i64,
    },
    #[error(
        "{what} NotOnOrAfter {} is before now {} (allowed skew {}s)",
        fmt_time(not_on_or_after),
        fmt_time(now),
        skew_secs
    )]
    Expired {
        what: &'static str,
        not_on_or_after: OffsetDateTime,
        now: OffsetDateTime,
        skew_secs: i64,
    },
    #[error(
        "{what} IssueInstant {} is in the future: now {} (allowed skew {}s)",
        fmt_time(issue_instant),
        fmt_time(now),
        skew_secs
    )]
    IssuedInFuture {
        what: &'static str,
        issue_instant: OffsetDateTime,
        now: OffsetDateTime,
        skew_secs: i64,
    },
    #[error(
        "{what} IssueInstant {} is too old: now {}, at most {}s allowed",
        fmt_time(issue_instant),
        fmt_time(now),
        max_age_secs
    )]
    IssuedTooLongAgo {
        what: &'static str,
        issue_instant: OffsetDateTime,
        now: OffsetDateTime,
        max_age_secs: i64,
    },
    #[error("Audience {found} does not match SP entityID {expected}")]
    AudienceMismatch { found: String, expected: String },
    #[error("Response Destination {found} does not match ACS URL {expected}")]
    DestinationMismatch { found: String, expected: String },
    #[error("Response is signed but has no Destination; expected {expected}")]
    DestinationMissing { expected: String },
    #[error("SubjectConfirmationData Recipient {found} does not match ACS URL {expected}")]
    RecipientMismatch { found: String, expected: String },
    #[error(
        "no bearer SubjectConfirmation satisfies the checks; the last one failed with: {reason}"
    )]
    NoValidSubjectConfirmation { reason: String },
    #[error("{what} InResponseTo {} does not match the request ID {expected}", found.as_deref().unwrap_or("(absent)"))]
    InResponseToMismatch {
        what: &'static str,
        found: Option<String>,
        expected: String,
    },
    #[error(
        "{what} carries InResponseTo {found:?} but this login was not requested by us (IdP-initiated)"
    )]
    UnsolicitedWithInResponseTo { what: &'static str, found: String },
}

impl ConditionFailure {
    pub fn kind(&self) -> &'static str {
        match self {
            ConditionFailure::NotYetValid { .. } => "not_yet_valid",
            ConditionFailure::Expired { .. } => "expired",
            ConditionFailure::IssuedInFuture { .. } => "issued_in_future",
            ConditionFailure::IssuedTooLongAgo { .. } => "issued_too_long_ago",
            ConditionFailure::AudienceMismatch { .. } => "audience_mismatch",
            ConditionFailure::DestinationMismatch { .. } => "destination_mismatch",
            ConditionFailure::DestinationMissing { .. } => "destination_missing",
            ConditionFailure::RecipientMismatch { .. } => "recipient_mismatch",
            ConditionFailure::NoValidSubjectConfirmation { .. } => "no_valid_subject_confirmation",
            ConditionFailure::InResponseToMismatch { .. } => "in_response_to_mismatch",
            ConditionFailure::UnsolicitedWithInResponseTo { .. } => "unsolicited_in_response_to",
        }
    }
}

/// The IdP's answer or the message's shape is refused by our policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyFailure {
    #[error("IdP answered status {code}{}{}", sub_code.as_ref().map(|s| format!(" / {s}")).unwrap_or_default(), message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    StatusNotSuccess {
        code: String,
        sub_code: Option<String>,
        message: Option<String>,
    },
    #[error("{what} Issuer {found:?} does not match the IdP entityID {expected}")]
    IssuerMismatch {
        what: &'static str,
        found: String,
        expected: String,
    },
    #[error("neither the Response nor the Assertion is signed")]
    Unsigned,
    #[error("the IdP policy requires a signed Assertion, but only the Response is signed")]
    AssertionNotSigned,
    #[error("the IdP policy requires a signed Response, but it is not signed")]
    ResponseNotSigned,
    #[error(
        "an IdP-initiated Response (no login started here) arrived, and no configured IdP allows IdP-initiated login ([[idp]] allow_idp_initiated)"
    )]
    UnsolicitedNotAllowed,
    #[error("the Assertion has no AuthnStatement")]
    NoAuthnStatement,
    #[error("the Assertion has no bearer SubjectConfirmation")]
    NoBearerConfirmation,
    #[error("the Assertion has no Conditions with an AudienceRestriction")]
    NoAudienceRestriction,
    #[error("the Assertion was encrypted with AES-CBC (no integrity) and no signature covers it")]
    UnauthenticatedEncryptionUnsigned,
    #[error("the IdP has no signing key configured; refusing every response")]
    NoSigningKey,
    #[error("{0}")]
    Unsupported(String),
}

impl PolicyFailure {
    pub fn kind(&self) -> &'static str {
        match self {
            PolicyFailure::StatusNotSuccess { .. } => "status_not_success",
            PolicyFailure::IssuerMismatch { .. } => "issuer_mismatch",
            PolicyFailure::Unsigned => "unsigned",
            PolicyFailure::AssertionNotSigned => "assertion_not_signed",
            PolicyFailure::ResponseNotSigned => "response_not_signed",
            PolicyFailure::UnsolicitedNotAllowed => "unsolicited_not_allowed",
            PolicyFailure::NoAuthnStatement => "no_authn_statement",
            PolicyFailure::NoBearerConfirmation => "no_bearer_confirmation",
            PolicyFailure::NoAudienceRestriction => "no_audience_restriction",
            PolicyFailure::NoSigningKey => "no_signing_key",
            PolicyFailure::UnauthenticatedEncryptionUnsigned => "cbc_without_signature",
            PolicyFailure::Unsupported(_) => "unsupported",
        }
    }
}

/// The Assertion was seen before.
#[derive(Debug, thiserror::Error)]
#[error("Assertion {assertion_id} from {idp} was already used")]
pub struct ReplayFailure {
    pub idp: String,
    pub assertion_id: String,
}
