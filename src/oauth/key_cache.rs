//! One issuer's keys, cached: fetched on the first token, fetched again once older than
//! `jwks_refresh`, and fetched again at once when a token names a `kid` the set lacks (an
//! issuer that just rotated its key), but at most once every [`UNKNOWN_KID_REFETCH_INTERVAL`]:
//! tokens with made-up `kid`s then fail fast instead of making the gateway hammer the issuer.
//! A refresh that fails keeps the keys held (logged), and is tried again after
//! [`RETRY_AFTER_FAILURE`]. Concurrent requests share one fetch.

use std::sync::{Arc, RwLock};

use time::{Duration, OffsetDateTime};

use super::fetch::{FetchError, Fetcher};
use super::jwks::Jwks;
use crate::config::OAuthIssuer;

/// At most one fetch per issuer for unknown `kid`s in this long.
pub const UNKNOWN_KID_REFETCH_INTERVAL: Duration = Duration::seconds(10);
/// After a failed refresh, the keys held are used this long before trying again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::seconds(30);

#[derive(Debug)]
struct Held {
    jwks: Arc<Jwks>,
    /// When the next scheduled fetch is due.
    due: OffsetDateTime,
}

/// The cached key set of one issuer.
#[derive(Debug, Default)]
pub struct KeyCache {
    held: RwLock<Option<Held>>,
    /// Held while fetching; keeps the time of the last fetch for an unknown `kid`.
    fetching: tokio::sync::Mutex<Option<OffsetDateTime>>,
}

/// What [`KeyCache::refetch_for`] did.
#[derive(Debug)]
pub enum Refetch {
    /// Fetched (by this call or a concurrent one): the set now held.
    Fetched(Arc<Jwks>),
    /// The last unknown-`kid` fetch was too recent: nothing fetched.
    TooSoon,
}

impl KeyCache {
    /// The keys held, when no fetch is due at `now`.
    pub fn fresh(&self, now: OffsetDateTime) -> Option<Arc<Jwks>> {
        let held = self.held.read().ok()?;
        held.as_ref()
            .filter(|h| now < h.due)
            .map(|h| Arc::clone(&h.jwks))
    }

    fn held(&self) -> Option<Arc<Jwks>> {
        let held = self.held.read().ok()?;
        held.as_ref().map(|h| Arc::clone(&h.jwks))
    }

    fn store(&self, jwks: Arc<Jwks>, due: OffsetDateTime) {
        if let Ok(mut held) = self.held.write() {
            *held = Some(Held { jwks, due });
        }
    }

    /// Fetch, record, and tell the caller whether it was new keys (`true`).
    async fn fetch(
        &self,
        issuer: &OAuthIssuer,
        fetcher: &Fetcher,
        now: OffsetDateTime,
    ) -> Result<Arc<Jwks>, FetchError> {
        match fetcher.jwks(&issuer.keys, &issuer.issuer).await {
            Ok((jwks, from)) => {
                if !jwks.skipped.is_empty() {
                    tracing::warn!(
                        issuer = issuer.name,
                        "key set {from}: keys skipped: {}",
                        jwks.skipped.join("; ")
                    );
                }
                tracing::info!(
                    issuer = issuer.name,
                    kids = ?jwks.kids(),
                    "fetched the key set from {from}"
                );
                let jwks = Arc::new(jwks);
                self.store(Arc::clone(&jwks), now + issuer.jwks_refresh);
                Ok(jwks)
            }
            Err(e) => {
                if let Some(old) = self.held() {
                    tracing::warn!(
                        issuer = issuer.name,
                        "refreshing the key set failed, keeping the keys held for {}s: {e}",
                        RETRY_AFTER_FAILURE.whole_seconds()
                    );
                    self.store(Arc::clone(&old), now + RETRY_AFTER_FAILURE);
                    Ok(old)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// The keys to use at `now`: those held, or fetched when none are held or a refresh is due.
    /// Second element: whether a fetch happened.
    pub async fn current(
        &self,
        issuer: &OAuthIssuer,
        fetcher: &Fetcher,
        now: OffsetDateTime,
    ) -> Result<(Arc<Jwks>, bool), FetchError> {
        if let Some(jwks) = self.fresh(now) {
            return Ok((jwks, false));
        }
        let _turn = self.fetching.lock().await;
        if let Some(jwks) = self.fresh(now) {
            return Ok((jwks, false));
        }
        self.fetch(issuer, fetcher, now).await.map(|j| (j, true))
    }

    /// A token named `kid`, which the set held lacks: fetch again, unless another request
    /// already did (then its set) or the last such fetch is under
    /// [`UNKNOWN_KID_REFETCH_INTERVAL`] old.
    pub async fn refetch_for(
        &self,
        kid: &str,
        issuer: &OAuthIssuer,
        fetcher: &Fetcher,
        now: OffsetDateTime,
    ) -> Result<Refetch, FetchError> {
        let mut last = self.fetching.lock().await;
        if let Some(jwks) = self.held().filter(|j| j.get(kid).is_some()) {
            return Ok(Refetch::Fetched(jwks));
        }
        if last.is_some_and(|t| now < t + UNKNOWN_KID_REFETCH_INTERVAL && now >= t) {
            return Ok(Refetch::TooSoon);
        }
        *last = Some(now);
        self.fetch(issuer, fetcher, now).await.map(Refetch::Fetched)
    }
}
