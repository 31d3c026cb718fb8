//! An issuer's JSON Web Key Set (RFC 7517) -> its signature keys as openssl public keys.
//!
//! Only keys that can verify a signature are kept: RSA and EC (P-256, P-384, P-521) keys with
//! a `kid`, not marked `"use": "enc"`. Keys of another type (or an unusable one) are skipped and
//! named, so one odd key never hides the others; a set with no usable key is an error.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Public};
use openssl::rsa::Rsa;
use serde_json::Value;

use crate::crypto::jws::JwsAlgorithm;

/// The largest JWKS document read.
pub const MAX_JWKS_BYTES: usize = 512 * 1024;

/// One usable signature key.
#[derive(Clone, Debug)]
pub struct Jwk {
    pub kid: String,
    /// The key's own `alg`, when it names one: then only that algorithm may use it.
    pub alg: Option<String>,
    pub key: PKey<Public>,
}

/// The usable keys of a set, and what was skipped.
#[derive(Clone, Debug, Default)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
    /// One line per skipped key (`kid`: why), for the log.
    pub skipped: Vec<String>,
}

impl Jwks {
    pub fn get(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The `kid`s held, for messages.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.kid.as_str()).collect()
    }
}

/// Why a document is not a usable key set.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("the key set is {len} bytes, over the {MAX_JWKS_BYTES} accepted")]
    TooLarge { len: usize },
    #[error("the key set is not JSON with a \"keys\" array: {0}")]
    Shape(String),
    #[error("the key set has no usable signature key (skipped: {})", .skipped.join("; "))]
    NoKeys { skipped: Vec<String> },
}

/// Parse a JWKS document.
pub fn parse(bytes: &[u8]) -> Result<Jwks, JwksError> {
    if bytes.len() > MAX_JWKS_BYTES {
        return Err(JwksError::TooLarge { len: bytes.len() });
    }
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| JwksError::Shape(e.to_string()))?;
    let Some(keys) = doc.get("keys").and_then(Value::as_array) else {
        return Err(JwksError::Shape("no \"keys\" array".into()));
    };
    let mut out = Jwks::default();
    for (i, key) in keys.iter().enumerate() {
        let kid = key.get("kid").and_then(Value::as_str);
        match (kid, one(key)) {
            (Some(kid), Ok(public)) if out.get(kid).is_none() => out.keys.push(Jwk {
                kid: kid.to_owned(),
                alg: key.get("alg").and_then(Value::as_str).map(str::to_owned),
                key: public,
            }),
            (Some(kid), Ok(_)) => out
                .skipped
                .push(format!("kid {kid:?}: a second key with the same kid")),
            (None, _) => out.skipped.push(format!("key #{i}: no kid")),
            (Some(kid), Err(why)) => out.skipped.push(format!("kid {kid:?}: {why}")),
        }
    }
    if out.keys.is_empty() {
        return Err(JwksError::NoKeys {
            skipped: out.skipped,
        });
    }
    Ok(out)
}

fn one(key: &Value) -> Result<PKey<Public>, String> {
    let field = |name: &str| -> Result<Vec<u8>, String> {
        let text = key
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("no {name:?}"))?;
        URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| format!("{name:?} is not base64url"))
    };
    if key.get("use").and_then(Value::as_str) == Some("enc") {
        return Err("an encryption key (use: enc)".into());
    }
    if let Some(alg) = key.get("alg").and_then(Value::as_str)
        && let Err(e) = alg.parse::<JwsAlgorithm>()
    {
        return Err(e.to_string());
    }
    let ossl = |e: openssl::error::ErrorStack| e.to_string();
    match key.get("kty").and_then(Value::as_str) {
        Some("RSA") => {
            let n = BigNum::from_slice(&field("n")?).map_err(ossl)?;
            let e = BigNum::from_slice(&field("e")?).map_err(ossl)?;
            let rsa = Rsa::from_public_components(n, e).map_err(ossl)?;
            PKey::from_rsa(rsa).map_err(ossl)
        }
        Some("EC") => {
            let nid = match key.get("crv").and_then(Value::as_str) {
                Some("P-256") => Nid::X9_62_PRIME256V1,
                Some("P-384") => Nid::SECP384R1,
                Some("P-521") => Nid::SECP521R1,
                other => return Err(format!("curve {other:?} is not supported")),
            };
            let group = EcGroup::from_curve_name(nid).map_err(ossl)?;
            let x = BigNum::from_slice(&field("x")?).map_err(ossl)?;
            let y = BigNum::from_slice(&field("y")?).map_err(ossl)?;
            let ec = EcKey::from_public_key_affine_coordinates(&group, &x, &y).map_err(ossl)?;
            // The point must be on the curve.
            ec.check_key().map_err(ossl)?;
            PKey::from_ec_key(ec).map_err(ossl)
        }
        other => Err(format!("key type {other:?} is not supported")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::bn::BigNumContext;

    fn rsa_jwk(kid: &str) -> Value {
        let rsa = Rsa::generate(2048).unwrap();
        serde_json::json!({
            "kty": "RSA", "kid": kid, "use": "sig",
            "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
            "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec()),
        })
    }

    #[test]
    fn rsa_and_ec_keys_are_read_and_odd_keys_skipped_by_name() {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let ec = EcKey::generate(&group).unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
        ec.public_key()
            .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
            .unwrap();
        let doc = serde_json::json!({"keys": [
            rsa_jwk("r1"),
            {"kty": "EC", "kid": "e1", "crv": "P-256",
             "x": URL_SAFE_NO_PAD.encode(x.to_vec_padded(32).unwrap()),
             "y": URL_SAFE_NO_PAD.encode(y.to_vec_padded(32).unwrap())},
            {"kty": "oct", "kid": "h1", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "r2", "alg": "HS256", "n": "AQAB", "e": "AQAB"},
            rsa_jwk("r1"),
        ]});
        let jwks = parse(doc.to_string().as_bytes()).unwrap();
        assert_eq!(jwks.kids(), ["r1", "e1"]);
        assert_eq!(jwks.skipped.len(), 3, "{:?}", jwks.skipped);
        assert!(jwks.skipped.iter().any(|s| s.contains("\"oct\"")));
        assert!(jwks.skipped.iter().any(|s| s.contains("HMAC")));
        assert!(jwks.skipped.iter().any(|s| s.contains("same kid")));
    }

    #[test]
    fn a_set_without_usable_keys_is_an_error() {
        assert!(matches!(
            parse(br#"{"keys": [{"kty": "oct", "kid": "a", "k": "eA"}]}"#),
            Err(JwksError::NoKeys { .. })
        ));
        assert!(matches!(parse(b"[]"), Err(JwksError::Shape(_))));
        let off_curve = serde_json::json!({"keys": [{"kty": "EC", "kid": "e", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode([1u8; 32]), "y": URL_SAFE_NO_PAD.encode([2u8; 32])}]});
        assert!(matches!(
            parse(off_curve.to_string().as_bytes()),
            Err(JwksError::NoKeys { .. })
        ));
    }
}
