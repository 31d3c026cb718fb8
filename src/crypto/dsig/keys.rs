//! Key selection: the IdP's configured keys are tried in turn (key rollover); a key in the
//! message is never read.

use super::SignatureError;
use crate::crypto::algorithms::SignatureAlgorithm;
use crate::crypto::keys::VerificationKey;
use crate::crypto::primitive;

/// Verify `signature` over `data` with each key in turn; the first that verifies wins. Used for
/// the SignedInfo and for the HTTP-Redirect binding's detached signature.
pub fn verify_with_any_key<'k>(
    algorithm: SignatureAlgorithm,
    keys: &'k [VerificationKey],
    data: &[u8],
    signature: &[u8],
) -> Result<(usize, &'k VerificationKey), SignatureError> {
    if keys.is_empty() {
        return Err(SignatureError::NoKeys);
    }
    // Filled only when a key fails: the first key verifies nearly always.
    let mut failures = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        match primitive::verify_bytes(algorithm, &key.key, data, signature) {
            Ok(()) => return Ok((index, key)),
            Err(e) => failures.push(format!("{}: {}", key.description, SignatureError::from(e))),
        }
    }
    Err(SignatureError::NoKeyVerified {
        tried: keys.len(),
        failures,
    })
}
