//! Compact JWS (RFC 7515) signing with one private key (the identity token's; access tokens'
//! algorithms and verification are [`super::jws`]), and that key's public JWK (RFC 7517)
//! with its RFC 7638 thumbprint as `kid`: what the identity token is signed and published with.
//!
//! Two algorithms: ES256 (ECDSA P-256 with SHA-256, the signature as the fixed 64-byte `R || S`
//! of RFC 7518 section 3.4, not DER) and RS256 (RSASSA-PKCS1-v1_5 with SHA-256, 2048 bits or
//! more). The algorithm follows from the key; nothing here reads a token's header, so there is
//! no `alg` to confuse.
//!
//! The private key never leaves this type: its `Debug` prints the `kid` only.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::{MessageDigest, hash};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::sign::Signer;
use serde_json::{Value, json};

/// RSA signing keys shorter than this are refused.
pub const MIN_RSA_BITS: u32 = 2048;

/// A JWS algorithm this gateway signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwsAlgorithm {
    Es256,
    Rs256,
}

impl JwsAlgorithm {
    /// The `alg` value.
    pub fn name(self) -> &'static str {
        match self {
            JwsAlgorithm::Es256 => "ES256",
            JwsAlgorithm::Rs256 => "RS256",
        }
    }

    /// `"ES256"` or `"RS256"` (exact case, as RFC 7518 writes them).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(JwsAlgorithm::Es256),
            "RS256" => Some(JwsAlgorithm::Rs256),
            _ => None,
        }
    }
}

/// Why a key cannot sign tokens, or a signature could not be made.
#[derive(Debug, thiserror::Error)]
pub enum JwsError {
    #[error("not a PEM private key: {0}")]
    NotAKey(String),
    #[error(
        "an {found} key cannot sign {wanted} (ES256 needs an EC P-256 key, RS256 an RSA key of {MIN_RSA_BITS} bits or more)"
    )]
    WrongKeyType { found: String, wanted: &'static str },
    #[error("a {bits}-bit RSA key is too short to sign tokens: use {MIN_RSA_BITS} bits or more")]
    ShortRsaKey { bits: u32 },
    #[error("signing failed: {0}")]
    Signing(String),
}

fn failed(e: impl std::fmt::Display) -> JwsError {
    JwsError::Signing(e.to_string())
}

/// A private key that signs compact JWS, with its public JWK and `kid`.
#[derive(Clone)]
pub struct JwsKey {
    algorithm: JwsAlgorithm,
    key: PKey<Private>,
    kid: String,
    /// The public JWK, `kid`, `alg` and `use` included.
    jwk: Value,
}

impl std::fmt::Debug for JwsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwsKey")
            .field("alg", &self.algorithm.name())
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A big number as exactly `len` big-endian bytes (EC coordinates, ECDSA R and S).
fn fixed(n: &openssl::bn::BigNumRef, len: i32) -> Result<Vec<u8>, JwsError> {
    n.to_vec_padded(len).map_err(failed)
}

impl JwsKey {
    /// The key in `pem` (PKCS#8, SEC1 or PKCS#1), checked to fit `algorithm`.
    pub fn from_pem(pem: &[u8], algorithm: JwsAlgorithm) -> Result<Self, JwsError> {
        let key = PKey::private_key_from_pem(pem).map_err(|e| JwsError::NotAKey(e.to_string()))?;
        Self::new(key, algorithm)
    }

    pub fn new(key: PKey<Private>, algorithm: JwsAlgorithm) -> Result<Self, JwsError> {
        let wrong = |found: &str| JwsError::WrongKeyType {
            found: found.to_owned(),
            wanted: algorithm.name(),
        };
        // The thumbprint input: the required members in lexicographic order (RFC 7638 section 3).
        let (thumbprint_input, mut jwk) = match (algorithm, key.id()) {
            (JwsAlgorithm::Es256, Id::EC) => {
                let ec = key.ec_key().map_err(failed)?;
                if ec.group().curve_name() != Some(Nid::X9_62_PRIME256V1) {
                    return Err(wrong("EC key on another curve than P-256"));
                }
                let mut ctx = BigNumContext::new().map_err(failed)?;
                let (mut x, mut y) = (
                    BigNum::new().map_err(failed)?,
                    BigNum::new().map_err(failed)?,
                );
                ec.public_key()
                    .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
                    .map_err(failed)?;
                let (x, y) = (b64(&fixed(&x, 32)?), b64(&fixed(&y, 32)?));
                (
                    format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#),
                    json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
                )
            }
            (JwsAlgorithm::Rs256, Id::RSA) => {
                let rsa = key.rsa().map_err(failed)?;
                let bits = rsa.n().num_bits().max(0).unsigned_abs();
                if bits < MIN_RSA_BITS {
                    return Err(JwsError::ShortRsaKey { bits });
                }
                let (n, e) = (b64(&rsa.n().to_vec()), b64(&rsa.e().to_vec()));
                (
                    format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
                    json!({"kty": "RSA", "n": n, "e": e}),
                )
            }
            (JwsAlgorithm::Es256, Id::RSA) => return Err(wrong("RSA")),
            (JwsAlgorithm::Rs256, Id::EC) => return Err(wrong("EC")),
            (_, other) => return Err(wrong(&format!("{other:?}"))),
        };
        let kid = b64(&hash(MessageDigest::sha256(), thumbprint_input.as_bytes()).map_err(failed)?);
        if let Some(members) = jwk.as_object_mut() {
            members.insert("kid".into(), Value::from(kid.as_str()));
            members.insert("alg".into(), Value::from(algorithm.name()));
            members.insert("use".into(), Value::from("sig"));
        }
        Ok(JwsKey {
            algorithm,
            key,
            kid,
            jwk,
        })
    }

    pub fn algorithm(&self) -> JwsAlgorithm {
        self.algorithm
    }

    /// The RFC 7638 thumbprint (SHA-256, base64url) of the public key: the `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (`kty`, its members, `kid`, `alg`, `use: "sig"`).
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// `header.payload.signature` for `payload` (the claims' JSON), with the protected header
    /// `{"alg":..,"typ":"JWT","kid":..}`.
    pub fn sign_compact(&self, payload: &[u8]) -> Result<String, JwsError> {
        let header = json!({"alg": self.algorithm.name(), "typ": "JWT", "kid": self.kid});
        let mut out = b64(header.to_string().as_bytes());
        out.push('.');
        out.push_str(&b64(payload));
        let signature = self.sign(out.as_bytes())?;
        out.push('.');
        out.push_str(&b64(&signature));
        Ok(out)
    }

    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, JwsError> {
        match self.algorithm {
            JwsAlgorithm::Rs256 => {
                let mut signer = Signer::new(MessageDigest::sha256(), &self.key).map_err(failed)?;
                signer.update(input).map_err(failed)?;
                signer.sign_to_vec().map_err(failed)
            }
            JwsAlgorithm::Es256 => {
                let digest = hash(MessageDigest::sha256(), input).map_err(failed)?;
                let ec = self.key.ec_key().map_err(failed)?;
                let sig = EcdsaSig::sign(&digest, &ec).map_err(failed)?;
                let mut raw = fixed(sig.r(), 32)?;
                raw.extend(fixed(sig.s(), 32)?);
                Ok(raw)
            }
        }
    }
}

#[cfg(test)]
mod tests;
