//! The in-memory session store. tower-sessions' own `MemoryStore` never forgets a session
//! that nobody comes back to, so a long-running gateway would grow without bound; this one
//! sweeps expired records (at most once a minute, on create).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};
use tokio::sync::Mutex;
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;

const SWEEP_INTERVAL: Duration = Duration::seconds(60);

#[derive(Debug, Default)]
struct Inner {
    records: HashMap<Id, Record>,
    last_sweep: Option<OffsetDateTime>,
}

/// Sessions of one node, expired ones swept.
#[derive(Clone, Debug, Default)]
pub struct SweepingMemoryStore(Arc<Mutex<Inner>>);

impl SweepingMemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of records held (expired ones included until the next sweep).
    pub async fn len(&self) -> usize {
        self.0.lock().await.records.len()
    }

    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }
}

#[async_trait]
impl SessionStore for SweepingMemoryStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let now = OffsetDateTime::now_utc();
        let mut inner = self.0.lock().await;
        if inner.last_sweep.is_none_or(|t| now - t >= SWEEP_INTERVAL) {
            inner.records.retain(|_, r| r.expiry_date > now);
            inner.last_sweep = Some(now);
        }
        // Session IDs are 128 random bits; a collision is re-drawn rather than overwritten.
        while inner.records.contains_key(&record.id) {
            record.id = Id::default();
        }
        inner.records.insert(record.id, record.clone());
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.0
            .lock()
            .await
            .records
            .insert(record.id, record.clone());
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = OffsetDateTime::now_utc();
        Ok(self
            .0
            .lock()
            .await
            .records
            .get(id)
            .filter(|r| r.expiry_date > now)
            .cloned())
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.0.lock().await.records.remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(expiry: OffsetDateTime) -> Record {
        Record {
            id: Id::default(),
            data: Default::default(),
            expiry_date: expiry,
        }
    }

    #[tokio::test]
    async fn expired_sessions_are_not_loaded_and_are_swept_on_create() {
        let store = SweepingMemoryStore::new();
        let now = OffsetDateTime::now_utc();
        let mut old = record(now - Duration::minutes(1));
        store.save(&old).await.unwrap();
        assert_eq!(store.load(&old.id).await.unwrap(), None);
        let mut fresh = record(now + Duration::hours(1));
        store.create(&mut fresh).await.unwrap();
        assert_eq!(store.len().await, 1, "the expired record is swept");
        assert!(store.load(&fresh.id).await.unwrap().is_some());
        old.id = fresh.id;
        store.create(&mut old).await.unwrap();
        assert_ne!(old.id, fresh.id, "a colliding ID is re-drawn");
    }
}
