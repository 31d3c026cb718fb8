//! Signed-in sessions of this node, decoded once: the identity and its encoded headers.
//!
//! Without it every proxied request loads the session record from the store, clones and
//! deserializes it, and percent-encodes the identity headers again: most of the gateway's own
//! CPU per request beyond the proxying itself.
//!
//! With the memory store every change to a session is made by this node, through [`super::Sessions`],
//! which keeps the cache in step (a new login drops the old ID, logout and expiry drop the entry,
//! the idle-timeout touch replaces it). There the decoded session is kept inside the store's own
//! entry (`memory_store`), in place of the record it was decoded from, so a node holds each
//! session once, and a decoded session can never outlive its record. With Redis another node may
//! end a session at any moment: there Redis itself reports every change
//! (`session::tracking`), and the gate reads the cache only after a round trip that proves
//! every report sent before the request is applied.
//!
//! A load that raced a removal must not put the old session back. In Redis mode an entry is
//! inserted only with the [`Ticket`] taken before its load, and only if nothing was removed
//! since; over the memory store a decoded session only ever replaces the very record it was
//! decoded from, so a removed record cannot come back.
//!
//! A cached session is of use only until its idle-timeout touch is due (then the store path
//! runs), so entries expire then, and are swept a bounded amount per insert
//! (`store::expiring_map`), never by walking every entry.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use time::{Duration, OffsetDateTime};
use tower_sessions::session::Id;

use super::memory_store::SweepingMemoryStore;
use super::signed_in::{SignedIn, key_of};
use super::tracking::InvalidationSink;
use crate::store::expiring_map::{ExpiringMap, SWEEP_PER_WRITE, saturate, unix_nanos};

/// Taken before a session is loaded from the store; the load's result may enter the cache only
/// if no entry was removed meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket(u64);

/// Session ID -> decoded session, for one node.
#[derive(Debug)]
pub struct SessionCache {
    backing: Backing,
}

#[derive(Debug)]
enum Backing {
    /// Redis: the decoded sessions are kept here.
    Own {
        entries: ExpiringMap<Arc<SignedIn>>,
        /// Counts removals: a load that started before one may have read what it removed.
        removals: AtomicU64,
    },
    /// The memory store keeps them in its own entries.
    Store(SweepingMemoryStore),
}

impl Default for SessionCache {
    fn default() -> Self {
        SessionCache {
            backing: Backing::Own {
                entries: ExpiringMap::new(),
                removals: AtomicU64::new(0),
            },
        }
    }
}

impl SessionCache {
    /// A cache of its own, kept in step with a shared store by invalidations (Redis).
    pub fn new() -> Self {
        Self::default()
    }

    /// The cache of a node on the memory store: decoded sessions live in `store`'s entries.
    pub fn over_memory_store(store: SweepingMemoryStore) -> Self {
        SessionCache {
            backing: Backing::Store(store),
        }
    }

    /// The cached session under `id` if it is still valid at `now` and needs no touch.
    pub fn get(
        &self,
        id: &Id,
        now: OffsetDateTime,
        idle_timeout: Duration,
    ) -> Option<Arc<SignedIn>> {
        match &self.backing {
            Backing::Own { entries, .. } => {
                let key = key_of(id);
                let now = now.unix_timestamp_nanos();
                entries
                    .shard(&key)
                    .get(&key, saturate(now))
                    .map(|(s, _)| s)
                    .filter(|s| s.fresh_at(now, idle_timeout))
                    .cloned()
            }
            Backing::Store(store) => store.decoded(id, now, idle_timeout),
        }
    }

    /// Take before loading a session whose result may be inserted.
    pub fn ticket(&self) -> Ticket {
        match &self.backing {
            Backing::Own { removals, .. } => Ticket(removals.load(Ordering::SeqCst)),
            Backing::Store(_) => Ticket(0),
        }
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
        match &self.backing {
            Backing::Own { entries, removals } => {
                let key = key_of(&id);
                let until = signed_in.usable_until(idle_timeout);
                let until = i64::try_from(until).unwrap_or(i64::MAX);
                {
                    let mut shard = entries.shard(&key);
                    // Checked under the shard's lock, and removals count before they remove: a
                    // removal of this ID either came first (and is seen here) or comes after.
                    if removals.load(Ordering::SeqCst) != ticket.0 {
                        return false;
                    }
                    shard.insert(key, signed_in, until);
                }
                entries.sweep(unix_nanos(now), SWEEP_PER_WRITE);
                true
            }
            Backing::Store(store) => store.attach(&id, signed_in),
        }
    }

    pub fn remove(&self, id: &Id) {
        self.remove_all(std::slice::from_ref(id));
    }

    pub fn remove_all(&self, ids: &[Id]) {
        match &self.backing {
            Backing::Own { entries, removals } => {
                removals.fetch_add(1, Ordering::SeqCst);
                for id in ids {
                    let key = key_of(id);
                    entries.shard(&key).remove(&key);
                }
            }
            Backing::Store(store) => {
                for id in ids {
                    store.detach(id);
                }
            }
        }
    }

    /// Forget every session (Redis may have changed anything: a missed report, a reconnect).
    pub fn clear(&self) {
        match &self.backing {
            Backing::Own { entries, removals } => {
                removals.fetch_add(1, Ordering::SeqCst);
                entries.clear();
            }
            Backing::Store(store) => store.detach_all(),
        }
    }

    /// Sessions held decoded (in Redis mode, expired ones too until they are swept).
    pub fn len(&self) -> usize {
        match &self.backing {
            Backing::Own { entries, .. } => entries.len(),
            Backing::Store(store) => store.decoded_len(),
        }
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
mod tests;
