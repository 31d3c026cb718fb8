//! What a node remembers between requests: the replay cache, pending logins (RelayState), the
//! session index for single logout, and the sessions themselves. Memory for one node, Redis for
//! several, behind one trait each; [`Stores`] bundles the chosen set.

pub mod expiring_map;
pub mod keys;
pub mod pending;
pub mod redis;
pub mod replay;
pub mod session_index;
pub mod session_tracking;
mod stores;

pub use pending::{MemoryPendingStore, PendingStore};
pub use redis::{RedisSessionStore, RedisSettings, RedisStore};
pub use replay::{MemoryReplayCache, ReplayCache};
pub use session_index::{MemorySessionIndex, SessionIndex, SessionIndexKey};
pub use session_tracking::{InvalidationSink, SessionTracker};
pub use stores::{AnySessionStore, Stores};

use std::future::Future;
use std::pin::Pin;

/// A boxed future, so stores can sit behind `Arc<dyn Trait>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The store could not answer. Callers fail closed: no login without the replay check.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store full: {0} entries outstanding; refusing new ones until some complete or expire")]
    Full(usize),
    #[error("store key already taken (random keys collided, or a bug); nothing was overwritten")]
    Collision,
}
