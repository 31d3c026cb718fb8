//! XML Encryption: EncryptedAssertion / EncryptedID / EncryptedAttribute.
//! Interim: the API the pipeline calls, answering "not supported" until the decryptor lands.

use crate::crypto::keys::DecryptionKey;
use crate::saml::policy::IdpPolicy;
use crate::xml::ElementRef;

/// What the decryptor accepts, per IdP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncryptionPolicy {
    pub allow_cbc: bool,
    pub allow_3des: bool,
}

impl EncryptionPolicy {
    pub fn for_idp(idp: &IdpPolicy) -> Self {
        EncryptionPolicy {
            allow_cbc: idp.allow_cbc,
            allow_3des: idp.allow_3des,
        }
    }
}

/// A successful decryption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decrypted {
    pub plaintext: Vec<u8>,
    pub authenticated: bool,
    pub key_used: usize,
}

impl Decrypted {
    pub fn needs_covering_signature(&self) -> bool {
        !self.authenticated
    }
}

/// Why an encrypted element could not be decrypted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecryptionError {
    #[error("encrypted assertions are not supported yet")]
    NotSupported,
}

pub fn decrypt_element(
    _encrypted: ElementRef<'_>,
    _keys: &[DecryptionKey],
    _policy: &EncryptionPolicy,
) -> Result<Decrypted, DecryptionError> {
    Err(DecryptionError::NotSupported)
}
