//! The checks on a JWT access token, pure (the clock and the key set are given), in order:
//!
//! 1. [`issuer_of`]: the (unverified) `iss` picks the one `[[oauth]]` table that may vouch
//!    for the token, by exact comparison;
//! 2. [`check_header`]: `alg` on the issuer's allow-list (never `none`, never HMAC), no
//!    critical extensions, `typ` (`at+jwt` when required), a `kid` to look up. `jku`, `x5u`,
//!    `x5c` and `jwk` headers are never read: keys come only from the issuer's own key set;
//! 3. [`check`]: the signature with the key the issuer's set has under that `kid`, then
//!    `iss`, `aud`, `exp`, `nbf`, `iat` (with the issuer's clock skew) and `sub`.
//!
//! The claims are trusted only once the signature verified, so a refusal after step 3's
//! signature names values the issuer really signed.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::claims::scopes_of;
use super::compact::Compact;
use super::jwks::{Jwk, Jwks};
use super::rejection::TokenRejection;
use crate::config::OAuthIssuer;
use crate::crypto::jws::{self, JwsAlgorithm};

/// A token whose every check passed.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedToken {
    /// The `[[oauth]]` table's name.
    pub issuer_name: String,
    pub issuer: String,
    pub subject: String,
    /// Every scope granted (`scope` and `scp`).
    pub scopes: Vec<String>,
    /// `exp`, Unix seconds.
    pub expires_at: i64,
    pub claims: Map<String, Value>,
}

/// The `[[oauth]]` table whose issuer is exactly the token's (unverified) `iss`.
pub fn issuer_of<'c>(
    token: &Compact<'_>,
    issuers: &'c [OAuthIssuer],
) -> Result<&'c OAuthIssuer, TokenRejection> {
    let iss = token
        .claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or(TokenRejection::NoIssuer)?;
    issuers
        .iter()
        .find(|i| i.issuer == iss)
        .ok_or_else(|| TokenRejection::UnknownIssuer {
            iss: iss.to_owned(),
            known: issuers.iter().map(|i| i.issuer.clone()).collect(),
        })
}

/// The header's algorithm and key ID, if the issuer's policy accepts the header.
pub fn check_header<'t>(
    token: &'t Compact<'_>,
    issuer: &OAuthIssuer,
) -> Result<(JwsAlgorithm, &'t str), TokenRejection> {
    let h = &token.header;
    let alg_name = h
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(TokenRejection::NoAlgorithm)?;
    let alg: JwsAlgorithm = alg_name.parse()?;
    if !issuer.algorithms.contains(&alg) {
        return Err(TokenRejection::AlgorithmNotAllowed {
            alg: alg.name().to_owned(),
            issuer: issuer.name.clone(),
            allowed: issuer
                .algorithms
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    if let Some(crit) = h.get("crit") {
        return Err(TokenRejection::Critical {
            crit: crit.to_string(),
        });
    }
    let typ = match h.get("typ") {
        None => None,
        Some(Value::String(t)) => Some(t.as_str()),
        Some(other) => {
            return Err(TokenRejection::Type {
                typ: Some(other.to_string()),
                want: want_typ(issuer).into(),
            });
        }
    };
    let typ_ok = match typ.map(|t| {
        let t = t.to_ascii_lowercase();
        t.strip_prefix("application/")
            .map(str::to_owned)
            .unwrap_or(t)
    }) {
        Some(t) if t == "at+jwt" => true,
        Some(t) if t == "jwt" => !issuer.require_at_jwt,
        None => !issuer.require_at_jwt,
        Some(_) => false,
    };
    if !typ_ok {
        return Err(TokenRejection::Type {
            typ: typ.map(str::to_owned),
            want: want_typ(issuer).into(),
        });
    }
    let kid = h
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(TokenRejection::NoKid)?;
    Ok((alg, kid))
}

fn want_typ(issuer: &OAuthIssuer) -> &'static str {
    if issuer.require_at_jwt {
        "\"at+jwt\""
    } else {
        "\"at+jwt\", \"JWT\" or none"
    }
}

/// The key under `kid` in `jwks`, or the refusal naming the keys there are.
pub fn key_in<'k>(
    jwks: &'k Jwks,
    kid: &str,
    issuer: &OAuthIssuer,
) -> Result<&'k Jwk, TokenRejection> {
    jwks.get(kid).ok_or_else(|| TokenRejection::UnknownKid {
        kid: kid.to_owned(),
        issuer: issuer.issuer.clone(),
        keys_from: issuer.keys.url().to_string(),
        known: jwks.kids().into_iter().map(str::to_owned).collect(),
    })
}

/// Every check after the header: signature with `key`, then the claims at `now`.
pub fn check(
    token: &Compact<'_>,
    issuer: &OAuthIssuer,
    alg: JwsAlgorithm,
    key: &Jwk,
    now: OffsetDateTime,
) -> Result<VerifiedToken, TokenRejection> {
    if let Some(key_alg) = &key.alg
        && key_alg != alg.name()
    {
        return Err(TokenRejection::KeyAlgorithm {
            kid: key.kid.clone(),
            key_alg: key_alg.clone(),
            alg: alg.name().to_owned(),
        });
    }
    jws::verify(
        alg,
        &key.key,
        token.signing_input.as_bytes(),
        &token.signature,
    )
    .map_err(|detail| TokenRejection::Signature {
        kid: key.kid.clone(),
        alg: alg.name().to_owned(),
        detail,
    })?;
    let claims = &token.claims;
    // Chosen by this value in `issuer_of`; checked again so `check` stands on its own.
    let iss = claims.get("iss").and_then(Value::as_str);
    if iss != Some(issuer.issuer.as_str()) {
        return Err(TokenRejection::UnknownIssuer {
            iss: iss.unwrap_or_default().to_owned(),
            known: vec![issuer.issuer.clone()],
        });
    }
    let aud = audiences(claims)?;
    if !aud.iter().any(|a| issuer.audiences.contains(a)) {
        return Err(TokenRejection::Audience {
            have: aud,
            want: issuer.audiences.clone(),
        });
    }
    let now_s = now.unix_timestamp();
    let skew = issuer.clock_skew.whole_seconds();
    let exp = numeric_date(claims, "exp")?.ok_or(TokenRejection::MissingClaim { claim: "exp" })?;
    if now_s >= exp.saturating_add(skew) {
        return Err(TokenRejection::Expired {
            exp,
            exp_text: instant(exp),
            now: now_s,
            now_text: instant(now_s),
            skew,
        });
    }
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && now_s.saturating_add(skew) < nbf
    {
        return Err(TokenRejection::NotYetValid {
            nbf,
            nbf_text: instant(nbf),
            now: now_s,
            now_text: instant(now_s),
            skew,
        });
    }
    if let Some(iat) = numeric_date(claims, "iat")?
        && iat > now_s.saturating_add(skew)
    {
        return Err(TokenRejection::IssuedInFuture {
            iat,
            iat_text: instant(iat),
            now: now_s,
            now_text: instant(now_s),
            skew,
        });
    }
    let subject = match claims.get("sub") {
        None => return Err(TokenRejection::MissingClaim { claim: "sub" }),
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(_) => {
            return Err(TokenRejection::ClaimType {
                claim: "sub",
                expected: "a non-empty string",
            });
        }
    };
    Ok(VerifiedToken {
        issuer_name: issuer.name.clone(),
        issuer: issuer.issuer.clone(),
        subject,
        scopes: scopes_of(claims),
        expires_at: exp,
        claims: claims.clone(),
    })
}

/// `aud`: one string or an array of strings.
fn audiences(claims: &Map<String, Value>) -> Result<Vec<String>, TokenRejection> {
    let wrong = TokenRejection::ClaimType {
        claim: "aud",
        expected: "a string or an array of strings",
    };
    match claims.get("aud") {
        None => Err(TokenRejection::MissingClaim { claim: "aud" }),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or(wrong.clone()))
            .collect(),
        Some(_) => Err(wrong),
    }
}

/// A NumericDate claim in whole seconds (a fraction is dropped), if present.
fn numeric_date(
    claims: &Map<String, Value>,
    claim: &'static str,
) -> Result<Option<i64>, TokenRejection> {
    let Some(value) = claims.get(claim) else {
        return Ok(None);
    };
    let wrong = TokenRejection::ClaimType {
        claim,
        expected: "a number of seconds (NumericDate)",
    };
    if let Some(i) = value.as_i64() {
        return Ok(Some(i));
    }
    match value.as_f64() {
        // Within ±2^53 an f64 holds every whole second exactly; past it, no real date.
        Some(f) if f.is_finite() && f.abs() < 9.0e15 => Ok(Some(f.floor() as i64)),
        _ => Err(wrong),
    }
}

/// Unix seconds as an RFC 3339 instant, for messages.
fn instant(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "out of range".into())
}

#[cfg(test)]
mod tests;
