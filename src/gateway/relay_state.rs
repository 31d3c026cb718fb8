//! RelayState: an opaque, single-use key to server-side login state, and the return target.
//!
//! The browser never carries a URL through the IdP. RelayState is 128 random bits naming a
//! [`PendingLogin`] that holds the AuthnRequest ID and the path to return to; it is bound to the
//! browser by a cookie and consumed on first use. The return target is a relative path checked
//! by [`sanitize_return_to`]: an open redirect cannot be built from anything a request carries.

use std::sync::Arc;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::store::{MemoryPendingStore, PendingStore, StoreError};

/// How long a login may take at the IdP (MFA prompts included).
pub const PENDING_LOGIN_TTL: Duration = Duration::minutes(10);

/// What the gateway remembers between sending an AuthnRequest and receiving the Response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    /// The AuthnRequest ID; the Response's InResponseTo must equal it.
    pub request_id: String,
    /// Sanitized relative path to send the browser to after login.
    pub return_to: String,
    /// The IdP's configured name.
    pub idp: String,
    #[serde(with = "time::serde::timestamp")]
    pub created: OffsetDateTime,
    /// The value of the browser-binding cookie of the browser that started the login.
    pub browser: String,
}

/// 128 random bits, hex: RelayState keys, browser binding values.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Keep `candidate` only if it is a plain relative path on this host: one leading `/`, no
/// `//`, no `\`, no scheme, no control characters. Anything else becomes `/`.
///
/// Browsers treat `//evil`, `/\evil` and `\/evil` as other hosts, and strip tabs and newlines
/// before parsing, so each of those is refused rather than repaired.
pub fn sanitize_return_to(candidate: &str) -> String {
    let ok = candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate.contains('\\')
        && !candidate.contains("//")
        && !candidate.chars().any(|c| c.is_control() || c == ' ')
        && !has_encoded_separator_prefix(candidate)
        && candidate.len() <= 2048;
    if ok {
        candidate.to_string()
    } else {
        "/".to_string()
    }
}

/// `/%2F%2Fevil.com` or `/%5Cevil.com` decode to a protocol-relative URL in some frameworks
/// that decode a Location before following it; refuse encoded slashes and backslashes at the
/// start of the path.
fn has_encoded_separator_prefix(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let after = lower.trim_start_matches('/');
    after.starts_with("%2f")
        || after.starts_with("%5c")
        || lower.starts_with("/%09")
        || lower.starts_with("/%0a")
}

/// Why a RelayState could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RelayStateError {
    #[error("RelayState {0} is unknown, expired or already used")]
    Unknown(String),
    #[error("RelayState {key} was issued to another browser (binding cookie missing or different)")]
    OtherBrowser { key: String },
    #[error("too many logins in progress ({0}); refusing new ones until some complete or expire")]
    Full(usize),
    /// The store could not answer: the caller answers 503 (never a login without the check).
    #[error("pending-login store: {0}")]
    Store(String),
}

impl From<StoreError> for RelayStateError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Full(n) => RelayStateError::Full(n),
            other => RelayStateError::Store(other.to_string()),
        }
    }
}

/// Logins in progress, in the node's memory or in Redis: each is read and deleted in one step,
/// so a RelayState completes at most one login on any node.
#[derive(Clone)]
pub struct PendingLogins {
    store: Arc<dyn PendingStore>,
}

impl PendingLogins {
    pub fn new(store: Arc<dyn PendingStore>) -> Self {
        PendingLogins { store }
    }

    /// One node's memory.
    pub fn memory() -> Self {
        Self::new(Arc::new(MemoryPendingStore::new()))
    }

    /// Store `login` under a fresh RelayState key and return the key.
    pub async fn insert(
        &self,
        login: PendingLogin,
        now: OffsetDateTime,
    ) -> Result<String, RelayStateError> {
        let key = random_token();
        let value = serde_json::to_vec(&login)
            .map_err(|e| RelayStateError::Store(format!("cannot encode the login: {e}")))?;
        self.store
            .put(&key, value, login.created + PENDING_LOGIN_TTL, now)
            .await?;
        Ok(key)
    }

    /// Consume the login stored under `key`, if it is fresh and was issued to `browser`.
    /// The entry is removed even when the browser does not match: a stolen RelayState is burnt.
    pub async fn take(
        &self,
        key: &str,
        browser: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<PendingLogin, RelayStateError> {
        let shown = || key.chars().take(64).collect::<String>();
        let bytes = self.store.take(key, now).await?;
        let login = bytes
            .and_then(|b| serde_json::from_slice::<PendingLogin>(&b).ok())
            .filter(|l| {
                now - l.created < PENDING_LOGIN_TTL && l.created <= now + Duration::minutes(1)
            })
            .ok_or_else(|| RelayStateError::Unknown(shown()))?;
        if browser != Some(login.browser.as_str()) {
            return Err(RelayStateError::OtherBrowser { key: shown() });
        }
        Ok(login)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn keeps_plain_relative_paths() {
        for ok in ["/", "/app/x", "/app/x?y=1&z=%20", "/a/b#frag", "/caf%C3%A9"] {
            assert_eq!(sanitize_return_to(ok), ok, "{ok}");
        }
    }

    #[test]
    fn refuses_every_way_out_to_another_host() {
        for bad in [
            "https://evil.example",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "\\/evil.example",
            "/%2F%2Fevil.example",
            "/%5Cevil.example",
            "/\tevil",
            "/\n/evil.example",
            "javascript:alert(1)",
            "evil.example",
            "",
            "/a//b",
            " /x",
        ] {
            assert_eq!(sanitize_return_to(bad), "/", "{bad:?}");
        }
    }

    fn login(browser: &str, created: OffsetDateTime) -> PendingLogin {
        PendingLogin {
            request_id: "_abc".into(),
            return_to: "/x".into(),
            idp: "corp".into(),
            created,
            browser: browser.into(),
        }
    }

    #[tokio::test]
    async fn relay_state_is_single_use() {
        let store = PendingLogins::memory();
        let now = datetime!(2026-05-23 09:00 UTC);
        let key = store.insert(login("b1", now), now).await.unwrap();
        assert_eq!(
            store.take(&key, Some("b1"), now).await.unwrap().request_id,
            "_abc"
        );
        assert!(matches!(
            store.take(&key, Some("b1"), now).await,
            Err(RelayStateError::Unknown(_))
        ));
    }

    #[tokio::test]
    async fn relay_state_from_another_browser_is_refused_and_burnt() {
        let store = PendingLogins::memory();
        let now = datetime!(2026-05-23 09:00 UTC);
        let key = store.insert(login("b1", now), now).await.unwrap();
        assert!(matches!(
            store.take(&key, Some("b2"), now).await,
            Err(RelayStateError::OtherBrowser { .. })
        ));
        assert!(matches!(
            store.take(&key, Some("b1"), now).await,
            Err(RelayStateError::Unknown(_))
        ));
        let key = store.insert(login("b1", now), now).await.unwrap();
        assert!(matches!(
            store.take(&key, None, now).await,
            Err(RelayStateError::OtherBrowser { .. })
        ));
    }

    #[tokio::test]
    async fn relay_state_expires_after_its_ttl() {
        let store = PendingLogins::memory();
        let now = datetime!(2026-05-23 09:00 UTC);
        let key = store.insert(login("b1", now), now).await.unwrap();
        let later = now + PENDING_LOGIN_TTL + Duration::seconds(1);
        assert!(matches!(
            store.take(&key, Some("b1"), later).await,
            Err(RelayStateError::Unknown(_))
        ));
    }
}
