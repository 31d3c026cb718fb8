//! Signed-in sessions of this node, decoded once: the identity and its encoded headers.
//!
//! Without it every proxied request loads the session record from the store, clones and
//! deserializes it, and percent-encodes the identity headers again: measured, that was most of
//! the gateway's own CPU per request beyond the proxying itself.
//!
//! Used only with the memory store. There every change to a session is made by this node,
//! through `session.rs`, which keeps the cache in step (a new login drops the old ID, logout and
//! expiry drop the entry, the idle-timeout touch replaces it). With a shared store (Redis)
//! another node may end a session at any moment, so every request reads the store.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use time::{Duration, OffsetDateTime};
use tower_sessions::session::Id;

use super::headers::{HeaderContract, Identity, IdentityHeaders};
use super::session::{self, SessionIdentity, SessionRecord};

/// Entries are swept of expired sessions at most this often (on insert).
const SWEEP_INTERVAL: Duration = Duration::seconds(60);

/// A valid session as the gate needs it.
#[derive(Debug)]
pub struct SignedIn {
    pub identity: SessionIdentity,
    /// The identity headers, encoded by the header contract once per session.
    pub headers: IdentityHeaders,
    last_seen: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl SignedIn {
    pub fn new(record: &SessionRecord, contract: &HeaderContract) -> Self {
        SignedIn {
            headers: IdentityHeaders::encode(contract, &Identity::from(&record.identity)),
            identity: record.identity.clone(),
            last_seen: record.last_seen,
            not_after: record.not_after,
        }
    }

    /// Still valid at `now`, and not yet due for the idle-timeout touch (which only the store
    /// path performs).
    fn fresh(&self, now: OffsetDateTime, idle_timeout: Duration) -> bool {
        session::check_times(self.not_after, self.last_seen, now, idle_timeout).is_ok()
            && now - self.last_seen < session::TOUCH_INTERVAL
    }
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<Id, Arc<SignedIn>>,
    last_sweep: Option<OffsetDateTime>,
}

/// Session ID -> decoded session, for one node's memory store.
#[derive(Debug, Default)]
pub struct SessionCache {
    entries: RwLock<Entries>,
}

impl SessionCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The cached session under `id` if it is still valid at `now` and needs no touch.
    pub fn get(
        &self,
        id: &Id,
        now: OffsetDateTime,
        idle_timeout: Duration,
    ) -> Option<Arc<SignedIn>> {
        // A poisoned lock only means another thread panicked mid-update of a plain map: the
        // entries are still whole, so keep serving rather than failing every request.
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .map
            .get(id)
            .filter(|s| s.fresh(now, idle_timeout))
            .cloned()
    }

    pub fn insert(
        &self,
        id: Id,
        signed_in: Arc<SignedIn>,
        now: OffsetDateTime,
        idle_timeout: Duration,
    ) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.last_sweep.is_none_or(|t| now - t >= SWEEP_INTERVAL) {
            entries.map.retain(|_, s| {
                session::check_times(s.not_after, s.last_seen, now, idle_timeout).is_ok()
            });
            entries.last_sweep = Some(now);
        }
        entries.map.insert(id, signed_in);
    }

    pub fn remove(&self, id: &Id) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.map.remove(id);
    }

    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .map
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const IDLE: Duration = Duration::minutes(30);

    fn signed_in(last_seen: OffsetDateTime, not_after: OffsetDateTime) -> Arc<SignedIn> {
        let record = SessionRecord {
            identity: SessionIdentity {
                user: "jmuller".into(),
                access_group: "MyOrg:Staff".into(),
                ..SessionIdentity::default()
            },
            idp: "corp".into(),
            idp_entity_id: "https://idp.example.org".into(),
            name_id: "jmuller".into(),
            session_index: None,
            created: last_seen,
            last_seen,
            not_after,
        };
        Arc::new(SignedIn::new(&record, &HeaderContract::default()))
    }

    #[test]
    fn serves_a_valid_session_until_its_touch_is_due() {
        let t0 = datetime!(2026-05-23 09:00 UTC);
        let cache = SessionCache::new();
        let id = Id::default();
        cache.insert(id, signed_in(t0, t0 + Duration::hours(8)), t0, IDLE);
        let hit = cache.get(&id, t0 + Duration::seconds(59), IDLE);
        assert_eq!(
            hit.map(|s| s.identity.user.clone()).as_deref(),
            Some("jmuller")
        );
        // From the touch interval on, the store path must run (it writes last_seen back).
        assert!(cache.get(&id, t0 + session::TOUCH_INTERVAL, IDLE).is_none());
    }

    #[test]
    fn never_serves_a_session_past_its_end() {
        let t0 = datetime!(2026-05-23 09:00 UTC);
        let cache = SessionCache::new();
        let id = Id::default();
        cache.insert(id, signed_in(t0, t0 + Duration::seconds(30)), t0, IDLE);
        assert!(cache.get(&id, t0 + Duration::seconds(30), IDLE).is_none());
    }

    #[test]
    fn removed_session_is_gone_and_other_ids_never_match() {
        let t0 = datetime!(2026-05-23 09:00 UTC);
        let cache = SessionCache::new();
        let (a, b) = (Id::default(), Id::default());
        cache.insert(a, signed_in(t0, t0 + Duration::hours(8)), t0, IDLE);
        assert!(cache.get(&b, t0, IDLE).is_none());
        cache.remove(&a);
        assert!(cache.get(&a, t0, IDLE).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn insert_sweeps_expired_sessions() {
        let t0 = datetime!(2026-05-23 09:00 UTC);
        let cache = SessionCache::new();
        cache.insert(
            Id::default(),
            signed_in(t0, t0 + Duration::minutes(5)),
            t0,
            IDLE,
        );
        let later = t0 + Duration::hours(1);
        cache.insert(
            Id::default(),
            signed_in(later, later + Duration::hours(8)),
            later,
            IDLE,
        );
        assert_eq!(cache.len(), 1);
    }
}
