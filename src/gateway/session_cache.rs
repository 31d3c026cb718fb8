//! Signed-in sessions of this node, decoded once: the identity and its encoded headers.
//!
//! Without it every proxied request loads the session record from the store, clones and
//! deserializes it, and percent-encodes the identity headers again: measured, that was most of
//! the gateway's own CPU per request beyond the proxying itself.
//!
//! With the memory store every change to a session is made by this node, through `session.rs`,
//! which keeps the cache in step (a new login drops the old ID, logout and expiry drop the entry,
//! the idle-timeout touch replaces it). With Redis another node may end a session at any moment:
//! there Redis itself reports every change (`store::session_tracking`), and the gate reads the
//! cache only after a round trip that proves every report sent before the request is applied.
//!
//! A load that raced a removal must not put the old session back: an entry is inserted only
//! with the [`Ticket`] taken before its load, and only if nothing was removed since.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use time::{Duration, OffsetDateTime};
use tower_sessions::session::Id;

use crate::store::InvalidationSink;

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
    /// Counts removals: a load that started before one may have read what it removed.
    removals: u64,
}

/// Taken before a session is loaded from the store; the load's result may enter the cache only
/// if no entry was removed meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket(u64);

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

    /// Take before loading a session whose result may be inserted.
    pub fn ticket(&self) -> Ticket {
        Ticket(
            self.entries
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .removals,
        )
    }

    /// Cache `signed_in`, loaded after `ticket` was taken, unless something was removed since
    /// (then the load may have raced a logout; the next request loads again). Returns whether
    /// it was inserted.
    pub fn insert(
        &self,
        id: Id,
        signed_in: Arc<SignedIn>,
        ticket: Ticket,
        now: OffsetDateTime,
        idle_timeout: Duration,
    ) -> bool {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.removals != ticket.0 {
            return false;
        }
        if entries.last_sweep.is_none_or(|t| now - t >= SWEEP_INTERVAL) {
            entries.map.retain(|_, s| {
                session::check_times(s.not_after, s.last_seen, now, idle_timeout).is_ok()
            });
            entries.last_sweep = Some(now);
        }
        entries.map.insert(id, signed_in);
        true
    }

    pub fn remove(&self, id: &Id) {
        self.remove_all(std::slice::from_ref(id));
    }

    pub fn remove_all(&self, ids: &[Id]) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        for id in ids {
            entries.map.remove(id);
        }
        entries.removals = entries.removals.wrapping_add(1);
    }

    /// Forget every session (Redis may have changed anything: a missed report, a reconnect).
    pub fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.map.clear();
        entries.removals = entries.removals.wrapping_add(1);
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

impl InvalidationSink for SessionCache {
    fn invalidate(&self, ids: &[Id]) {
        self.remove_all(ids);
    }

    fn invalidate_all(&self) {
        self.clear();
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
        let ticket = cache.ticket();
        cache.insert(id, signed_in(t0, t0 + Duration::hours(8)), ticket, t0, IDLE);
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
        let ticket = cache.ticket();
        cache.insert(
            id,
            signed_in(t0, t0 + Duration::seconds(30)),
            ticket,
            t0,
            IDLE,
        );
        assert!(cache.get(&id, t0 + Duration::seconds(30), IDLE).is_none());
    }

    #[test]
    fn removed_session_is_gone_and_other_ids_never_match() {
        let t0 = datetime!(2026-05-23 09:00 UTC);
        let cache = SessionCache::new();
        let (a, b) = (Id::default(), Id::default());
        let ticket = cache.ticket();
        cache.insert(a, signed_in(t0, t0 + Duration::hours(8)), ticket, t0, IDLE);
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
            cache.ticket(),
            t0,
            IDLE,
        );
        let later = t0 + Duration::hours(1);
        cache.insert(
            Id::default(),
            signed_in(later, later + Duration::hours(8)),
            cache.ticket(),
            later,
            IDLE,
        );
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_load_that_raced_a_removal_is_not_cached() {
        let t0 = datetime!(2026-05-23 09:00 UTC);
        let cache = SessionCache::new();
        let (a, b) = (Id::default(), Id::default());
        // Request 1 takes its ticket and loads session `a`; meanwhile a logout removes it.
        let ticket = cache.ticket();
        cache.remove(&a);
        assert!(!cache.insert(a, signed_in(t0, t0 + Duration::hours(8)), ticket, t0, IDLE));
        assert!(cache.get(&a, t0, IDLE).is_none());
        // A clear (Redis reconnected, say) invalidates tickets the same way.
        let ticket = cache.ticket();
        cache.clear();
        assert!(!cache.insert(b, signed_in(t0, t0 + Duration::hours(8)), ticket, t0, IDLE));
        // A load that started after both is cached.
        let ticket = cache.ticket();
        assert!(cache.insert(b, signed_in(t0, t0 + Duration::hours(8)), ticket, t0, IDLE));
        assert!(cache.get(&b, t0, IDLE).is_some());
    }
}
