//! XML Encryption: EncryptedAssertion / EncryptedID / EncryptedAttribute (to be written).

/// Why an encrypted element could not be decrypted. To the sender every variant looks the same
/// (see `Rejection::public_kind`); the log keeps the precise cause.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecryptionError {
    #[error("encrypted assertions are not supported yet")]
    NotSupported,
}
