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
/// The IdPs' URL sources are followed from here on (inside a Tokio runtime).
pub fn build(config: Config, clock: Clock) -> Result<(Gateway, Arc<AppState>), GatewayError> {
    let state = Arc::new(AppState::new(config, clock)?);
    follow_idp_sources(&state)?;
    Ok((super::gateway(state.clone()), state))
}

/// Start following the URL sources of `state`'s IdPs (inside a Tokio runtime); the tasks end
/// when the state is dropped.
pub fn follow_idp_sources(state: &AppState) -> Result<(), GatewayError> {
    super::idp_sources::start(
        &state.config,
        &state.idp_metadata,
        &state.metrics,
        &state.clock,
    )
    .map_err(|e| GatewayError::State(e.into()))
}
