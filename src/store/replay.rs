//! The replay cache: what may be used once, each inserted atomically and kept until it could no
//! longer be accepted anyway; a second insert means a replay.
//!
//! - (IdP entityID, Assertion ID), until the Assertion's NotOnOrAfter plus skew;
//! - an AuthnRequest ID, until the login it started has expired: the login state travels in the
//!   browser (see `gateway::relay_state`), so this is what makes one login complete once.
//!
//! The two live in separate key spaces: an Assertion ID never meets a request ID.

use std::collections::HashMap;
use std::sync::Mutex;

use time::OffsetDateTime;

use super::{BoxFuture, StoreError};

/// Whether an insert found the pair new or already present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// First use: the login may go on.
    First,
    /// Already used: a replay.
    Again,
}

pub trait ReplayCache: Send + Sync {
    /// Atomically record `(idp, assertion_id)` until `until`; report whether it was new.
    fn insert<'a>(
        &'a self,
        idp: &'a str,
        assertion_id: &'a str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Seen, StoreError>>;

    /// Atomically record the AuthnRequest ID `request_id` as answered until `until`; report
    /// whether it was new.
    fn insert_request<'a>(
        &'a self,
        request_id: &'a str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Seen, StoreError>>;
}

/// What one entry of the memory cache is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Used {
    /// (IdP entityID, Assertion ID).
    Assertion(String, String),
    /// AuthnRequest ID.
    Request(String),
}

/// One node's replay cache. Expired entries are swept on insert, so memory stays bounded by
/// the logins of one validity window. Only verified Responses insert, never anonymous requests.
#[derive(Default)]
pub struct MemoryReplayCache {
    entries: Mutex<HashMap<Used, OffsetDateTime>>,
}

impl MemoryReplayCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The synchronous core of [`ReplayCache::insert`], with an injected clock.
    pub fn insert_at(
        &self,
        idp: &str,
        assertion_id: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Seen, StoreError> {
        let key = Used::Assertion(idp.to_string(), assertion_id.to_string());
        self.record(key, until, now)
    }

    /// The synchronous core of [`ReplayCache::insert_request`], with an injected clock.
    pub fn insert_request_at(
        &self,
        request_id: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Seen, StoreError> {
        self.record(Used::Request(request_id.to_string()), until, now)
    }

    fn record(
        &self,
        key: Used,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Seen, StoreError> {
        let mut entries = self
            .entries
            .lock()
            .map_err(|_| StoreError::Unavailable("replay cache lock poisoned".into()))?;
        if entries.len() > 1024 {
            entries.retain(|_, expiry| *expiry > now);
        }
        match entries.get(&key) {
            Some(expiry) if *expiry > now => Ok(Seen::Again),
            _ => {
                entries.insert(key, until);
                Ok(Seen::First)
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ReplayCache for MemoryReplayCache {
    fn insert<'a>(
        &'a self,
        idp: &'a str,
        assertion_id: &'a str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Seen, StoreError>> {
        Box::pin(async move { self.insert_at(idp, assertion_id, until, now) })
    }

    fn insert_request<'a>(
        &'a self,
        request_id: &'a str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Seen, StoreError>> {
        Box::pin(async move { self.insert_request_at(request_id, until, now) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn second_use_of_an_assertion_is_a_replay() {
        let cache = MemoryReplayCache::new();
        let now = datetime!(2026-05-23 09:00 UTC);
        let until = datetime!(2026-05-23 09:10 UTC);
        assert_eq!(
            cache.insert_at("idp", "_a1", until, now).ok(),
            Some(Seen::First)
        );
        assert_eq!(
            cache.insert_at("idp", "_a1", until, now).ok(),
            Some(Seen::Again)
        );
    }

    #[test]
    fn same_assertion_id_from_another_idp_is_a_different_entry() {
        let cache = MemoryReplayCache::new();
        let now = datetime!(2026-05-23 09:00 UTC);
        let until = datetime!(2026-05-23 09:10 UTC);
        assert_eq!(
            cache.insert_at("idp-a", "_a1", until, now).ok(),
            Some(Seen::First)
        );
        assert_eq!(
            cache.insert_at("idp-b", "_a1", until, now).ok(),
            Some(Seen::First)
        );
    }

    #[test]
    fn entry_is_forgotten_after_its_expiry() {
        let cache = MemoryReplayCache::new();
        let now = datetime!(2026-05-23 09:00 UTC);
        let until = datetime!(2026-05-23 09:10 UTC);
        assert_eq!(
            cache.insert_at("idp", "_a1", until, now).ok(),
            Some(Seen::First)
        );
        let later = datetime!(2026-05-23 09:11 UTC);
        assert_eq!(
            cache.insert_at("idp", "_a1", until, later).ok(),
            Some(Seen::First)
        );
    }

    #[test]
    fn a_request_id_is_single_use_and_never_meets_an_assertion_id() {
        let cache = MemoryReplayCache::new();
        let now = datetime!(2026-05-23 09:00 UTC);
        let until = datetime!(2026-05-23 09:10 UTC);
        assert_eq!(
            cache.insert_request_at("_r1", until, now).ok(),
            Some(Seen::First)
        );
        assert_eq!(
            cache.insert_request_at("_r1", until, now).ok(),
            Some(Seen::Again)
        );
        // The same string as an Assertion ID, of any IdP: another entry.
        assert_eq!(
            cache.insert_at("", "_r1", until, now).ok(),
            Some(Seen::First)
        );
        assert_eq!(
            cache.insert_request_at("_r2", until, now).ok(),
            Some(Seen::First)
        );
        let later = datetime!(2026-05-23 09:11 UTC);
        assert_eq!(
            cache.insert_request_at("_r1", until, later).ok(),
            Some(Seen::First),
            "forgotten once its login has expired"
        );
    }
}
