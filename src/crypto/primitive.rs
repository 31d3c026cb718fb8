//! The signature primitives: signing and verifying bytes with an allow-listed algorithm, under
//! XML-DSig's SignatureValue and the HTTP-Redirect binding's `Signature` parameter. They know
//! nothing of XML; their refusals are [`PrimitiveError`], which `dsig` and `sign` turn into their
//! own errors.
//!
//! Both wire formats carry ECDSA signatures as raw `r || s`, each half left-padded to the
//! curve's field size (XML-DSig 1.1 section 6.4.3; SAML bindings 3.4.4.1 reuses the URIs),
//! while OpenSSL speaks DER. The conversion lives here and nowhere else.
//!
//! RSASSA-PKCS1-v1_5 verification does not go through OpenSSL's `EVP_DigestVerify*`: on
//! OpenSSL 3 that layer fetches the algorithm from its providers and sets up a context on every
//! call, which the ACS pays twice per Response (both signatures), and measured over a whole
//! Response validation it costs more than the rule allows (docs/performance.md). It is done as
//! RFC 8017 section 8.2.2 says instead: the raw public operation, then the expected encoded
//! message is built from the digest and compared whole. The decrypted block is never parsed,
//! which is what keeps the Bleichenbacher-2006 forgeries (short padding, garbage after the
//! digest or in the DigestInfo) out; the tests forge each shape and check that both this path
//! and OpenSSL's EVP verifier refuse it.

use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::pkey::{HasPublic, Id, PKeyRef, Private};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer, Verifier};

use super::algorithms::{HashFunction, SignatureAlgorithm, SignatureScheme};

/// Why bytes could not be signed, or why a signature over bytes is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrimitiveError {
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
    #[error("key unusable: {0}")]
    UnusableKey(String),
    #[error("cryptographic library error: {0}")]
    Crypto(String),
}

/// Sign `data` with `key` under `algorithm`, in the wire format (raw `r || s` for ECDSA).
pub fn sign_bytes(
    algorithm: SignatureAlgorithm,
    key: &PKeyRef<Private>,
    data: &[u8],
) -> Result<Vec<u8>, PrimitiveError> {
    check_key_type(algorithm, key)?;
    let crypto = |e: openssl::error::ErrorStack| PrimitiveError::Crypto(e.to_string());
    let md = algorithm.hash().message_digest();
    let mut signer = Signer::new(md, key).map_err(crypto)?;
    if algorithm.scheme() == SignatureScheme::RsaPss {
        signer.set_rsa_padding(Padding::PKCS1_PSS).map_err(crypto)?;
        signer
            .set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
            .map_err(crypto)?;
        signer.set_rsa_mgf1_md(md).map_err(crypto)?;
    }
    signer.update(data).map_err(crypto)?;
    let signature = signer.sign_to_vec().map_err(crypto)?;
    if algorithm.scheme() != SignatureScheme::Ecdsa {
        return Ok(signature);
    }
    let half = ecdsa_half_len(key)?;
    let half = i32::try_from(half)
        .map_err(|_| PrimitiveError::UnusableKey(format!("curve field size {half} is absurd")))?;
    let der = EcdsaSig::from_der(&signature).map_err(crypto)?;
    let mut raw = der.r().to_vec_padded(half).map_err(crypto)?;
    raw.extend(der.s().to_vec_padded(half).map_err(crypto)?);
    Ok(raw)
}

/// Verify a wire-format `signature` over `data` with one key.
pub fn verify_bytes<T: HasPublic>(
    algorithm: SignatureAlgorithm,
    key: &PKeyRef<T>,
    data: &[u8],
    signature: &[u8],
) -> Result<(), PrimitiveError> {
    check_key_type(algorithm, key)?;
    if algorithm.scheme() == SignatureScheme::RsaPkcs1 {
        return verify_rsa_pkcs1(algorithm, key, data, signature);
    }
    verify_evp(algorithm, key, data, signature)
}

/// RSASSA-PKCS1-v1_5 verification, RFC 8017 section 8.2.2: `m = s^e mod n`, EM = I2OSP(m, k),
/// EM' = EMSA-PKCS1-v1_5-ENCODE(data, k), accept only if EM == EM'. Accepts exactly what
/// OpenSSL's `RSA_verify` accepts (it also encodes and compares), without the EVP overhead.
fn verify_rsa_pkcs1<T: HasPublic>(
    algorithm: SignatureAlgorithm,
    key: &PKeyRef<T>,
    data: &[u8],
    signature: &[u8],
) -> Result<(), PrimitiveError> {
    let crypto = |e: openssl::error::ErrorStack| PrimitiveError::Crypto(e.to_string());
    let invalid = || PrimitiveError::Invalid { algorithm };
    // EVP_PKEY_get1_RSA: the first call on a key converts it once and OpenSSL caches the
    // result in the EVP_PKEY; later calls only take a reference, so no cache of ours.
    let rsa = key.rsa().map_err(crypto)?;
    let k = usize::try_from(rsa.size()).map_err(|_| invalid())?;
    // Step 1: the signature is exactly k octets. This also sizes `public_decrypt`'s output.
    if signature.len() != k {
        return Err(invalid());
    }
    let mut em = vec![0u8; k];
    // Step 2: RSAVP1 without padding removal. An error (s >= n, say) means "does not verify";
    // building the ErrorStack drains OpenSSL's error queue.
    let em_len = rsa
        .public_decrypt(signature, &mut em, Padding::NONE)
        .map_err(|_| invalid())?;
    if em_len != k {
        return Err(invalid());
    }
    // Step 3: the encoding we expect, then one comparison of the whole block.
    let hash = algorithm.hash();
    let digest = hash.digest(data).map_err(crypto)?;
    let Some(expected) = emsa_pkcs1_v1_5_encode(hash, &digest, k) else {
        return Err(invalid());
    };
    // Step 4. `memcmp::eq` panics on unequal lengths: both are k by construction, checked anyway.
    if expected.len() == em.len() && openssl::memcmp::eq(&expected, &em) {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// EMSA-PKCS1-v1_5-ENCODE (RFC 8017 section 9.2) of an already computed digest into `k`
/// octets: `0x00 0x01 || PS (0xFF...) || 0x00 || DigestInfo prefix || digest`. None when the
/// modulus is too short for at least 8 octets of PS ("intended encoded message length too
/// short"): no signature verifies under such a key.
fn emsa_pkcs1_v1_5_encode(hash: HashFunction, digest: &[u8], k: usize) -> Option<Vec<u8>> {
    let prefix = digest_info_prefix(hash);
    let t_len = prefix.len().checked_add(digest.len())?;
    let ps_len = k.checked_sub(3)?.checked_sub(t_len)?;
    if ps_len < 8 {
        return None;
    }
    let mut em = Vec::with_capacity(k);
    em.extend_from_slice(&[0x00, 0x01]);
    em.extend(std::iter::repeat_n(0xFF, ps_len));
    em.push(0x00);
    em.extend_from_slice(prefix);
    em.extend_from_slice(digest);
    Some(em)
}

/// The DER of `DigestInfo { AlgorithmIdentifier { hash OID, NULL }, OCTET STRING (len) }` up to
/// the digest itself, RFC 8017 section 9.2 note 1 (the same bytes OpenSSL's `encode_pkcs1`
/// produces; the form without the NULL parameters is refused, as OpenSSL refuses it).
fn digest_info_prefix(hash: HashFunction) -> &'static [u8] {
    match hash {
        HashFunction::Sha1 => &[
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ],
        HashFunction::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        HashFunction::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        HashFunction::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    }
}

/// Verification through OpenSSL's `Verifier` (EVP): RSA-PSS and ECDSA, and the reference the
/// PKCS#1 v1.5 path is checked against in the tests.
fn verify_evp<T: HasPublic>(
    algorithm: SignatureAlgorithm,
    key: &PKeyRef<T>,
    data: &[u8],
    signature: &[u8],
) -> Result<(), PrimitiveError> {
    let crypto = |e: openssl::error::ErrorStack| PrimitiveError::Crypto(e.to_string());
    let der;
    let signature = if algorithm.scheme() == SignatureScheme::Ecdsa {
        der = ecdsa_raw_to_der(key, signature)?;
        der.as_slice()
    } else {
        signature
    };
    let md = algorithm.hash().message_digest();
    let mut verifier = Verifier::new(md, key).map_err(crypto)?;
    if algorithm.scheme() == SignatureScheme::RsaPss {
        verifier
            .set_rsa_padding(Padding::PKCS1_PSS)
            .map_err(crypto)?;
        // DIGEST_LENGTH makes OpenSSL insist on exactly that salt length, as RFC 6931 fixes it.
        verifier
            .set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
            .map_err(crypto)?;
        verifier.set_rsa_mgf1_md(md).map_err(crypto)?;
    }
    verifier.update(data).map_err(crypto)?;
    // A malformed value makes OpenSSL report an error rather than `false`; both mean "does not
    // verify", and the error queue is drained by `verify` either way.
    match verifier.verify(signature) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(PrimitiveError::Invalid { algorithm }),
    }
}

/// The algorithm's key family must match the key: an RSA signature is never checked with an EC
/// key or the other way round, whatever OpenSSL would make of it.
fn check_key_type<T>(
    algorithm: SignatureAlgorithm,
    key: &PKeyRef<T>,
) -> Result<(), PrimitiveError> {
    let id = key.id();
    let fits = match algorithm.scheme() {
        SignatureScheme::RsaPkcs1 => id == Id::RSA,
        SignatureScheme::RsaPss => id == Id::RSA || id == Id::RSA_PSS,
        SignatureScheme::Ecdsa => id == Id::EC,
    };
    if fits {
        Ok(())
    } else {
        Err(PrimitiveError::KeyTypeMismatch {
            algorithm,
            key_type: key_type_name(id),
        })
    }
}

fn key_type_name(id: Id) -> String {
    match id {
        Id::RSA => "RSA".to_string(),
        Id::RSA_PSS => "RSA-PSS".to_string(),
        Id::EC => "EC".to_string(),
        Id::ED25519 => "Ed25519".to_string(),
        Id::ED448 => "Ed448".to_string(),
        Id::DSA => "DSA".to_string(),
        other => format!("OpenSSL key type {}", other.as_raw()),
    }
}

/// Length in bytes of one of `r`, `s` for the key's curve: the field size, rounded up to bytes
/// (32 for P-256, 48 for P-384, 66 for P-521).
fn ecdsa_half_len<T: HasPublic>(key: &PKeyRef<T>) -> Result<usize, PrimitiveError> {
    let ec = key
        .ec_key()
        .map_err(|e| PrimitiveError::UnusableKey(e.to_string()))?;
    let bits = ec.group().degree();
    usize::try_from(bits.div_ceil(8))
        .map_err(|_| PrimitiveError::UnusableKey(format!("curve degree {bits} is absurd")))
}

/// Raw `r || s` to DER. The value must be exactly twice the field size: a value cut short or
/// padded further is not what the specification allows, and accepting several encodings of one
/// signature only helps an attacker.
fn ecdsa_raw_to_der<T: HasPublic>(key: &PKeyRef<T>, raw: &[u8]) -> Result<Vec<u8>, PrimitiveError> {
    let half = ecdsa_half_len(key)?;
    let expected = half.saturating_mul(2);
    if raw.len() != expected {
        return Err(PrimitiveError::EcdsaLength {
            length: raw.len(),
            expected,
        });
    }
    // infallible: the length was just checked to be exactly 2 * half.
    let Some((r, s)) = raw.split_at_checked(half) else {
        return Err(PrimitiveError::EcdsaLength {
            length: raw.len(),
            expected,
        });
    };
    let crypto = |e: openssl::error::ErrorStack| PrimitiveError::Crypto(e.to_string());
    let r = BigNum::from_slice(r).map_err(crypto)?;
    let s = BigNum::from_slice(s).map_err(crypto)?;
    EcdsaSig::from_private_components(r, s)
        .and_then(|sig| sig.to_der())
        .map_err(crypto)
}

#[cfg(test)]
mod tests;
