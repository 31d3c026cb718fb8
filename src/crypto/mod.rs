//! SAML-profile XML-DSig (verify and sign) and XML-Enc (decrypt), over the strict tree.

pub mod decrypt;
pub mod dsig;
pub mod keys;

pub use decrypt::DecryptionError;
pub use dsig::SignatureError;
pub use keys::{DecryptionKey, VerificationKey};
