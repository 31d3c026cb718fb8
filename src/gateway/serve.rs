//! `samlgate serve --config FILE`: validate, build, listen.

use axum::serve::ListenerExt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::{self, Config};

use super::state::{AppState, Clock, system_clock};

/// Run the gateway.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The gateway's TOML configuration file.
    #[arg(long, short)]
    pub config: PathBuf,
}

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

/// The router and its shared state for `config`, with the given clock.
pub fn build(config: Config, clock: Clock) -> Result<(axum::Router, Arc<AppState>), GatewayError> {
    let state = Arc::new(AppState::new(config, clock)?);
    Ok((super::router(state.clone()), state))
}

/// Serve `router` on `listener` until the process ends (client addresses reach the handlers).
pub async fn serve_on(listener: TcpListener, router: axum::Router) -> Result<(), GatewayError> {
    // Responses are written whole; Nagle would only hold back the tail of one waiting for an
    // ACK. The backend side sets the same (see `Proxy::new`).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY on an accepted connection: {e}");
        }
    });
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(GatewayError::Serve)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = ctrl_c.await;
}

pub fn run_serve(args: ServeArgs) -> ExitCode {
    let loaded = match config::load(&args.config) {
        Ok(l) => l,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::FAILURE;
        }
    };
    crate::ops::logging::init(loaded.config.server.log_json);
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let addr = loaded.config.server.listen;
        let public = loaded.config.server.public_url.clone();
        let metrics_addr = loaded.config.server.metrics_listen;
        let (router, state) = build(loaded.config, system_clock())?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| GatewayError::Listen { addr, source })?;
        if let Some(metrics_addr) = metrics_addr {
            let metrics =
                TcpListener::bind(metrics_addr)
                    .await
                    .map_err(|source| GatewayError::Listen {
                        addr: metrics_addr,
                        source,
                    })?;
            tracing::info!(%metrics_addr, "/metrics served here only");
            tokio::spawn(async move {
                if let Err(e) = serve_on(metrics, super::metrics_router(state)).await {
                    tracing::error!("metrics listener: {e}");
                }
            });
        }
        tracing::info!(%addr, %public, "samlgate listening");
        serve_on(listener, router).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
