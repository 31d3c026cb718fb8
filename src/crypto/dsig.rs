//! SAML-profile XML signature verification and signing (to be written).

/// Why a signature was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature verification is not implemented yet")]
    NotImplemented,
}

impl SignatureError {
    pub fn kind(&self) -> &'static str {
        "signature_not_implemented"
    }
}
