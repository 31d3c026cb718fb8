//! The identity token: the [`Operator`] as a signed JWT (compact JWS, ES256 or RS256) that a
//! backend can verify against the gateway's published keys, so that it need not trust the network
//! between it and the gateway.
//!
//! Claims: `iss` (the SP entity ID or a configured issuer), `aud`, `sub` (the operator ID),
//! `email`, `name` (when known), `groups` (a JSON list, possibly empty), `access_group`, `idp` (the
//! IdP's entity ID), `iat`, `exp` (`iat` + the lifetime, never past the session's end) and `jti`
//! (random, one per token: a token is reused by the requests of its session until it is
//! refreshed, see [`super::token_cache`]). Signing is pure: the instant and the `jti` are given.
//!
//! The public keys are published as a JWK Set ([`TokenSigner::jwks`]): the current key, and the
//! next one ahead of a rollover so that backends already know it when it takes over.

use axum::http::{HeaderName, HeaderValue};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use super::operator::Operator;
use crate::crypto::jws_key::{JwsError, JwsKey};

/// The default header the token travels in.
pub const DEFAULT_HEADER: &str = "x-forwarded-identity-token";
/// The default lifetime, in seconds.
pub const DEFAULT_LIFETIME_SECONDS: i64 = 60;

/// What a token says besides the identity, and where it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    /// `exp - iat`, in seconds.
    pub lifetime_seconds: i64,
    pub header: HeaderName,
}

/// Signs identity tokens with the current key and publishes the keys.
#[derive(Clone, Debug)]
pub struct TokenSigner {
    pub settings: TokenSettings,
    key: JwsKey,
    next_key: Option<JwsKey>,
}

/// A signed token and when to sign a new one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedToken {
    pub value: HeaderValue,
    /// The key it was signed with.
    pub kid: String,
    /// Unix seconds from which it is no longer sent: half its lifetime, so that a backend
    /// always receives a token with at least half its lifetime left.
    pub refresh_at: i64,
}

/// The claims, as serialized.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    groups: Vec<&'a str>,
    access_group: &'a str,
    idp: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
}

/// Why no token could be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot sign the identity token: {0}")]
    Sign(#[from] JwsError),
    #[error("cannot serialize the identity token's claims: {0}")]
    Claims(#[from] serde_json::Error),
    #[error("the signed identity token is not a valid header value")]
    HeaderValue,
}

impl TokenSigner {
    pub fn new(settings: TokenSettings, key: JwsKey, next_key: Option<JwsKey>) -> Self {
        Self {
            settings,
            key,
            next_key,
        }
    }

    /// The `kid` of the key tokens are signed with now.
    pub fn kid(&self) -> &str {
        self.key.kid()
    }

    /// The header the token travels in.
    pub fn header(&self) -> &HeaderName {
        &self.settings.header
    }

    /// A token for `identity`, signed in by `idp_entity_id`, issued at `now`, whose session ends
    /// at `session_end` (Unix seconds).
    pub fn sign(
        &self,
        identity: &Operator,
        idp_entity_id: &str,
        now: OffsetDateTime,
        session_end: i64,
        jti: &str,
    ) -> Result<SignedToken, TokenError> {
        let iat = now.unix_timestamp();
        let exp = iat
            .saturating_add(self.settings.lifetime_seconds)
            .min(session_end);
        let claims = Claims {
            iss: &self.settings.issuer,
            aud: &self.settings.audience,
            sub: &identity.user,
            email: identity.email.as_deref(),
            name: identity.name.as_deref(),
            groups: identity.groups.iter().map(|g| g.as_str()).collect(),
            access_group: &identity.access_group,
            idp: idp_entity_id,
            iat,
            exp,
            jti,
        };
        let token = self.key.sign_compact(&serde_json::to_vec(&claims)?)?;
        let value = HeaderValue::try_from(token).map_err(|_| TokenError::HeaderValue)?;
        Ok(SignedToken {
            value,
            kid: self.key.kid().to_owned(),
            refresh_at: iat.saturating_add(exp.saturating_sub(iat) / 2),
        })
    }

    /// The JWK Set a backend verifies with: the current key, then the next one if configured.
    pub fn jwks(&self) -> String {
        let keys: Vec<_> = std::iter::once(&self.key)
            .chain(self.next_key.as_ref())
            .map(JwsKey::public_jwk)
            .collect();
        json!({ "keys": keys }).to_string()
    }
}

#[cfg(test)]
mod tests;
