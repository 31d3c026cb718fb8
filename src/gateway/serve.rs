//! `samlgate serve --config FILE`: validate, build, listen; and how every connection is served
//! (HTTP/1.1 through hyper, under the [`connection_limits`](super::connection_limits)).
//!
//! HTTP/1.1 only: the gateway sits behind a TLS terminator or load balancer, which speaks
//! HTTP/1.1 to its upstreams; cleartext HTTP/2 would add an edge (stream limits, resets,
//! CONTINUATION floods) that nothing in front of the gateway uses.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::config::{self, Config, ConnectionLimits};

use super::connection_limits::{ConnectionCap, EdgeIo, HeadClock, HeadTimer, Slot, head_overdue};
use super::descriptors;
use super::event_loops::EventLoops;
use super::service::{App, Connection, Gateway};
use super::state::{AppState, Clock, system_clock};

/// How long in-flight requests may take to finish once the gateway is asked to stop. Under the
/// 30 s after which service managers (Kubernetes, for one) kill a process that was sent SIGTERM.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(25);

/// Connections the metrics listener serves at once: scrapers, not browsers.
const METRICS_MAX_CONNECTIONS: std::num::NonZeroUsize = match std::num::NonZeroUsize::new(64) {
    Some(n) => n,
    None => std::num::NonZeroUsize::MIN,
};

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

/// A client connection, accepted under the cap.
pub(super) struct Accepted {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub slot: Slot,
}

/// Where a serving loop takes its connections from: a listener of its own, or the event loops'
/// acceptor.
pub(super) trait Incoming: Send {
    /// The next connection; waits for ever when there will be none.
    fn next(&mut self) -> impl Future<Output = Accepted> + Send;
}

/// A listener served by one loop, under a cap of its own.
struct Listening {
    listener: TcpListener,
    cap: ConnectionCap,
}

impl Incoming for Listening {
    async fn next(&mut self) -> Accepted {
        let (stream, peer, slot) = accept(&self.listener, &self.cap).await;
        Accepted { stream, peer, slot }
    }
}

/// Take a slot under `cap` (waiting at the cap), then accept a connection.
pub(super) async fn accept(
    listener: &TcpListener,
    cap: &ConnectionCap,
) -> (TcpStream, SocketAddr, Slot) {
    let slot = cap.slot().await;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => return (stream, peer, slot),
            // The client gave up before it was accepted: nothing to say.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionRefused
                ) => {}
            Err(e) => {
                // Out of file descriptors and the like: say so, and give the machine a moment
                // rather than spinning on the same error.
                tracing::error!("accepting a connection: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Serve `app` (the gateway, or a router) on `listener` until the process is asked to stop
/// (SIGINT, SIGTERM); client addresses reach the handlers. `samlgate serve` runs the same
/// connection handling on each of its event loops ([`super::event_loops`]); tests and `demo`
/// call this on any runtime.
pub async fn serve_on(listener: TcpListener, app: impl Into<App>) -> Result<(), GatewayError> {
    serve_until(listener, app, shutdown_signal()).await
}

/// [`serve_on`], stopping gracefully when `shutdown` completes, with the app's limits (the
/// gateway's configured ones, the defaults for a router).
pub async fn serve_until(
    listener: TcpListener,
    app: impl Into<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let app = app.into();
    let limits = app.limits();
    serve_with_limits(listener, app, limits, shutdown).await
}

/// [`serve_until`] with the given timeouts and cap.
pub async fn serve_with_limits(
    listener: TcpListener,
    app: impl Into<App>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let cap = ConnectionCap::new(limits.max_connections_or_default());
    serve_connections(Listening { listener, cap }, app.into(), limits, shutdown).await;
    Ok(())
}

/// Serve every connection `incoming` gives until `shutdown` completes; then stop taking
/// connections, let requests in flight finish (idle connections are closed at once) for up to
/// [`SHUTDOWN_GRACE`], and return.
pub(super) async fn serve_connections<I: Incoming>(
    mut incoming: I,
    app: App,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection holds a receiver: their count is the connections still open.
    let (open_tx, open_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = incoming.next() => accepted,
        };
        tokio::spawn(serve_connection(
            accepted,
            app.clone(),
            limits,
            stop_rx.clone(),
            open_rx.clone(),
        ));
    }
    drop(incoming);
    drop(open_rx);
    stop_tx.send_replace(true);
    let open = open_tx.receiver_count();
    if open > 0 {
        tracing::info!(
            open,
            "stopping: letting requests in flight finish (up to {} s)",
            SHUTDOWN_GRACE.as_secs()
        );
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, open_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!(
            open = open_tx.receiver_count(),
            "stopping: connections still busy after {} s are closed",
            SHUTDOWN_GRACE.as_secs()
        );
    }
}

/// One client connection, HTTP/1.1 with upgrades, under the header-read and keep-alive
/// timeouts; shut down gracefully (the request in flight finishes) when `stop` is announced.
async fn serve_connection(
    accepted: Accepted,
    app: App,
    limits: ConnectionLimits,
    stop: watch::Receiver<bool>,
    _open: watch::Receiver<()>,
) {
    let Accepted { stream, peer, slot } = accepted;
    // Responses are written whole; Nagle would only hold back the tail of one waiting for an
    // ACK. The backend side sets the same (see `Proxy::new`).
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!("TCP_NODELAY on an accepted connection: {e}");
    }
    let clock = HeadClock::new(limits.header_read_timeout, limits.keepalive_timeout);
    let io = TokioIo::new(EdgeIo::new(stream, clock.clone(), Some(slot)));
    let mut http = hyper::server::conn::http1::Builder::new();
    // hyper waits for heads under its header-read "timeout"; the clock behind it keeps the time
    // (see `connection_limits`).
    http.timer(HeadTimer(clock.clone()))
        .header_read_timeout(limits.header_read_timeout);
    let conn = http
        .serve_connection(io, Connection::new(app, peer, clock.clone()))
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        biased;
        result = conn.as_mut() => result,
        overdue = head_overdue(clock) => {
            // Dropping the connection closes it.
            tracing::debug!(%peer, "{overdue}");
            return;
        }
        () = stopped(stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // Resets, malformed heads: the client's business, not the admin's.
        tracing::debug!(%peer, "connection closed: {e}");
    }
}

/// Completes once a stop is announced (or the announcer is gone).
pub(super) async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
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

/// The connection cap to serve with: the file descriptor limit raised to the hard limit, the
/// cap checked against it. `None` (with the reason on stderr) when the configured cap does not
/// fit.
fn cap_for_descriptors(limits: &ConnectionLimits) -> Option<std::num::NonZeroUsize> {
    let limit = match descriptors::raise_to_hard_limit() {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(
                "cannot read the file descriptor limit ({e}): serving with server.max_connections unchecked"
            );
            return Some(limits.max_connections_or_default());
        }
    };
    let decision = descriptors::decide(limits, limit.now);
    let line = descriptors::describe(decision, &limit);
    match decision {
        descriptors::CapDecision::Fits(_) => {
            tracing::info!(raised_from = limit.before, "{line}")
        }
        descriptors::CapDecision::Lowered { .. } => tracing::warn!("{line}"),
        descriptors::CapDecision::TooHigh { .. } => eprintln!("error: {line}"),
    }
    decision.cap()
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
    let mut limits = loaded.config.server.connections;
    let Some(cap) = cap_for_descriptors(&limits) else {
        return ExitCode::FAILURE;
    };
    limits.max_connections = Some(cap);
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
            let metrics_limits = ConnectionLimits {
                max_connections: Some(METRICS_MAX_CONNECTIONS),
                ..limits
            };
            // Runs on the first event loop once it serves.
            tokio::spawn(async move {
                let router = super::metrics_router(state);
                if let Err(e) =
                    serve_with_limits(metrics, router, metrics_limits, shutdown_signal()).await
                {
                    tracing::error!("metrics listener: {e}");
                }
            });
        }
        Ok::<_, GatewayError>((router, listener))
    });
    let result = started.and_then(|(router, listener)| {
        tracing::info!(
            %addr,
            %public,
            event_loops = count,
            max_connections = cap.get(),
            header_read_timeout_s = limits.header_read_timeout.as_secs(),
            keepalive_timeout_s = limits.keepalive_timeout.as_secs(),
            "samlgate listening"
        );
        loops.serve_with(listener, router, limits, shutdown_signal())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
