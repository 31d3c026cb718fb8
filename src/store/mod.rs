//! What a node remembers between requests: the replay cache here; sessions and pending login
//! state join it with the gateway. Memory for one node, Redis for several, behind one trait each.

pub mod replay;

pub use replay::{MemoryReplayCache, ReplayCache};

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
