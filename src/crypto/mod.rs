//! SAML-profile XML-DSig (verify and sign) and XML-Enc (decrypt), over the strict tree.

pub mod keys;
pub mod dsig;
pub mod decrypt;

pub use dsig::SignatureError;
pub use decrypt::DecryptionError;
pub use keys::{DecryptionKey, VerificationKey};
