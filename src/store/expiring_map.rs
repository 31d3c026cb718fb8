//! A map whose entries expire, for the stores of one node that hold one entry per session.
//!
//! Two things keep every operation's cost flat however many entries there are:
//!
//! - **Shards.** The map is split by key into shards, each under its own lock, so a lookup waits
//!   only for operations on the same shard, never for the whole map.
//! - **An expiry wheel.** Keys are filed under the minute they expire in; each write then takes
//!   at most [`SWEEP_PER_WRITE`] due keys off the oldest minute ([`ExpiringMap::sweep`]) and
//!   drops the entries that are really expired. Nothing ever walks the whole map. An entry whose
//!   expiry moved later is refiled when its old minute comes due, so a key is filed about once
//!   however often it is rewritten. The wheel has a lock of its own that lookups never take.
//!
//! Keys are 128 bits that the node drew at random or that a keyed hash produced, so the
//! [`KeyHasher`] only mixes them rather than hashing them with a keyed hash again.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard};

use time::OffsetDateTime;

/// A 128-bit key (a session ID, or a keyed digest).
pub type Key = [u64; 2];

/// Number of shards: enough that two cores rarely meet on one lock, few enough that a small
/// map costs little.
const SHARDS: usize = 64;
/// Wheel granularity: an expired entry is dropped within about this long after it expires (its
/// lookups refuse it from the exact instant on).
const MINUTE_NANOS: i64 = 60_000_000_000;
/// Due keys examined per write: more than one, so that the wheel keeps up with the writes that
/// file keys.
pub const SWEEP_PER_WRITE: usize = 16;

/// Unix nanoseconds, saturated to `i64` (the years 1677-2262; beyond, an instant is treated as
/// the nearest end, which only ever moves an expiry that far away further still).
pub fn unix_nanos(t: OffsetDateTime) -> i64 {
    saturate(t.unix_timestamp_nanos())
}

/// Unix nanoseconds as `i128` (what `time` gives), saturated to `i64` as [`unix_nanos`] does.
pub fn saturate(nanos: i128) -> i64 {
    i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX })
}

/// The hash of a key: its bits, mixed.
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        // splitmix64's finalizer: every bit of the key reaches every bit of the hash, so keys that
        // are not random (tests use small ones) still spread over the table.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            for (w, b) in word.iter_mut().zip(chunk) {
                *w = *b;
            }
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = self.0.rotate_left(29) ^ v;
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

fn shard_of(key: &Key) -> usize {
    // The low bits of a random key; `% SHARDS` keeps the index in range whatever the key.
    (key[0] as usize) % SHARDS
}

/// The minute bucket whose start is at or after `expires`: when that minute has begun, every key
/// filed in it has expired (or was refiled later).
fn bucket_of(expires: i64) -> i64 {
    expires.div_euclid(MINUTE_NANOS).saturating_add(1)
}

struct Slot<V> {
    expires: i64,
    value: V,
}

type Entries<V> = HashMap<Key, Slot<V>, BuildHasherDefault<KeyHasher>>;

/// Keys by the minute they expire in.
type Wheel = BTreeMap<i64, Vec<Key>>;

/// The sharded map.
pub struct ExpiringMap<V> {
    shards: Box<[Mutex<Entries<V>>]>,
    wheel: Mutex<Wheel>,
}

/// One shard, locked: its part of the map.
pub struct Shard<'a, V> {
    entries: MutexGuard<'a, Entries<V>>,
    wheel: &'a Mutex<Wheel>,
}

impl<V> Default for ExpiringMap<V> {
    fn default() -> Self {
        ExpiringMap {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            wheel: Mutex::default(),
        }
    }
}

impl<V> std::fmt::Debug for ExpiringMap<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExpiringMap").finish_non_exhaustive()
    }
}

/// A poisoned lock only means another thread panicked mid-update of a plain map: the entries are
/// still whole, so keep serving rather than failing every request.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn file(wheel: &Mutex<Wheel>, key: Key, expires: i64) {
    lock(wheel).entry(bucket_of(expires)).or_default().push(key);
}

impl<V> ExpiringMap<V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The shard that holds `key`, locked. Lock order: a shard, then the wheel (never the
    /// reverse), and one shard at a time.
    pub fn shard(&self, key: &Key) -> Shard<'_, V> {
        Shard {
            entries: lock(&self.shards[shard_of(key)]),
            wheel: &self.wheel,
        }
    }

    /// Look at up to `limit` keys whose minute has come at `now`: drop the entries that expired
    /// (returned, for the caller's bookkeeping) and refile the ones whose expiry moved later.
    /// Call with no shard locked.
    pub fn sweep(&self, now: i64, limit: usize) -> Vec<V> {
        let due = {
            let mut wheel = lock(&self.wheel);
            let mut due = Vec::new();
            while due.len() < limit {
                let Some(mut bucket) = wheel.first_entry() else {
                    break;
                };
                if bucket.key().saturating_mul(MINUTE_NANOS) > now {
                    break;
                }
                let keys = bucket.get_mut();
                let take = keys.len().min(limit - due.len());
                due.extend(keys.drain(keys.len() - take..));
                if keys.is_empty() {
                    bucket.remove();
                }
            }
            due
        };
        let mut dropped = Vec::new();
        for key in due {
            let mut shard = self.shard(&key);
            match shard.entries.get(&key).map(|s| s.expires) {
                Some(expires) if expires <= now => {
                    if let Some(slot) = shard.entries.remove(&key) {
                        dropped.push(slot.value);
                    }
                }
                Some(expires) => file(&self.wheel, key, expires),
                // Removed earlier: nothing left to do.
                None => {}
            }
        }
        dropped
    }

    /// Every shard in turn, each locked only while `f` runs on it.
    pub fn for_each_shard(&self, mut f: impl FnMut(&mut Shard<'_, V>)) {
        for entries in self.shards.iter() {
            f(&mut Shard {
                entries: lock(entries),
                wheel: &self.wheel,
            });
        }
    }

    /// Drop every entry. Their keys stay filed until their minute, when the sweep finds
    /// nothing under them; entries inserted meanwhile keep theirs.
    pub fn clear(&self) {
        for entries in self.shards.iter() {
            lock(entries).clear();
        }
    }

    /// Entries held, expired ones included until they are swept.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys filed in the wheel (live and stale), for tests of its bound.
    pub fn filed(&self) -> usize {
        lock(&self.wheel).values().map(Vec::len).sum()
    }
}

impl<V> Shard<'_, V> {
    /// The entry under `key` and its expiry, if it has not expired at `now`.
    pub fn get(&self, key: &Key, now: i64) -> Option<(&V, i64)> {
        self.entries
            .get(key)
            .filter(|s| s.expires > now)
            .map(|s| (&s.value, s.expires))
    }

    /// The entry under `key`, expired or not, and its expiry, for changing it in place.
    pub fn get_mut(&mut self, key: &Key) -> Option<(&mut V, i64)> {
        self.entries.get_mut(key).map(|s| (&mut s.value, s.expires))
    }

    pub fn contains(&self, key: &Key) -> bool {
        self.entries.contains_key(key)
    }

    /// Put `value` under `key` until `expires`, returning what was there (expired or not).
    pub fn insert(&mut self, key: Key, value: V, expires: i64) -> Option<V> {
        let old = self.entries.insert(key, Slot { expires, value });
        // Refile only when the new expiry is earlier than the one the key is filed under; a later
        // one is refiled when the earlier minute comes due.
        if old.as_ref().is_none_or(|o| expires < o.expires) {
            file(self.wheel, key, expires);
        }
        old.map(|o| o.value)
    }

    /// Change the expiry of the entry under `key`, if there is one.
    pub fn set_expiry(&mut self, key: &Key, expires: i64) {
        if let Some(slot) = self.entries.get_mut(key) {
            let earlier = expires < slot.expires;
            slot.expires = expires;
            if earlier {
                file(self.wheel, *key, expires);
            }
        }
    }

    pub fn remove(&mut self, key: &Key) -> Option<V> {
        self.entries.remove(key).map(|s| s.value)
    }

    /// Every entry of this shard, expired or not, for changes that must reach all of them.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.values_mut().map(|s| &mut s.value)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests;
