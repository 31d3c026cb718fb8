//! A WebSocket tunnel lasts no longer than the session it was opened in: signed out here or
//! on another node, ended by single logout, idle or past its lifetime, the session takes its
//! tunnels with it (at the tunnel's next check, see [`crate::proxy::LEASE_CHECK_EVERY`]). One
//! opened with a bearer token lasts no longer than the gateway accepts the token without
//! checking it again (`Authenticated::valid_until`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tower_sessions::session::Id;

use super::state::AppState;
use crate::proxy::TunnelLease;

/// The lease of a tunnel opened in session `id`.
pub struct SessionLease {
    state: Arc<AppState>,
    id: Id,
}

impl SessionLease {
    pub fn boxed(state: &Arc<AppState>, id: Id) -> Box<dyn TunnelLease> {
        Box::new(SessionLease {
            state: Arc::clone(state),
            id,
        })
    }
}

/// The lease of a tunnel opened with a bearer token accepted until `valid_until` (Unix
/// seconds, by the gateway's clock).
pub struct TokenLease {
    state: Arc<AppState>,
    valid_until: i64,
}

impl TokenLease {
    pub fn boxed(state: &Arc<AppState>, valid_until: i64) -> Box<dyn TunnelLease> {
        Box::new(TokenLease {
            state: Arc::clone(state),
            valid_until,
        })
    }
}

impl TunnelLease for TokenLease {
    fn holds(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        let holds = self.state.now().unix_timestamp() < self.valid_until;
        Box::pin(std::future::ready(holds))
    }
}

impl TunnelLease for SessionLease {
    fn holds(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            match self.state.sessions.still_valid(&self.id).await {
                Ok(valid) => valid,
                // As a request would get 503 and never "signed in": closed when unconfirmed.
                Err(e) => {
                    tracing::warn!("WebSocket tunnel: its session cannot be confirmed: {e}");
                    false
                }
            }
        })
    }
}
