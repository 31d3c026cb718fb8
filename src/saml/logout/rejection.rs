//! Why a LogoutRequest or LogoutResponse was refused. The checks it shares with a Response
//! (XML, signature, times, Destination, status, decryption) keep the Response's own typed
//! [`Rejection`]; what only logout has gets its own variant. `Display` is the log line;
//! `kind()` the metrics label.

use crate::crypto::SignatureError;
use crate::saml::rejection::Rejection;

#[derive(Debug, thiserror::Error)]
pub enum LogoutRejection {
    #[error("{0}")]
    Binding(#[from] BindingFailure),
    #[error("{0}")]
    Saml(#[from] Rejection),
    #[error("root element is <{found}>, expected samlp:{expected}")]
    WrongMessage {
        expected: &'static str,
        found: String,
    },
    #[error("the {what} has no saml:Issuer, so no IdP can be chosen to check it")]
    NoIssuer { what: &'static str },
    #[error("the {what} comes from {found:?}, which is not a configured IdP")]
    UnknownIssuer { what: &'static str, found: String },
    #[error(
        "the {what} from {idp} is not signed (HTTP-Redirect: no Signature parameter; HTTP-POST: no ds:Signature); an unsigned logout is never acted on"
    )]
    Unsigned { what: &'static str, idp: String },
    #[error("the {what}'s HTTP-Redirect signature: {error}")]
    RedirectSignature {
        what: &'static str,
        error: SignatureError,
    },
    #[error("the {what}'s Destination {found:?} is not this gateway's logout endpoint {expected}")]
    DestinationMismatch {
        what: &'static str,
        found: String,
        expected: String,
    },
    #[error("the {what} has no Destination; a signed logout message must name {expected}")]
    DestinationMissing {
        what: &'static str,
        expected: String,
    },
    #[error("the LogoutRequest names its subject by saml:BaseID, which samlgate does not support")]
    BaseIdUnsupported,
    #[error("the LogoutRequest from {idp} has ID {id:?}, already acted on: a replay")]
    Replay { idp: String, id: String },
}

impl LogoutRejection {
    pub fn kind(&self) -> &'static str {
        match self {
            LogoutRejection::Binding(b) => b.kind(),
            LogoutRejection::Saml(r) => r.kind(),
            LogoutRejection::WrongMessage { .. } => "wrong_message",
            LogoutRejection::NoIssuer { .. } => "issuer_missing",
            LogoutRejection::UnknownIssuer { .. } => "issuer_unknown",
            LogoutRejection::Unsigned { .. } => "unsigned",
            LogoutRejection::RedirectSignature { error, .. } => error.kind(),
            LogoutRejection::DestinationMismatch { .. } => "destination_mismatch",
            LogoutRejection::DestinationMissing { .. } => "destination_missing",
            LogoutRejection::BaseIdUnsupported => "base_id_unsupported",
            LogoutRejection::Replay { .. } => "replay",
        }
    }
}

impl From<SignatureError> for LogoutRejection {
    fn from(e: SignatureError) -> Self {
        LogoutRejection::Saml(Rejection::Signature(e))
    }
}

impl From<crate::xml::XmlError> for LogoutRejection {
    fn from(e: crate::xml::XmlError) -> Self {
        LogoutRejection::Saml(e.into())
    }
}

/// The binding did not deliver one readable message.
#[derive(Debug, thiserror::Error)]
pub enum BindingFailure {
    #[error("neither SAMLRequest nor SAMLResponse came with the request")]
    NoMessage,
    #[error("both SAMLRequest and SAMLResponse came with the request")]
    BothMessages,
    #[error("{parameter} appears more than once")]
    Duplicated { parameter: String },
    #[error("Signature came without {parameter}")]
    Missing { parameter: &'static str },
    #[error("the message is {size} bytes, over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("the message is not valid base64: {0}")]
    Base64(String),
    #[error("the HTTP-Redirect message does not inflate (raw DEFLATE): {0}")]
    Inflate(String),
    #[error("the SOAP body's root is <{found}>, not a SOAP 1.1 Envelope")]
    NotSoap { found: String },
    #[error("the SOAP Envelope does not hold {what}")]
    SoapShape { what: &'static str },
}

impl BindingFailure {
    pub fn kind(&self) -> &'static str {
        match self {
            BindingFailure::NoMessage => "no_message",
            BindingFailure::BothMessages => "both_messages",
            BindingFailure::Duplicated { .. } => "duplicated_parameter",
            BindingFailure::Missing { .. } => "missing_parameter",
            BindingFailure::TooLarge { .. } => "too_large",
            BindingFailure::Base64(_) => "bad_base64",
            BindingFailure::Inflate(_) => "bad_deflate",
            BindingFailure::NotSoap { .. } => "not_soap",
            BindingFailure::SoapShape { .. } => "soap_shape",
        }
    }
}
