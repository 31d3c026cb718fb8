//! `samlgate serve --config FILE`: validate, build, listen.

use axum::serve::ListenerExt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::{self, Config};

use super::event_loops::EventLoops;
use super::service::{App, Gateway};
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

/// The gateway and its shared state for `config`, with the given clock.
pub fn build(config: Config, clock: Clock) -> Result<(Gateway, Arc<AppState>), GatewayError> {
    let state = Arc::new(AppState::new(config, clock)?);
    Ok((super::gateway(state.clone()), state))
}

/// Serve `app` (the gateway, or a router) on `listener` until the process is asked to stop
/// (SIGINT, SIGTERM); client addresses reach the handlers. `samlgate serve` runs this on each
/// of its event loops ([`super::event_loops`]); tests and `demo` call it on any runtime.
pub async fn serve_on(listener: TcpListener, app: impl Into<App>) -> Result<(), GatewayError> {
    serve_until(listener, app, shutdown_signal()).await
}

/// [`serve_on`] on any listener of TCP connections, stopping gracefully when `shutdown` completes.
pub async fn serve_until<L>(
    listener: L,
    app: impl Into<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError>
where
    L: axum::serve::Listener<Io = tokio::net::TcpStream, Addr = SocketAddr>,
{
    // Responses are written whole; Nagle would only hold back the tail of one waiting for an
    // ACK. The backend side sets the same (see `Proxy::new`).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY on an accepted connection: {e}");
        }
    });
    match app.into() {
        App::Gateway(gateway) => {
            axum::serve(listener, gateway)
                .with_graceful_shutdown(shutdown)
                .await
        }
        App::Router(router) => {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
    }
    .map_err(GatewayError::Serve)
}

/// SIGINT or SIGTERM.
pub async fn shutdown_signal() {
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
    let count = loaded.config.server.event_loop_count();
    let loops = match EventLoops::new(count) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot start the event loops: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = loaded.config.server.listen;
    let public = loaded.config.server.public_url.clone();
    let metrics_addr = loaded.config.server.metrics_listen;
    let started = loops.block_on(async move {
        let (router, state) = build(loaded.config, system_clock())?;
        let listener = std::net::TcpListener::bind(addr)
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
            // Runs on the first event loop once it serves.
            tokio::spawn(async move {
                if let Err(e) = serve_on(metrics, super::metrics_router(state)).await {
                    tracing::error!("metrics listener: {e}");
                }
            });
        }
        Ok::<_, GatewayError>((router, listener))
    });
    let result = started.and_then(|(router, listener)| {
        tracing::info!(%addr, %public, event_loops = count, "samlgate listening");
        loops.serve(listener, router, shutdown_signal())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
