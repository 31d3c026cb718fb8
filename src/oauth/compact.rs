//! A JWT in JWS compact serialization (`header.payload.signature`), taken apart strictly and
//! nothing verified yet: three base64url parts without padding, a header and a payload that are
//! each one JSON object with no member named twice (two `alg` or two `sub` would let two
//! readers see two tokens).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

/// Tokens longer than this are refused before any decoding (a header is a few KB at most).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The parts of a compact JWS, decoded, not verified.
#[derive(Clone, Debug)]
pub struct Compact<'t> {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    /// `header.payload` as sent: the bytes the signature covers.
    pub signing_input: &'t str,
    pub signature: Vec<u8>,
}

/// Why a token is not a well-formed JWT.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CompactError {
    #[error("the token is {len} bytes, over the {MAX_TOKEN_BYTES} accepted")]
    TooLong { len: usize },
    #[error("a JWT has three dot-separated parts, this token {parts}")]
    Parts { parts: usize },
    #[error("the {part} is not base64url without padding")]
    Base64 { part: &'static str },
    #[error("the {part} is not one JSON object: {detail}")]
    Json { part: &'static str, detail: String },
}

/// Take `token` apart.
pub fn parse(token: &str) -> Result<Compact<'_>, CompactError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(CompactError::TooLong { len: token.len() });
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CompactError::Parts {
            parts: token.split('.').count(),
        });
    };
    let signing_input = token
        .get(..header.len().saturating_add(1).saturating_add(payload.len()))
        .ok_or(CompactError::Parts { parts: 3 })?;
    Ok(Compact {
        header: object(header, "header")?,
        claims: object(payload, "payload")?,
        signing_input,
        signature: decode(signature, "signature")?,
    })
}

fn decode(part: &str, name: &'static str) -> Result<Vec<u8>, CompactError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| CompactError::Base64 { part: name })
}

fn object(part: &str, name: &'static str) -> Result<Map<String, Value>, CompactError> {
    let bytes = decode(part, name)?;
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let map = de
        .deserialize_map(StrictObject)
        .and_then(|m| de.end().map(|()| m))
        .map_err(|e| CompactError::Json {
            part: name,
            detail: e.to_string(),
        })?;
    Ok(map)
}

/// A JSON object whose top-level member names are all different.
struct StrictObject;

impl<'de> Visitor<'de> for StrictObject {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let value: Value = access.next_value()?;
            if map.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "member {key:?} appears twice"
                )));
            }
            map.insert(key, value);
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn three_parts_decode() {
        let t = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS256"}"#),
            b64(r#"{"sub":"a"}"#),
            b64("s")
        );
        let c = parse(&t).unwrap();
        assert_eq!(c.header["alg"], "RS256");
        assert_eq!(c.claims["sub"], "a");
        assert_eq!(c.signature, b"s");
        assert_eq!(c.signing_input.matches('.').count(), 1);
        assert!(t.starts_with(c.signing_input));
    }

    #[test]
    fn a_member_named_twice_is_refused() {
        let t = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS256"}"#),
            b64(r#"{"sub":"alice","sub":"bob"}"#),
            b64("s")
        );
        assert!(matches!(
            parse(&t),
            Err(CompactError::Json {
                part: "payload",
                ..
            })
        ));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        assert!(matches!(
            parse("a.b"),
            Err(CompactError::Parts { parts: 2 })
        ));
        assert!(matches!(
            parse("a.b.c.d"),
            Err(CompactError::Parts { parts: 4 })
        ));
        let padded = format!("{}=.{}.{}", b64(r#"{"alg":"RS256"}"#), b64("{}"), b64("s"));
        assert!(matches!(
            parse(&padded),
            Err(CompactError::Base64 { .. }) | Err(CompactError::Json { .. })
        ));
        let array = format!("{}.{}.{}", b64("[]"), b64("{}"), b64("s"));
        assert!(matches!(
            parse(&array),
            Err(CompactError::Json { part: "header", .. })
        ));
        let trailing = format!("{}.{}.{}", b64("{} x"), b64("{}"), b64("s"));
        assert!(matches!(parse(&trailing), Err(CompactError::Json { .. })));
        assert!(matches!(
            parse(&"a".repeat(MAX_TOKEN_BYTES + 1)),
            Err(CompactError::TooLong { .. })
        ));
    }
}
