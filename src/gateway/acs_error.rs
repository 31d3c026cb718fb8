//! Why a POST to the ACS made no session: one variant per check, each carrying the values the
//! admin needs, a stable `kind()` for `samlgate_rejections_total{kind}`, and a `Display` that is
//! the log line. The browser sees none of it (see `errors::login_failed`).

use std::borrow::Cow;
use std::time::Duration;

use crate::mapping::MappingRefusal;
use crate::saml::rejection::Rejection;

use super::relay_state::RelayStateError;

/// What is wrong with the HTTP-POST binding's form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("SAMLResponse or RelayState appears more than once in the ACS form")]
    Duplicated,
    #[error("the ACS form has no SAMLResponse")]
    NoSamlResponse,
}

#[derive(Debug, thiserror::Error)]
pub enum AcsError {
    // What the sender brought: the generic "sign-in failed" page.
    #[error("ACS POST body unreadable or over {limit} bytes: {detail}")]
    Body { limit: usize, detail: String },
    #[error("ACS POST {0}")]
    BodyTooSlow(super::message_body::MessageBodyError),
    #[error(transparent)]
    Form(#[from] FormError),
    #[error(transparent)]
    RelayState(#[from] RelayStateError),
    #[error("the login was started for IdP {0:?}, which is no longer configured")]
    IdpGone(String),
    /// The Response failed a check of the trust core; `note` says which login it was taken for.
    #[error("{rejection}{note}")]
    Rejected {
        idp: String,
        rejection: Rejection,
        note: &'static str,
    },
    /// The Response failed its signature check just after the IdP's keys changed: the hint
    /// says when and which key signed it, so the admin knows it is the rotation.
    #[error("{rejection}; {hint}")]
    KeysChanged {
        idp: String,
        rejection: Rejection,
        hint: String,
    },
    /// Logins for this IdP are refused for now: its metadata expired or was never fetched.
    #[error("{reason}")]
    IdpNotReady { idp: String, reason: String },
    #[error("AuthnRequest {request_id} was already answered by a completed login: a replay")]
    RequestReplay { idp: String, request_id: String },
    #[error("{refusal}")]
    Mapping {
        idp: String,
        refusal: MappingRefusal,
    },
    #[error("SessionNotOnOrAfter {not_after} is not after now {now}")]
    SessionAlreadyOver {
        idp: String,
        not_after: String,
        now: String,
    },
    // Ours: 503, never a login without the check.
    #[error(
        "no ACS validation slot free within {waited:?} ({slots} running at once at most): answering 503"
    )]
    Busy { waited: Duration, slots: usize },
    #[error("{what} unavailable, refusing the login: {detail}")]
    Unavailable {
        idp: String,
        what: &'static str,
        detail: String,
    },
}

impl AcsError {
    /// Stable label for metrics.
    pub fn kind(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            AcsError::Body { .. } => "body_too_large",
            AcsError::BodyTooSlow(_) => "body_too_slow",
            AcsError::Form(_) => "malformed_form",
            AcsError::RelayState(e) => e.kind(),
            AcsError::IdpGone(_) => "unknown_idp",
            AcsError::Rejected { rejection, .. } | AcsError::KeysChanged { rejection, .. } => {
                rejection.kind()
            }
            AcsError::IdpNotReady { .. } => "idp_not_ready",
            AcsError::RequestReplay { .. } => "request_replay",
            AcsError::Mapping { refusal, .. } => {
                return Cow::Owned(format!("mapping_{}", refusal.kind()));
            }
            AcsError::SessionAlreadyOver { .. } => "session_not_on_or_after_passed",
            AcsError::Busy { .. } => "acs_busy",
            AcsError::Unavailable { .. } => "store_unavailable",
        })
    }

    /// The IdP's configured name, when the refusal came after the IdP was known.
    pub fn idp(&self) -> &str {
        match self {
            AcsError::IdpGone(idp)
            | AcsError::Rejected { idp, .. }
            | AcsError::KeysChanged { idp, .. }
            | AcsError::IdpNotReady { idp, .. }
            | AcsError::RequestReplay { idp, .. }
            | AcsError::Mapping { idp, .. }
            | AcsError::SessionAlreadyOver { idp, .. }
            | AcsError::Unavailable { idp, .. } => idp,
            AcsError::Body { .. }
            | AcsError::BodyTooSlow(_)
            | AcsError::Form(_)
            | AcsError::RelayState(_)
            | AcsError::Busy { .. } => "unknown",
        }
    }

    /// The gateway could not decide (busy, a store down): 503, and the browser may try again.
    pub fn is_ours(&self) -> bool {
        matches!(self, AcsError::Busy { .. } | AcsError::Unavailable { .. })
    }
}
