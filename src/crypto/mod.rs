//! SAML-profile XML-DSig (verify and sign) and XML-Enc (decrypt), over the strict tree; JWS
//! signature algorithms for access tokens ([`jws`]) and the identity token's signing key
//! ([`jws_key`]).

pub mod algorithms;
pub mod decrypt;
pub mod dsig;
pub mod enc_algorithms;
pub mod encrypt;
pub mod jws;
pub mod jws_key;
pub mod keygen;
pub mod keys;
pub mod primitive;
pub mod sign;

pub use algorithms::{AlgorithmError, DigestAlgorithm, SignatureAlgorithm};
pub use decrypt::DecryptionError;
pub use dsig::{SignatureError, VerifiedSignature};
pub use keys::{DecryptionKey, VerificationKey};
pub use primitive::PrimitiveError;
pub use sign::SignError;

#[cfg(test)]
pub(crate) mod test_fixtures;
