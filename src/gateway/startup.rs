//! The gateway, built for a configuration: its shared state and its handlers, ready to serve
//! (`samlgate serve` in `cli::serve` runs it on the event loops).

use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::Config;

use super::service::Gateway;
use super::state::{AppState, Clock};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot start: {0}")]
    State(#[from] super::state::StateError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

/// The gateway and its shared state for `config`, with the given clock.
pub fn build(config: Config, clock: Clock) -> Result<(Gateway, Arc<AppState>), GatewayError> {
    let state = Arc::new(AppState::new(config, clock)?);
    Ok((super::gateway(state.clone()), state))
}
