//! Single-use entries: the login state a RelayState names, stored when the AuthnRequest goes
//! out and read-and-deleted in one step when the Response comes back, so two nodes (or two
//! racing requests) can never both complete one login.

use std::collections::HashMap;
use std::sync::Mutex;

use time::OffsetDateTime;

use super::{BoxFuture, StoreError};

/// Bound on outstanding entries in one node's memory, so a flood of login starts cannot
/// exhaust it.
pub const MAX_MEMORY_ENTRIES: usize = 100_000;

pub trait PendingStore: Send + Sync {
    /// Store `value` under `key` until `until`. A key already present is an error: keys are
    /// random, so a collision means a bug, never a reason to overwrite someone's login.
    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Atomically read and delete the value under `key`; `None` if absent or expired.
    fn take<'a>(
        &'a self,
        key: &'a str,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;
}

/// One node's pending entries.
#[derive(Default)]
pub struct MemoryPendingStore {
    entries: Mutex<HashMap<String, (Vec<u8>, OffsetDateTime)>>,
}

impl MemoryPendingStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn put_at(
        &self,
        key: &str,
        value: Vec<u8>,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_MEMORY_ENTRIES / 2 {
            entries.retain(|_, (_, expiry)| *expiry > now);
        }
        if entries.len() >= MAX_MEMORY_ENTRIES {
            return Err(StoreError::Full(entries.len()));
        }
        if entries.get(key).is_some_and(|(_, expiry)| *expiry > now) {
            return Err(StoreError::Collision);
        }
        entries.insert(key.to_string(), (value, until));
        Ok(())
    }

    fn take_at(&self, key: &str, now: OffsetDateTime) -> Option<Vec<u8>> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .remove(key)
            .filter(|(_, expiry)| *expiry > now)
            .map(|(value, _)| value)
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PendingStore for MemoryPendingStore {
    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.put_at(key, value, until, now) })
    }

    fn take<'a>(
        &'a self,
        key: &'a str,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move { Ok(self.take_at(key, now)) })
    }
}
