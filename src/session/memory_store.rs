//! The in-memory session store. tower-sessions' own `MemoryStore` never forgets a session
//! that nobody comes back to, so a long-running gateway would grow without bound; this one
//! drops expired records, a bounded number per write (`store::expiring_map`), and keeps every
//! operation's cost flat however many sessions the node holds: the records are sharded, each
//! shard under its own lock, and nothing walks them all.
//!
//! A record is held as the JSON the session layer gave it. A login record that a request has
//! decoded is held as that decoded session instead (`signed_in::SignedIn`, which carries
//! the whole record), so the session cache reads it straight from here and the node keeps one
//! copy of each session, not two.
//!
//! tower-sessions gives a record it saves again a fortnight to live; a login record is
//! dropped an hour after its session's end at the latest ([`LOGIN_GRACE`]), so sessions that
//! nobody comes back to do not pile up for two weeks.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;

use crate::store::expiring_map::{ExpiringMap, SWEEP_PER_WRITE, saturate, unix_nanos};

use super::record::RECORD_KEY;
use super::signed_in::{LoginTimes, SignedIn, key_of};
use crate::ops::clock::{Clock, system_clock};

/// How long a login record is kept after its session's end: long enough that a browser coming
/// back soon is told its session expired (and the expiry is counted), not longer.
pub const LOGIN_GRACE: Duration = Duration::hours(1);

/// Sessions of one node, expired ones swept.
#[derive(Clone, Debug)]
pub struct SweepingMemoryStore(Arc<Inner>);

struct Inner {
    records: ExpiringMap<Held>,
    clock: Clock,
    /// How many records are held decoded.
    decoded: AtomicUsize,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SweepingMemoryStore")
            .field("decoded", &self.decoded)
            .finish_non_exhaustive()
    }
}

/// One record.
enum Held {
    Data(Box<Data>),
    /// A login record, decoded by a request with its identity headers.
    SignedIn(Arc<SignedIn>),
}

/// A record as the session layer wrote it.
struct Data {
    json: Box<[u8]>,
    /// The times of a login record (`None`: any other record).
    login: Option<LoginTimes>,
}

impl Held {
    fn of(record: &Record) -> Result<Self, session_store::Error> {
        let json = serde_json::to_vec(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let login = match (record.data.len(), record.data.get(RECORD_KEY)) {
            (1, Some(value)) => LoginTimes::of_record_value(value),
            _ => None,
        };
        Ok(Held::Data(Box::new(Data {
            json: json.into_boxed_slice(),
            login,
        })))
    }

    fn login_times(&self) -> Option<LoginTimes> {
        match self {
            Held::Data(data) => data.login,
            Held::SignedIn(s) => Some(s.times()),
        }
    }
}

/// What `load` copies out under the lock, to decode after it.
enum Loaded {
    Json(Box<[u8]>),
    SignedIn(Arc<SignedIn>),
}

impl Default for SweepingMemoryStore {
    fn default() -> Self {
        Self::with_clock(system_clock())
    }
}

impl SweepingMemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that expires records by `clock` (tests move it forward).
    pub fn with_clock(clock: Clock) -> Self {
        SweepingMemoryStore(Arc::new(Inner {
            records: ExpiringMap::new(),
            clock,
            decoded: AtomicUsize::new(0),
        }))
    }

    /// Number of records held (expired ones included until they are swept).
    pub async fn len(&self) -> usize {
        self.0.records.len()
    }

    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }

    fn now(&self) -> OffsetDateTime {
        (self.0.clock)()
    }

    /// When a record is dropped: its own expiry, or for a login record an hour after the
    /// session's end if that is sooner.
    fn expiry(record_expiry: OffsetDateTime, held: &Held) -> i64 {
        let own = unix_nanos(record_expiry);
        match held.login_times() {
            Some(t) => {
                let end = OffsetDateTime::from_unix_timestamp(t.not_after)
                    .map(|end| unix_nanos(end.saturating_add(LOGIN_GRACE)))
                    .unwrap_or(own);
                own.min(end)
            }
            None => own,
        }
    }

    /// Drop a bounded number of expired records, keeping the count of decoded ones right. Call
    /// with no shard locked.
    fn sweep(&self, now: i64) {
        for gone in self.0.records.sweep(now, SWEEP_PER_WRITE) {
            self.forget(Some(gone));
        }
    }

    fn forget(&self, gone: Option<Held>) {
        if let Some(Held::SignedIn(_)) = gone {
            self.0.decoded.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The decoded session under `id`, if it is still valid at `now` and needs no touch (the
    /// session cache's read over this store, on every proxied request). The record's own expiry
    /// is also checked at the caller's `now` rather than by reading the store's clock again: the
    /// same instant in production, and where a test runs the caller's clock ahead, a stricter
    /// one, which costs only a miss.
    pub fn decoded(
        &self,
        id: &Id,
        now: OffsetDateTime,
        idle_timeout: Duration,
    ) -> Option<Arc<SignedIn>> {
        let key = key_of(id);
        let now = now.unix_timestamp_nanos();
        match self.0.records.shard(&key).get(&key, saturate(now)) {
            Some((Held::SignedIn(s), _)) if s.fresh_at(now, idle_timeout) => Some(Arc::clone(s)),
            _ => None,
        }
    }

    /// Hold `signed_in` in place of the record under `id` it was decoded from: only if that
    /// record is still there, unexpired, and is the same login as `signed_in` at the same or an
    /// earlier touch (the request that decoded it may have just touched it; its save follows).
    /// A record removed meanwhile (a logout) is therefore never brought back.
    pub fn attach(&self, id: &Id, signed_in: Arc<SignedIn>) -> bool {
        let key = key_of(id);
        let now = unix_nanos(self.now());
        let mut shard = self.0.records.shard(&key);
        let expiry = match shard.get(&key, now) {
            Some((held, expiry))
                if held
                    .login_times()
                    .is_some_and(|t| t.same_login_no_newer_than(&signed_in.times())) =>
            {
                expiry
            }
            _ => return false,
        };
        let replaced = shard.insert(key, Held::SignedIn(signed_in), expiry);
        drop(shard);
        self.0.decoded.fetch_add(1, Ordering::Relaxed);
        self.forget(replaced);
        self.sweep(now);
        true
    }

    /// Hold the record under `id` as data again, if it is held decoded.
    pub fn detach(&self, id: &Id) {
        let key = key_of(id);
        let mut shard = self.0.records.shard(&key);
        if let Some((held, _)) = shard.get_mut(&key) {
            self.undecode(held);
        }
    }

    /// [`SweepingMemoryStore::detach`] every record, a shard at a time.
    pub fn detach_all(&self) {
        self.0.records.for_each_shard(|shard| {
            for held in shard.values_mut() {
                self.undecode(held);
            }
        });
    }

    fn undecode(&self, held: &mut Held) {
        let Held::SignedIn(s) = held else { return };
        let data = s.record_data().and_then(|data| serde_json::to_vec(&data));
        match data {
            Ok(json) => {
                *held = Held::Data(Box::new(Data {
                    json: json.into_boxed_slice(),
                    login: Some(s.times()),
                }));
                self.0.decoded.fetch_sub(1, Ordering::Relaxed);
            }
            // Not expected (the record serialized once already); keeping it decoded is what
            // it was.
            Err(e) => tracing::error!("session store: cannot re-encode a session: {e}"),
        }
    }

    /// How many records are held decoded.
    pub fn decoded_len(&self) -> usize {
        self.0.decoded.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl SessionStore for SweepingMemoryStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let held = Held::of(record)?;
        let now = unix_nanos(self.now());
        loop {
            let key = key_of(&record.id);
            let mut shard = self.0.records.shard(&key);
            // Session IDs are 128 random bits; a collision is re-drawn rather than overwritten.
            if shard.contains(&key) {
                drop(shard);
                record.id = Id::default();
                continue;
            }
            let expiry = Self::expiry(record.expiry_date, &held);
            shard.insert(key, held, expiry);
            drop(shard);
            self.sweep(now);
            return Ok(());
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let held = Held::of(record)?;
        let now = unix_nanos(self.now());
        let key = key_of(&record.id);
        let expiry = Self::expiry(record.expiry_date, &held);
        let mut shard = self.0.records.shard(&key);
        // A save of exactly what is held decoded (the touch whose decoded copy is already here)
        // keeps the decoded copy; anything else replaces it.
        let unchanged = match (shard.get_mut(&key), held.login_times()) {
            (Some((Held::SignedIn(s), _)), Some(times)) => s.times() == times,
            _ => false,
        };
        let replaced = if unchanged {
            shard.set_expiry(&key, expiry);
            None
        } else {
            shard.insert(key, held, expiry)
        };
        drop(shard);
        self.forget(replaced);
        self.sweep(now);
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let key = key_of(id);
        let found = self
            .0
            .records
            .shard(&key)
            .get(&key, unix_nanos(self.now()))
            .map(|(held, expiry)| {
                let loaded = match held {
                    Held::Data(data) => Loaded::Json(data.json.clone()),
                    Held::SignedIn(s) => Loaded::SignedIn(Arc::clone(s)),
                };
                (loaded, expiry)
            });
        // Decoded after the shard's lock is released.
        let Some((loaded, expiry)) = found else {
            return Ok(None);
        };
        let data: HashMap<String, serde_json::Value> = match loaded {
            Loaded::Json(json) => serde_json::from_slice(&json),
            Loaded::SignedIn(s) => s.record_data(),
        }
        .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = OffsetDateTime::from_unix_timestamp_nanos(i128::from(expiry))
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let key = key_of(id);
        let gone = self.0.records.shard(&key).remove(&key);
        self.forget(gone);
        self.sweep(unix_nanos(self.now()));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
