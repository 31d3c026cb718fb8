//! Why a signature was refused, one variant per check, and the stable kinds metrics count.

use crate::crypto::algorithms::{AlgorithmError, SignatureAlgorithm, uri};
use crate::crypto::primitive::PrimitiveError;
use crate::xml::c14n::C14nError;

/// Why a signature was refused. Every variant carries the values an admin needs to see which
/// check failed and on what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no IdP verification key is configured, so no signature can be accepted")]
    NoKeys,
    #[error("internal error: the element to verify does not belong to the document given")]
    ForeignElement,
    #[error("<{element}> carries no ds:Signature child")]
    Missing { element: String },
    #[error("<{element}> carries {count} ds:Signature children; exactly one is allowed")]
    MultipleSignatures { element: String, count: usize },
    #[error("signed element <{element}> has no (or an empty) ID attribute")]
    MissingId { element: String },
    #[error("ID {id:?} appears on more than one element of the document")]
    DuplicateId { id: String },
    #[error(transparent)]
    Algorithm(#[from] AlgorithmError),
    #[error("unexpected element <{element}> in <{parent}>")]
    UnexpectedElement { parent: String, element: String },
    #[error("<{parent}> lacks its required <{element}> child")]
    MissingElement { parent: String, element: String },
    #[error("<{element}> inside ds:Signature is refused (SAML signatures never need it)")]
    ForbiddenElement { element: String },
    #[error("<{element}> lacks its required {attribute} attribute")]
    MissingAttribute { element: String, attribute: String },
    #[error(
        "canonicalization {uri} is refused; only exclusive c14n without comments ({})",
        uri::EXC_C14N
    )]
    UnsupportedCanonicalization { uri: String },
    #[error("ds:SignedInfo holds {count} ds:Reference elements; exactly one is allowed")]
    ReferenceCount { count: usize },
    #[error("ds:Reference has no URI attribute; it must be \"#{expected_id}\"")]
    ReferenceUriMissing { expected_id: String },
    #[error("ds:Reference URI is empty (whole document); it must be \"#{expected_id}\"")]
    EmptyReferenceUri { expected_id: String },
    #[error("ds:Reference URI {uri:?} is an XPointer expression; it must be \"#{expected_id}\"")]
    XPointerReference { uri: String, expected_id: String },
    #[error(
        "ds:Reference URI {uri:?} does not point at the signed element, whose ID is {expected_id:?}"
    )]
    ReferenceMismatch { uri: String, expected_id: String },
    #[error(
        "ds:Reference has {count} transforms; exactly enveloped-signature then exclusive c14n are required"
    )]
    TransformCount { count: usize },
    #[error(
        "ds:Reference transform {position} is {uri}; only enveloped-signature then exclusive c14n are accepted"
    )]
    UnexpectedTransform { position: usize, uri: String },
    #[error("<{element}> is not valid base64: {reason}")]
    InvalidBase64 { element: String, reason: String },
    #[error("digest mismatch for Reference {reference}: the signed content was altered")]
    DigestMismatch { reference: String },
    #[error(
        "InclusiveNamespaces PrefixList holds {count} tokens, over the limit of {limit} (IdPs list a few prefixes)"
    )]
    PrefixListTooLong { count: usize, limit: usize },
    #[error(
        "InclusiveNamespaces PrefixList token {token:?} is neither a namespace prefix nor #default"
    )]
    PrefixListToken { token: String },
    #[error("<{element}> holds {length} characters, over the limit of {limit}")]
    ValueTooLong {
        element: String,
        length: usize,
        limit: usize,
    },
    #[error("canonicalization failed: {0}")]
    Canonicalization(#[from] C14nError),
    #[error("signature algorithm {algorithm} needs another kind of key; this key is {key_type}")]
    KeyTypeMismatch {
        algorithm: SignatureAlgorithm,
        key_type: String,
    },
    #[error(
        "ECDSA signature value is {length} bytes; this key's curve needs exactly {expected} (raw r||s)"
    )]
    EcdsaLength { length: usize, expected: usize },
    #[error("{algorithm} signature value does not verify with this key")]
    Invalid { algorithm: SignatureAlgorithm },
    #[error("no configured key verified the SignatureValue (tried {tried} keys: {})", failures.join("; "))]
    NoKeyVerified { tried: usize, failures: Vec<String> },
    #[error("cryptographic library error: {0}")]
    Crypto(String),
}

impl SignatureError {
    /// A stable snake_case label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            SignatureError::NoKeys => "signature_no_keys",
            SignatureError::ForeignElement => "signature_internal_error",
            SignatureError::Missing { .. } => "signature_missing",
            SignatureError::MultipleSignatures { .. } => "signature_multiple",
            SignatureError::MissingId { .. } => "signature_signed_element_without_id",
            SignatureError::DuplicateId { .. } => "signature_duplicate_id",
            SignatureError::Algorithm(a) => a.kind(),
            SignatureError::UnexpectedElement { .. } => "signature_unexpected_element",
            SignatureError::MissingElement { .. } => "signature_missing_element",
            SignatureError::ForbiddenElement { .. } => "signature_forbidden_element",
            SignatureError::MissingAttribute { .. } => "signature_missing_attribute",
            SignatureError::UnsupportedCanonicalization { .. } => {
                "signature_canonicalization_refused"
            }
            SignatureError::ReferenceCount { .. } => "signature_reference_count",
            SignatureError::ReferenceUriMissing { .. } => "signature_reference_uri_missing",
            SignatureError::EmptyReferenceUri { .. } => "signature_reference_uri_empty",
            SignatureError::XPointerReference { .. } => "signature_reference_xpointer",
            SignatureError::ReferenceMismatch { .. } => "signature_reference_mismatch",
            SignatureError::TransformCount { .. } => "signature_transform_count",
            SignatureError::UnexpectedTransform { .. } => "signature_transform_refused",
            SignatureError::InvalidBase64 { .. } => "signature_invalid_base64",
            SignatureError::DigestMismatch { .. } => "signature_digest_mismatch",
            SignatureError::PrefixListTooLong { .. } => "signature_prefix_list_too_long",
            SignatureError::PrefixListToken { .. } => "signature_prefix_list_invalid",
            SignatureError::ValueTooLong { .. } => "signature_value_too_long",
            SignatureError::Canonicalization(C14nError::TooLarge { .. }) => {
                "signature_canonical_form_too_large"
            }
            SignatureError::Canonicalization(C14nError::NotAnElement(_)) => {
                "signature_canonicalization_failed"
            }
            SignatureError::KeyTypeMismatch { .. } => "signature_key_type_mismatch",
            SignatureError::EcdsaLength { .. } => "signature_ecdsa_length",
            SignatureError::Invalid { .. } => "signature_invalid",
            SignatureError::NoKeyVerified { .. } => "signature_no_key_verified",
            SignatureError::Crypto(_) => "signature_crypto_error",
        }
    }
}

/// The primitive's refusals, as the verifier names them (same wording, same kinds).
impl From<PrimitiveError> for SignatureError {
    fn from(e: PrimitiveError) -> Self {
        match e {
            PrimitiveError::KeyTypeMismatch {
                algorithm,
                key_type,
            } => SignatureError::KeyTypeMismatch {
                algorithm,
                key_type,
            },
            PrimitiveError::EcdsaLength { length, expected } => {
                SignatureError::EcdsaLength { length, expected }
            }
            PrimitiveError::Invalid { algorithm } => SignatureError::Invalid { algorithm },
            PrimitiveError::UnusableKey(reason) | PrimitiveError::Crypto(reason) => {
                SignatureError::Crypto(reason)
            }
        }
    }
}
