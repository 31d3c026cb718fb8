//! One session's identity token, signed once and reused by its requests until it is due for
//! refresh (half its lifetime) or the signing key changes, so that the proxy path costs a lock
//! and a reference count, not a signature.

use std::sync::Mutex;

use axum::http::HeaderValue;
use time::OffsetDateTime;

use super::operator::Operator;
use super::token::{SignedToken, TokenError, TokenSigner};

/// A session's current token, if one was signed. Small when empty (a node holds one per
/// session): the token itself is boxed.
#[derive(Debug, Default)]
pub struct TokenCache(Mutex<Option<Box<SignedToken>>>);

impl TokenCache {
    /// The token to send at `now`: the cached one while it is fresh and from `signer`'s key,
    /// else a new one (with `jti` as its ID), which is kept. The lock is not held while signing;
    /// two requests racing may both sign, and the later one is kept.
    pub fn get_or_sign(
        &self,
        signer: &TokenSigner,
        identity: &Operator,
        idp_entity_id: &str,
        now: OffsetDateTime,
        session_end: i64,
        jti: impl FnOnce() -> String,
    ) -> Result<HeaderValue, TokenError> {
        let at = now.unix_timestamp();
        {
            let cached = self
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(token) = cached.as_deref()
                && at < token.refresh_at
                && token.kid == signer.kid()
            {
                return Ok(token.value.clone());
            }
        }
        let token = signer.sign(identity, idp_entity_id, now, session_end, &jti())?;
        let value = token.value.clone();
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Box::new(token));
        Ok(value)
    }
}
