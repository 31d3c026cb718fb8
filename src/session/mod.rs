//! Sessions, behind one façade: [`Sessions`] looks up a request's session, establishes one at
//! login and ends one at logout, and keeps this node's decoded sessions ([`cache`]) in step with
//! the store as it does so; no caller touches the cache itself.
//!
//! The cookie holds only the session ID (tower-sessions); the identity lives server-side in a
//! [`SessionRecord`] ([`record`]: what is kept and when it ends, as pure functions). The memory
//! store ([`memory_store`]) keeps decoded sessions beside the records; with Redis, [`tracking`]
//! keeps every node's cache in step with the others. [`stores`] opens the set a node uses.

pub mod cache;
pub mod memory_store;
pub mod record;
pub mod signed_in;
pub mod stores;
pub mod tracking;

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use tower_sessions::{Expiry, Session};

use crate::identity::headers::HeaderContract;
use crate::ops::Metrics;
use crate::ops::clock::Clock;
use crate::store::StoreError;

pub use cache::SessionCache;
pub use memory_store::SweepingMemoryStore;
pub(crate) use record::RECORD_KEY;
pub use record::{
    Expired, LoginDetails, NameIdDetails, SessionRecord, TOUCH_INTERVAL, check, check_times,
    not_after,
};
pub use signed_in::SignedIn;
pub use stores::{AnySessionStore, Stores};
pub use tracking::{InvalidationSink, SessionTracker};

/// The sessions of this node: the store behind the session layer, the decoded cache in front of
/// it and, with Redis, what keeps that cache in step with the other nodes.
pub struct Sessions {
    cache: Arc<SessionCache>,
    /// The store behind the session layer, for ending sessions other than the request's own
    /// (single logout).
    store: AnySessionStore,
    tracker: Option<SessionTracker>,
    idle_timeout: Duration,
    contract: HeaderContract,
    metrics: Arc<Metrics>,
    clock: Clock,
}

/// What a session needs to know to look up, establish and end sessions.
pub struct SessionSettings {
    pub idle_timeout: Duration,
    /// The header contract a session's identity is encoded by, once, when it is decoded.
    pub contract: HeaderContract,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
}

impl Sessions {
    /// The sessions over `stores` (Redis: starts tracking, so it must run inside a Tokio
    /// runtime).
    pub fn new(stores: &Stores, settings: SessionSettings) -> Result<Self, StoreError> {
        let cache = Arc::new(match &stores.sessions {
            AnySessionStore::Memory(store) => SessionCache::over_memory_store(store.clone()),
            AnySessionStore::Redis(_) => SessionCache::new(),
        });
        let tracker = match &stores.redis {
            Some(redis) => Some(SessionTracker::start(
                redis.settings(),
                redis.keys(),
                cache.clone(),
            )?),
            None => None,
        };
        Ok(Sessions {
            cache,
            store: stores.sessions.clone(),
            tracker,
            idle_timeout: settings.idle_timeout,
            contract: settings.contract,
            metrics: settings.metrics,
            clock: settings.clock,
        })
    }

    /// This node's decoded sessions (read-only uses: metrics, tests).
    pub fn cache(&self) -> &SessionCache {
        &self.cache
    }

    /// With Redis: what keeps the cache in step with the other nodes.
    pub fn tracker(&self) -> Option<&SessionTracker> {
        self.tracker.as_ref()
    }

    /// The session cache, if it may be read for a request that arrived before this call: with
    /// the memory store always; with Redis under the tracker's lease (every change Redis made
    /// before a round sent less than a lease ago is applied, and every node that ends a session
    /// waits out a lease before it answers), else after one shared round trip, and not at all
    /// while that cannot be confirmed.
    pub async fn cache_in_step(&self) -> Option<&SessionCache> {
        match &self.tracker {
            None => Some(&self.cache),
            Some(tracker) if tracker.in_step_now() => Some(&self.cache),
            // Boxed: the round trip's state is kilobytes that the other requests, whose
            // futures hold this one, would otherwise carry and copy.
            Some(tracker) => Box::pin(tracker.barrier()).await.then_some(&*self.cache),
        }
    }

    /// With Redis, wait until no node serves a session this node just deleted from its cache
    /// (each reads its cache only under a lease granted after the deletion by then).
    async fn settle(&self) {
        if let Some(tracker) = &self.tracker {
            tokio::time::sleep(tracker.settle_time()).await;
        }
    }

    /// The identity of the request's session, if it has a valid one. An expired session is counted
    /// by reason and treated as none; a store failure is `Err` (the caller answers 503, never
    /// treating an unreachable store as "signed in" or silently as "signed out").
    pub async fn identity_of(
        &self,
        session: &Session,
        cache: CacheLookup,
    ) -> Result<Option<Arc<SignedIn>>, SessionStoreError> {
        let now = (self.clock)();
        let idle_timeout = self.idle_timeout;
        let id = session.id();
        // With Redis the cache is read only once in step with it (one shared round trip).
        if cache == CacheLookup::Consult
            && let Some(id) = id
            && let Some(in_step) = self.cache_in_step().await
            && let Some(hit) = in_step.get(&id, now, idle_timeout)
        {
            return Ok(Some(hit));
        }
        let cache = &self.cache;
        // With Redis, a miss under a lease may come before the reports Redis has already sent
        // (this very session's creation on another node, say) are applied; applied during the
        // load, any of them would keep what was loaded out of the cache. One round first, as
        // before any lease: the load then enters the cache unless something changes meanwhile.
        if id.is_some()
            && let Some(tracker) = &self.tracker
        {
            // Its verdict does not matter here: the store is read either way, and a cache out
            // of step is not read until a round has emptied it.
            let _ = Box::pin(tracker.barrier()).await;
        }
        let ticket = cache.ticket();
        match current(session, now, idle_timeout).await? {
            Lookup::Valid(record) => {
                let signed_in = Arc::new(SignedIn::new(&record, &self.contract));
                if let Some(id) = id {
                    cache.insert(id, Arc::clone(&signed_in), ticket, now, idle_timeout);
                }
                Ok(Some(signed_in))
            }
            Lookup::Expired(why) => {
                if let Some(id) = id {
                    cache.remove(&id);
                }
                self.metrics
                    .inc("samlgate_sessions_expired_total", &[("reason", why.kind())]);
                Ok(None)
            }
            Lookup::None => Ok(None),
        }
    }

    /// Whether the session under `id` is still one a request could be served in (not ended
    /// here or on another node, not idle or past its lifetime): what a WebSocket tunnel opened
    /// in it asks from time to time. This node's cache answers when it holds the session; the
    /// store otherwise. Nothing is touched or cached: a tunnel's traffic is not the user's
    /// activity.
    pub async fn still_valid(
        &self,
        id: &tower_sessions::session::Id,
    ) -> Result<bool, SessionStoreError> {
        use tower_sessions::SessionStore;
        let now = (self.clock)();
        if let Some(cache) = self.cache_in_step().await
            && cache.get(id, now, self.idle_timeout).is_some()
        {
            return Ok(true);
        }
        let Some(stored) = self
            .store
            .load(id)
            .await
            .map_err(|e| SessionStoreError(e.to_string()))?
        else {
            return Ok(false);
        };
        // A record that does not read back is not a session anyone is served in.
        let record = stored
            .data
            .get(RECORD_KEY)
            .and_then(|value| <SessionRecord as serde::Deserialize>::deserialize(value).ok());
        Ok(record.is_some_and(|record| check(&record, now, self.idle_timeout).is_ok()))
    }

    /// Start a logged-in session under a new session ID: whatever ID the browser brought is
    /// deleted, so a planted one cannot become the signed-in session.
    pub async fn establish(
        &self,
        session: &Session,
        record: &SessionRecord,
    ) -> Result<(), SessionStoreError> {
        establish(session, record, &self.cache).await
    }

    /// End the session, here and in the store; the record it held, if any. With Redis it
    /// returns only once no node serves the session any more.
    pub async fn end(&self, session: &Session) -> Result<Option<SessionRecord>, SessionStoreError> {
        let record = end(session, &self.cache).await?;
        if record.is_some() {
            self.settle().await;
        }
        Ok(record)
    }

    /// End the sessions with these IDs, whichever node serves them (single logout): each is
    /// dropped from this node's cache and deleted from the store; with Redis it returns only
    /// once every other node's cache has heard of the deletions through tracking. Says how
    /// many of them were still there and ended, and how many could not be ended.
    pub async fn end_ids(&self, ids: &[String]) -> EndedSessions {
        use tower_sessions::SessionStore;
        let mut ended = EndedSessions::default();
        for text in ids {
            // An ID the index holds is one we wrote; one that does not read back is stale.
            let Ok(id) = text.parse::<tower_sessions::session::Id>() else {
                continue;
            };
            self.cache.remove(&id);
            let existed = match self.store.load(&id).await {
                Ok(record) => record.is_some(),
                Err(e) => {
                    tracing::warn!("single logout: reading session before ending it: {e}");
                    true
                }
            };
            match self.store.delete(&id).await {
                Ok(()) if existed => ended.ended = ended.ended.saturating_add(1),
                Ok(()) => {}
                Err(e) => {
                    tracing::error!("single logout: could not end a session: {e}");
                    ended.failed = ended.failed.saturating_add(1);
                }
            }
            self.cache.remove(&id);
        }
        if ended.ended > 0 {
            self.settle().await;
        }
        ended
    }

    /// The time now, by the injected clock.
    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }
}

/// What [`Sessions::end_ids`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndedSessions {
    /// Sessions that were there and are gone.
    pub ended: usize,
    /// Sessions the store could not delete (it failed): they may still be served.
    pub failed: usize,
}

/// What the session cookie led to.
#[derive(Debug)]
pub enum Lookup {
    Valid(Box<SessionRecord>),
    Expired(Expired),
    None,
}

/// The session store failed; callers answer 503, never "logged in".
#[derive(Debug, thiserror::Error)]
#[error("session store: {0}")]
pub struct SessionStoreError(String);

impl From<tower_sessions::session::Error> for SessionStoreError {
    fn from(e: tower_sessions::session::Error) -> Self {
        SessionStoreError(e.to_string())
    }
}

/// Load and check the current session; an expired one is deleted.
pub async fn current(
    session: &Session,
    now: OffsetDateTime,
    idle_timeout: Duration,
) -> Result<Lookup, SessionStoreError> {
    let Some(mut record) = session.get::<SessionRecord>(RECORD_KEY).await? else {
        return Ok(Lookup::None);
    };
    if let Err(why) = check(&record, now, idle_timeout) {
        session.flush().await?;
        return Ok(Lookup::Expired(why));
    }
    if now - record.last_seen >= TOUCH_INTERVAL {
        record.last_seen = now;
        session.insert(RECORD_KEY, &record).await?;
        // The session layer would otherwise save the touched record with its default lifetime
        // (two weeks), long after the session itself ends: keep the store's expiry the
        // session's end, as at login.
        session.set_expiry(Some(Expiry::AtDateTime(record.not_after)));
    }
    Ok(Lookup::Valid(Box::new(record)))
}

/// Start a logged-in session under a NEW session ID: whatever ID the browser brought (an
/// attacker may have planted one) is deleted, so session fixation cannot work.
async fn establish(
    session: &Session,
    record: &SessionRecord,
    cache: &SessionCache,
) -> Result<(), SessionStoreError> {
    if let Some(old) = session.id() {
        cache.remove(&old);
    }
    session.clear().await;
    session.cycle_id().await?;
    session.insert(RECORD_KEY, record).await?;
    session.set_expiry(Some(Expiry::AtDateTime(record.not_after)));
    session.save().await?;
    Ok(())
}

/// End the session and delete it from the store.
async fn end(
    session: &Session,
    cache: &SessionCache,
) -> Result<Option<SessionRecord>, SessionStoreError> {
    // No ID: the browser brought no session (or one the store no longer has), so there is
    // nothing stored to delete; asking the layer to delete anyway only makes it log a warning.
    let Some(id) = session.id() else {
        session.clear().await;
        return Ok(None);
    };
    cache.remove(&id);
    let record = session.get::<SessionRecord>(RECORD_KEY).await?;
    session.flush().await?;
    Ok(record)
}

/// Whether [`Sessions::identity_of`] looks in the session cache before the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheLookup {
    Consult,
    /// The caller just did (the gate's fast path) and missed: go to the store.
    AlreadyMissed,
}
