//! Serving connections: accepting under the cap, one HTTP/1.1 connection at a time under the
//! header-read and keep-alive timeouts, and stopping gracefully. What a request is answered by is
//! the [`ServeApp`]'s business: the gateway, or a plain router.
//!
//! HTTP/1.1 only, in clear or over TLS ([`super::tls`], when the app has an acceptor): HTTP/2
//! would add an edge (stream limits, resets, CONTINUATION floods) and a second connection model
//! beside the event loops' one.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use super::connection_limits::{
    ConnectionCap, EdgeIo, HeadClock, HeadTimer, Overdue, Slot, head_overdue,
};
use super::woken_only::WokenOnly;
use crate::config::ConnectionLimits;
use crate::proxy::edge::{self, EdgeRefusal};

/// A request's answer, boxed: what an app returns when its answers differ in type.
pub type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// What a server serves: every request of every connection is handed to [`ServeApp::answer`].
pub trait ServeApp: Clone + Send + Sync + 'static {
    /// The timeouts and cap to serve with when the caller names none.
    fn limits(&self) -> ConnectionLimits;
    /// Answer one request from `client`. hyper keeps the future in storage the connection
    /// allocates once, so an app that returns it unboxed costs a request no allocation.
    fn answer(
        &self,
        client: SocketAddr,
        request: Request,
    ) -> impl Future<Output = Result<Response, Infallible>> + Send + 'static + use<Self>;
    /// Terminate TLS on every connection with this acceptor (`[server] tls_cert`); `None`: plain
    /// HTTP.
    fn tls(&self) -> Option<tokio_rustls::TlsAcceptor> {
        None
    }
}

/// A plain router (the metrics listener, the demo, the benchmarks' fixed-identity proxy): the
/// edge rules without a loop check (it adds no `Via`), then the router, which gets the client
/// address as `ConnectInfo`; the default limits.
impl ServeApp for Router {
    fn limits(&self) -> ConnectionLimits {
        ConnectionLimits::default()
    }

    fn answer(
        &self,
        client: SocketAddr,
        mut request: Request,
    ) -> impl Future<Output = Result<Response, Infallible>> + Send + use<> {
        let answer: Answer =
            if let Err(refusal) = edge::check(request.version(), request.headers(), None) {
                log_refusal(refusal, client, &request);
                Box::pin(std::future::ready(Ok(refusal.page())))
            } else {
                request.extensions_mut().insert(ConnectInfo(client));
                Box::pin(self.clone().oneshot(request))
            };
        answer
    }
}

/// Log an edge refusal with what the admin needs to see.
pub fn log_refusal(refusal: EdgeRefusal, client: SocketAddr, req: &Request) {
    let path = req.uri().path();
    match refusal {
        EdgeRefusal::Loop => {
            let via: Vec<&str> = req
                .headers()
                .get_all(axum::http::header::VIA)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            tracing::warn!(
                %client,
                path,
                via = via.join(", "),
                refusal = refusal.kind(),
                "{refusal}: backend.url leads back to this gateway; 508"
            );
        }
        EdgeRefusal::TwoHosts | EdgeRefusal::NoHost => {
            tracing::info!(%client, path, refusal = refusal.kind(), "{refusal}: 400");
        }
    }
}

/// How long in-flight requests may take to finish once the gateway is asked to stop. Under the
/// 30 s after which service managers (Kubernetes, for one) kill a process that was sent SIGTERM.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(25);

/// A client connection, accepted under the cap.
pub(crate) struct Accepted {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub slot: Slot,
}

/// Where a serving loop takes its connections from: a listener of its own, or the event loops'
/// acceptor.
pub(crate) trait Incoming: Send {
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
pub(crate) async fn accept(
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
pub async fn serve_on(listener: TcpListener, app: impl ServeApp) -> std::io::Result<()> {
    serve_until(listener, app, shutdown_signal()).await
}

/// [`serve_on`], stopping gracefully when `shutdown` completes, with the app's limits (the
/// gateway's configured ones, the defaults for a router).
pub async fn serve_until(
    listener: TcpListener,
    app: impl ServeApp,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = app.limits();
    serve_with_limits(listener, app, limits, shutdown).await
}

/// [`serve_until`] with the given timeouts and cap.
pub async fn serve_with_limits(
    listener: TcpListener,
    app: impl ServeApp,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cap = ConnectionCap::new(limits.max_connections_or_default());
    serve_connections(Listening { listener, cap }, app, limits, shutdown).await;
    Ok(())
}

/// Serve every connection `incoming` gives until `shutdown` completes; then stop taking
/// connections, let requests in flight finish (idle connections are closed at once) for up to
/// [`SHUTDOWN_GRACE`], and return.
pub(crate) async fn serve_connections<I: Incoming, A: ServeApp>(
    mut incoming: I,
    app: A,
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
async fn serve_connection<A: ServeApp>(
    accepted: Accepted,
    app: A,
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
    let edge = EdgeIo::new(stream, clock.clone(), Some(slot));
    let tls = app.tls();
    match tls {
        None => serve_http(TokioIo::new(edge), app, limits, stop, peer, clock).await,
        Some(acceptor) => {
            // The handshake gets the header-read timeout of its own.
            match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(edge)).await {
                Ok(Ok(tls)) => serve_http(TokioIo::new(tls), app, limits, stop, peer, clock).await,
                // Old protocol versions, clients that distrust the certificate, scanners: the
                // client's business, not the admin's.
                Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                Err(_) => {
                    tracing::debug!(%peer, "closed: no TLS handshake within the header-read timeout")
                }
            }
        }
    }
}

/// Serve HTTP/1.1 on `io` (a plain or a TLS connection).
async fn serve_http<A, I>(
    io: I,
    app: A,
    limits: ConnectionLimits,
    stop: watch::Receiver<bool>,
    peer: SocketAddr,
    clock: Arc<HeadClock>,
) where
    A: ServeApp,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    // hyper waits for heads under its header-read "timeout"; the clock behind it keeps the time
    // (see `connection_limits`).
    http.timer(HeadTimer(clock.clone()))
        .header_read_timeout(limits.header_read_timeout);
    // Each request: tell the head clock a head arrived (see [`HeadClock`]), then ask the app.
    let head = clock.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        head.head_arrived();
        app.answer(peer, req.map(Body::new))
    });
    let conn = http.serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    // The watchers are woken only by a timer tick or a stop, while the connection is woken
    // several times per request: they are polled only when they were woken.
    let watchers = WokenOnly::new(async move {
        tokio::select! {
            overdue = head_overdue(clock) => Watched::Overdue(overdue),
            () = stopped(stop) => Watched::Stop,
        }
    });
    let result = tokio::select! {
        biased;
        result = conn.as_mut() => result,
        watched = watchers => match watched {
            Watched::Overdue(overdue) => {
                // Dropping the connection closes it.
                tracing::debug!(%peer, "{overdue}");
                return;
            }
            Watched::Stop => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        },
    };
    if let Err(e) = result {
        // Resets, malformed heads: the client's business, not the admin's.
        tracing::debug!(%peer, "connection closed: {e}");
    }
}

/// What ended a connection's watch.
enum Watched {
    Overdue(Overdue),
    Stop,
}

/// Completes once a stop is announced (or the announcer is gone).
pub(crate) async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// SIGINT or SIGTERM, listened for from the first poll (so it may be created outside a runtime,
/// and awaited on whichever runtime serves).
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

/// SIGINT or SIGTERM, listened for from this call on, not from the first poll: a signal that
/// arrives in between (a supervisor, or a test, that stops the process as soon as it has printed
/// its start lines) would otherwise meet the default action and kill the process before it
/// cleans up. Call it inside the runtime that awaits it.
pub fn shutdown_signal_registered() -> impl std::future::Future<Output = ()> + Send {
    #[cfg(unix)]
    let registered = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        if let (Some(mut interrupt), Some(mut terminate)) = registered {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
        shutdown_signal().await;
    }
}
