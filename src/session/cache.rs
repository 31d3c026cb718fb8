//! Signed-in sessions of this node, decoded once: the identity and its encoded headers.
//!
//! Without it every proxied request loads the session record from the store, clones and
//! deserializes it, and percent-encodes the identity headers again: measured, that was most of
//! the gateway's own CPU per request beyond the proxying itself.
//!
//! With the memory store every change to a session is made by this node, through `session.rs`,
//! which keeps the cache in step (a new login drops the old ID, logout and expiry drop the entry,
//! the idle-timeout touch replaces it). There the decoded session is kept inside the store's own
//! entry (`session_store`), in place of the record it was decoded from, so a node holds each
//! session once, and a decoded session can never outlive its record. With Redis another node may
//! end a session at any moment: there Redis itself reports every change
//! (`store::session_tracking`), and the gate reads the cache only after a round trip that proves
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

use serde::Serialize;
use time::{Duration, OffsetDateTime};
use tower_sessions::session::Id;

use super::tracking::InvalidationSink;
use crate::store::expiring_map::{ExpiringMap, Key, SWEEP_PER_WRITE, saturate, unix_nanos};

use super::memory_store::SweepingMemoryStore;
use super::record::{self, RECORD_KEY, SessionRecord};
use crate::identity::Operator;
use crate::identity::headers::{HeaderContract, IdentityHeaders, IdentityView};
use crate::identity::shared_text::{Text, TextBuilder, intern};

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// The session store's key for a session ID.
pub(crate) fn key_of(id: &Id) -> Key {
    let bits = id.0 as u128;
    [bits as u64, (bits >> 64) as u64]
}

/// A valid session as the gate needs it.
///
/// It holds the whole session record, so that the memory store can keep it in place of the
/// record (see the module documentation). Its strings share one buffer with the values of its
/// identity headers.
///
/// The times come first (`repr(C)` keeps them there): a lookup reads them and the reference
/// count right before them, and with a million sessions each line it reads is a miss.
#[derive(Debug)]
#[repr(C)]
pub struct SignedIn {
    /// Whole seconds, as the record stores them.
    times: LoginTimes,
    pub identity: Operator,
    /// The identity headers, encoded by the header contract once per session.
    pub headers: IdentityHeaders,
    record: RecordFacts,
}

/// The rest of the session record.
#[derive(Debug)]
struct RecordFacts {
    idp: Arc<String>,
    idp_entity_id: Arc<String>,
    name_id: Text,
    session_index: Option<Text>,
}

/// The instants of a login record, in Unix seconds: they tell which write of a session a
/// decoded copy was made from (a session ID holds one identity for its whole life: a login
/// always takes a new ID).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LoginTimes {
    pub created: i64,
    pub last_seen: i64,
    pub not_after: i64,
}

impl LoginTimes {
    /// The times of a record as the session layer stores it (`{RECORD_KEY: SessionRecord}`).
    pub fn of_record_value(record: &serde_json::Value) -> Option<Self> {
        Some(LoginTimes {
            created: record.get("created")?.as_i64()?,
            last_seen: record.get("last_seen")?.as_i64()?,
            not_after: record.get("not_after")?.as_i64()?,
        })
    }

    /// Is `later` the same login, as it was then or after its idle-timeout touch?
    pub fn same_login_no_newer_than(&self, later: &LoginTimes) -> bool {
        self.created == later.created
            && self.not_after == later.not_after
            && self.last_seen <= later.last_seen
    }
}

/// The record as `SessionRecord` serializes it, borrowed from a [`SignedIn`]: field for field the
/// same names and forms (a test holds the two together).
#[derive(Serialize)]
struct RecordView<'a> {
    identity: &'a Operator,
    idp: &'a str,
    idp_entity_id: &'a str,
    name_id: &'a str,
    session_index: Option<&'a str>,
    created: i64,
    last_seen: i64,
    not_after: i64,
}

impl SignedIn {
    pub fn new(record: &SessionRecord, contract: &HeaderContract) -> Self {
        let id = &record.identity;
        // The identity's own strings first: a header value equal to one (a plain value) is then
        // found there rather than stored again.
        let mut text = TextBuilder::new();
        let mut put = |s: &str| text.put(s);
        let user = put(&id.user);
        let email = id.email.as_deref().map(&mut put);
        let preferred_username = id.preferred_username.as_deref().map(&mut put);
        let name = id.name.as_deref().map(&mut put);
        let name_id = put(&record.name_id);
        let session_index = record.session_index.as_deref().map(&mut put);
        let view = IdentityView {
            user: &id.user,
            email: id.email.as_deref(),
            preferred_username: id.preferred_username.as_deref(),
            groups: id.groups.iter().map(|g| g.as_str()).collect(),
            access_group: &id.access_group,
            name: id.name.as_deref(),
            extra: &id.extra,
        };
        let plan = IdentityHeaders::plan(contract, &view, &mut text);
        let buffer = text.finish();
        let slice = |piece: Option<_>, whole: &str| match piece {
            Some(piece) => TextBuilder::text(&buffer, &piece),
            // Only a string over 4 GiB has no piece; keep it on its own.
            None => Text::from(whole),
        };
        let optional = |piece: Option<Option<_>>, whole: &Option<Text>| {
            whole.as_deref().map(|w| slice(piece.flatten(), w))
        };
        SignedIn {
            times: LoginTimes {
                created: record.created.unix_timestamp(),
                last_seen: record.last_seen.unix_timestamp(),
                not_after: record.not_after.unix_timestamp(),
            },
            identity: Operator {
                user: slice(user, &id.user),
                email: optional(email, &id.email),
                preferred_username: optional(preferred_username, &id.preferred_username),
                name: optional(name, &id.name),
                access_group: id.access_group.clone(),
                groups: id.groups.clone(),
                extra: id.extra.clone(),
            },
            headers: IdentityHeaders::from_plan(contract, plan, &buffer),
            record: RecordFacts {
                idp: intern(&record.idp),
                idp_entity_id: intern(&record.idp_entity_id),
                name_id: slice(name_id, &record.name_id),
                session_index: record
                    .session_index
                    .as_deref()
                    .map(|w| slice(session_index.flatten(), w)),
            },
        }
    }

    pub(crate) fn times(&self) -> LoginTimes {
        self.times
    }

    /// The session record, as the session layer stores it under its key.
    pub(crate) fn record_data(
        &self,
    ) -> Result<std::collections::HashMap<String, serde_json::Value>, serde_json::Error> {
        let view = RecordView {
            identity: &self.identity,
            idp: &self.record.idp,
            idp_entity_id: &self.record.idp_entity_id,
            name_id: &self.record.name_id,
            session_index: self.record.session_index.as_deref(),
            created: self.times.created,
            last_seen: self.times.last_seen,
            not_after: self.times.not_after,
        };
        Ok(std::collections::HashMap::from([(
            RECORD_KEY.to_string(),
            serde_json::to_value(view)?,
        )]))
    }

    /// Still valid at `now` (Unix nanoseconds), and not yet due for the idle-timeout touch
    /// (which only the store path performs). The same decision as `record::check_times`, on
    /// integers.
    pub(crate) fn fresh_at(&self, now: i128, idle_timeout: Duration) -> bool {
        now < self.usable_until(idle_timeout)
    }

    /// The instant (Unix nanoseconds) from which this copy is no longer served: the session's
    /// end, its idle timeout, or its touch, whichever is first.
    fn usable_until(&self, idle_timeout: Duration) -> i128 {
        let seconds = |s: i64| i128::from(s) * NANOS_PER_SECOND;
        let idle = idle_timeout
            .whole_nanoseconds()
            .min(record::TOUCH_INTERVAL.whole_nanoseconds());
        seconds(self.times.not_after).min(seconds(self.times.last_seen) + idle)
    }
}

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
