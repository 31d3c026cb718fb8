//! Which sessions an IdP login created: (IdP, NameID, SessionIndex) -> session IDs, for single
//! logout. An IdP's LogoutRequest names the NameID (with its Format and qualifiers, which are
//! part of its identity in SAML) and optionally SessionIndexes; without one it means every
//! session of that NameID, so each session is also indexed under the NameID-wide key.

use std::collections::HashMap;
use std::sync::Mutex;

use time::OffsetDateTime;

use super::keys::{KeySpace, Kind};
use super::{BoxFuture, StoreError};

/// Everything that identifies one IdP login of one subject.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionIndexKey {
    pub idp_entity_id: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub name_qualifier: Option<String>,
    pub sp_name_qualifier: Option<String>,
    /// `None`: every session of this NameID at this IdP.
    pub session_index: Option<String>,
}

impl SessionIndexKey {
    /// The NameID-wide key this one also belongs to.
    pub fn all_sessions(&self) -> SessionIndexKey {
        SessionIndexKey {
            session_index: None,
            ..self.clone()
        }
    }

    /// The store key: every field, length-prefixed.
    pub fn store_key(&self, keys: &KeySpace) -> String {
        keys.key(
            Kind::SessionIndex,
            &[
                Some(&self.idp_entity_id),
                Some(&self.name_id),
                self.name_id_format.as_deref(),
                self.name_qualifier.as_deref(),
                self.sp_name_qualifier.as_deref(),
                self.session_index.as_deref(),
            ],
        )
    }

    /// The keys a new session is indexed under: its own, and the NameID-wide one.
    pub fn index_keys(&self) -> Vec<SessionIndexKey> {
        let mut keys = vec![self.clone()];
        if self.session_index.is_some() {
            keys.push(self.all_sessions());
        }
        keys
    }
}

pub trait SessionIndex: Send + Sync {
    /// Record that `session_id` belongs to `key` (and to its NameID-wide key) until `until`.
    fn add<'a>(
        &'a self,
        key: &'a SessionIndexKey,
        session_id: &'a str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Remove and return the unexpired session IDs under exactly `key`.
    fn take<'a>(
        &'a self,
        key: &'a SessionIndexKey,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>>;
}

/// One node's session index.
#[derive(Default)]
pub struct MemorySessionIndex {
    entries: Mutex<HashMap<SessionIndexKey, HashMap<String, OffsetDateTime>>>,
}

impl MemorySessionIndex {
    pub fn new() -> Self {
        Self::default()
    }

    fn add_at(
        &self,
        key: &SessionIndexKey,
        session_id: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() > 1024 {
            entries.retain(|_, sessions| {
                sessions.retain(|_, expiry| *expiry > now);
                !sessions.is_empty()
            });
        }
        for k in key.index_keys() {
            entries
                .entry(k)
                .or_default()
                .insert(session_id.to_string(), until);
        }
    }

    fn take_at(&self, key: &SessionIndexKey, now: OffsetDateTime) -> Vec<String> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut ids: Vec<String> = entries
            .remove(key)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, expiry)| *expiry > now)
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        ids
    }

    /// Number of keys held (each session is under two: its own and its NameID's).
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SessionIndex for MemorySessionIndex {
    fn add<'a>(
        &'a self,
        key: &'a SessionIndexKey,
        session_id: &'a str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.add_at(key, session_id, until, now);
            Ok(())
        })
    }

    fn take<'a>(
        &'a self,
        key: &'a SessionIndexKey,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move { Ok(self.take_at(key, now)) })
    }
}
