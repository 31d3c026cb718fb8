//! The set of stores one node uses, chosen by `[session] store`.

use std::sync::Arc;

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::{SessionStore, session_store};

use crate::session::memory_store::SweepingMemoryStore;

use crate::store::{
    MemoryReplayCache, MemorySessionIndex, RedisSessionStore, RedisSettings, RedisStore,
    ReplayCache, SessionIndex, StoreError,
};

/// Everything shared between requests. With Redis all three live there, so any node can serve
/// any request.
#[derive(Clone)]
pub struct Stores {
    pub replay: Arc<dyn ReplayCache>,
    pub session_index: Arc<dyn SessionIndex>,
    pub sessions: AnySessionStore,
    /// The Redis connection, when that is the store (readiness checks, tests).
    pub redis: Option<RedisStore>,
}

impl Stores {
    /// One node, in memory.
    pub fn memory() -> Self {
        Stores {
            replay: Arc::new(MemoryReplayCache::new()),
            session_index: Arc::new(MemorySessionIndex::new()),
            sessions: AnySessionStore::Memory(SweepingMemoryStore::new()),
            redis: None,
        }
    }

    /// Several nodes, in Redis. Must run inside a Tokio runtime; connects in the background.
    pub fn redis(settings: &RedisSettings) -> Result<Self, StoreError> {
        let redis = RedisStore::connect(settings)?;
        let shared = Arc::new(redis.clone());
        Ok(Stores {
            replay: shared.clone(),
            session_index: shared,
            sessions: AnySessionStore::Redis(redis.session_store()),
            redis: Some(redis),
        })
    }

    /// Can the stores answer now? Memory always can.
    pub async fn check(&self) -> Result<(), StoreError> {
        match &self.redis {
            Some(r) => r.ping().await,
            None => Ok(()),
        }
    }

    /// "memory" or the redacted Redis URL, for log lines.
    pub fn describe(&self) -> String {
        match &self.redis {
            Some(r) => format!("redis {}", r.settings().redacted_url()),
            None => "memory".to_string(),
        }
    }
}

/// The session store the tower-sessions layer uses.
#[derive(Clone, Debug)]
pub enum AnySessionStore {
    Memory(SweepingMemoryStore),
    Redis(RedisSessionStore),
}

#[async_trait]
impl SessionStore for AnySessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            AnySessionStore::Memory(s) => s.create(record).await,
            AnySessionStore::Redis(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            AnySessionStore::Memory(s) => s.save(record).await,
            AnySessionStore::Redis(s) => s.save(record).await,
        }
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            AnySessionStore::Memory(s) => s.load(session_id).await,
            AnySessionStore::Redis(s) => s.load(session_id).await,
        }
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        match self {
            AnySessionStore::Memory(s) => s.delete(session_id).await,
            AnySessionStore::Redis(s) => s.delete(session_id).await,
        }
    }
}
