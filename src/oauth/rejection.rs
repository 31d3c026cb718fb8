//! Why an access token was refused: one variant per check, each carrying the values it
//! compared, so the log line (and `samlgate verify --token`) says exactly what failed. The
//! client is told only [`TokenRejection::safe_description`].

use super::compact::CompactError;
use crate::crypto::jws::{JwsAlgorithmError, JwsVerifyError};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    #[error("malformed token: {0}")]
    Malformed(#[from] CompactError),
    #[error("the token has no \"iss\" claim (a string)")]
    NoIssuer,
    #[error("issuer {iss:?} is not a configured [[oauth]] issuer (configured: {known:?})")]
    UnknownIssuer { iss: String, known: Vec<String> },
    #[error("algorithm refused: {0}")]
    Algorithm(#[from] JwsAlgorithmError),
    #[error("algorithm {alg} is not allowed for issuer {issuer} (allowed: {allowed})")]
    AlgorithmNotAllowed {
        alg: String,
        issuer: String,
        allowed: String,
    },
    #[error("the token header has no \"alg\" (a string)")]
    NoAlgorithm,
    #[error("the token header has no \"kid\": the signing key cannot be looked up")]
    NoKid,
    #[error("the token header marks extensions critical ({crit}), none of which is understood")]
    Critical { crit: String },
    #[error("the token type (header \"typ\") is {typ:?}; expected {want} (RFC 9068 access token)")]
    Type { typ: Option<String>, want: String },
    #[error("unknown kid {kid:?}: the key set of {issuer} from {keys_from} has {known:?}")]
    UnknownKid {
        kid: String,
        issuer: String,
        keys_from: String,
        known: Vec<String>,
    },
    #[error("the key {kid:?} is for {key_alg}, the token says {alg}")]
    KeyAlgorithm {
        kid: String,
        key_alg: String,
        alg: String,
    },
    #[error("the signature does not verify with key {kid:?} ({alg}): {detail}")]
    Signature {
        kid: String,
        alg: String,
        detail: JwsVerifyError,
    },
    #[error("audience mismatch: the token's aud {have:?}, ours {want:?}")]
    Audience {
        have: Vec<String>,
        want: Vec<String>,
    },
    #[error("expired: exp {exp} ({exp_text}), now {now} ({now_text}), clock skew allowed {skew}s")]
    Expired {
        exp: i64,
        exp_text: String,
        now: i64,
        now_text: String,
        skew: i64,
    },
    #[error(
        "not yet valid: nbf {nbf} ({nbf_text}), now {now} ({now_text}), clock skew allowed {skew}s"
    )]
    NotYetValid {
        nbf: i64,
        nbf_text: String,
        now: i64,
        now_text: String,
        skew: i64,
    },
    #[error(
        "issued in the future: iat {iat} ({iat_text}), now {now} ({now_text}), clock skew allowed {skew}s"
    )]
    IssuedInFuture {
        iat: i64,
        iat_text: String,
        now: i64,
        now_text: String,
        skew: i64,
    },
    #[error(
        "the issuer's introspection endpoint says the token is not active (expired, revoked or unknown)"
    )]
    Inactive,
    #[error("the token has no {claim:?} claim")]
    MissingClaim { claim: &'static str },
    #[error("the token's {claim:?} claim is not {expected}")]
    ClaimType {
        claim: &'static str,
        expected: &'static str,
    },
}

impl TokenRejection {
    /// A short label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            TokenRejection::Malformed(_) => "malformed",
            TokenRejection::NoIssuer | TokenRejection::UnknownIssuer { .. } => "issuer",
            TokenRejection::Algorithm(_)
            | TokenRejection::AlgorithmNotAllowed { .. }
            | TokenRejection::NoAlgorithm
            | TokenRejection::KeyAlgorithm { .. } => "algorithm",
            TokenRejection::NoKid | TokenRejection::UnknownKid { .. } => "unknown_key",
            TokenRejection::Critical { .. } | TokenRejection::Type { .. } => "header",
            TokenRejection::Signature { .. } => "signature",
            TokenRejection::Audience { .. } => "audience",
            TokenRejection::Expired { .. } => "expired",
            TokenRejection::NotYetValid { .. } | TokenRejection::IssuedInFuture { .. } => {
                "not_yet_valid"
            }
            TokenRejection::MissingClaim { .. } | TokenRejection::ClaimType { .. } => "claims",
            TokenRejection::Inactive => "inactive",
        }
    }

    /// What the client may be told (RFC 6750 `error_description`): which check failed, never
    /// the values compared nor the keys known.
    pub fn safe_description(&self) -> &'static str {
        match self.kind() {
            "malformed" => "the access token is malformed",
            "issuer" => "the access token's issuer is not trusted",
            "algorithm" => "the access token's signature algorithm is not accepted",
            "unknown_key" => "the access token's signing key is not known",
            "header" => "the access token's header is not accepted",
            "signature" => "the access token's signature does not verify",
            "audience" => "the access token is not for this audience",
            "expired" => "the access token expired",
            "not_yet_valid" => "the access token is not valid yet",
            "inactive" => "the access token is not active",
            _ => "the access token lacks a required claim",
        }
    }
}
