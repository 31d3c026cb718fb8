//! What a node remembers between requests: the replay cache (Assertion and AuthnRequest IDs),
//! the session index for single logout, and the sessions themselves. Memory for one node, Redis
//! for several, behind one trait each (`session::Stores` bundles the chosen set). Nothing here is written
//! for a visitor who has not signed in: logins in progress travel in the browser.

pub mod expiring_map;
pub mod keys;
pub mod redis;
pub mod replay;
pub mod session_index;

pub use redis::{RedisSessionStore, RedisSettings, RedisStore};
pub use replay::{MemoryReplayCache, ReplayCache};
pub use session_index::{MemorySessionIndex, SessionIndex, SessionIndexKey};

use std::future::Future;
use std::pin::Pin;

/// A boxed future, so stores can sit behind `Arc<dyn Trait>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The store could not answer. Callers fail closed: no login without the replay check.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
}
