//! Keep-alive HTTP/1.1 connections to the backend: one set per event loop ([`super::idle`]),
//! so that a request, its backend connection and that connection's task all stay on one thread.
//!
//! hyper-util's pooled client did the same job with one map for every loop, keyed by scheme
//! and authority: every request hashed the authority byte by byte with SipHash twice (checkout
//! and return), took a shared lock, and spawned a task to watch the connection become idle.
//! That cost more than all the rest of the proxy path together (callgrind). Here a set
//! is a short list behind a lock only its own loop takes, and a connection goes back to it when
//! its response body has been read to the end.
//!
//! Two kinds of connection, in sets of their own: the gateway's own exchange
//! ([`super::direct`], [`BackendPool::send_direct`]) for requests without a body to a
//! plain-HTTP backend, and hyper's client connection (`hyper::client::conn`,
//! [`BackendPool::send`]) for the rest. Both connect with [`HttpConnector`] (name resolution,
//! connect timeout, `TCP_NODELAY`, keepalive).
//!
//! A request's response deadline is kept by a timer of its connection's ([`within`], see
//! [`super::deadline`] for why).

use std::num::NonZeroUsize;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Method, Request, Response, StatusCode, Uri};
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Sleep;
use tower::ServiceExt;

use super::deadline::{Elapsed, unarmed_timer, within};
use super::direct::{self, Attempt, DirectBody, DirectConn};
use super::idle::{IdleSet, Reusable, Sets};
use super::tls::BackendConnector;

pub use super::idle::{this_thread_pool, use_pool_on_this_thread};

/// Why a request got no response head from the backend.
#[derive(Debug)]
pub enum SendError {
    /// No connection could be made.
    Connect(Box<dyn std::error::Error + Send + Sync>),
    /// The connection failed while the request was sent or the response read.
    Request(hyper::Error),
    /// The TLS handshake with an `https://` backend failed (unknown CA, wrong name, client
    /// certificate refused).
    Handshake(std::io::Error),
    /// No response head by the deadline.
    TimedOut,
    /// The exchange on one of the gateway's own connections failed (see [`super::direct`]).
    Exchange(direct::ExchangeError),
}

impl From<Elapsed> for SendError {
    fn from(Elapsed: Elapsed) -> Self {
        SendError::TimedOut
    }
}

impl From<Attempt> for SendError {
    fn from(attempt: Attempt) -> Self {
        match attempt {
            Attempt::Unanswered(e) | Attempt::Failed(e) => SendError::Exchange(e),
            Attempt::TimedOut => SendError::TimedOut,
        }
    }
}

/// The backend's keep-alive connections.
pub struct BackendPool {
    /// hyper's connections, one set per event loop.
    sets: Sets<Pooled>,
    /// The gateway's own connections (see [`super::direct`]), for a plain-HTTP backend.
    direct: Option<Sets<DirectConn>>,
    connector: HttpConnector,
    /// `http://host:port`: where the connector connects.
    target: Uri,
    /// TLS over each new connection, for an `https://` backend.
    tls: Option<BackendConnector>,
    idle_timeout: Duration,
    max_idle: usize,
}

impl std::fmt::Debug for BackendPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendPool")
            .field("target", &self.target)
            .field("sets", &self.sets.len())
            .finish_non_exhaustive()
    }
}

impl BackendPool {
    /// `sets` connection sets (one per event loop), each keeping up to `max_idle` idle
    /// connections for up to `idle_timeout`.
    pub fn new(
        connector: HttpConnector,
        target: Uri,
        sets: NonZeroUsize,
        idle_timeout: Duration,
        max_idle: usize,
    ) -> Self {
        Self {
            sets: Sets::new(sets),
            direct: Some(Sets::new(sets)),
            connector,
            target,
            tls: None,
            idle_timeout,
            max_idle,
        }
    }

    /// Speak TLS over every new connection.
    pub fn with_tls(mut self, tls: BackendConnector) -> Self {
        self.direct = None;
        self.tls = Some(tls);
        self
    }

    /// Whether [`BackendPool::send_direct`] serves this backend (a plain-HTTP one).
    pub fn speaks_direct(&self) -> bool {
        self.direct.is_some()
    }

    /// This event loop's set (the first for threads that are not event loops).
    fn set(&self) -> &Arc<IdleSet<Pooled>> {
        self.sets.this_loop()
    }

    /// Send a request without a body (its whole `head`, made with [`super::direct::start_head`],
    /// for a request made with `method`) on the gateway's own HTTP/1.1 connections (see
    /// [`super::direct`]), under the same deadline as
    /// [`BackendPool::send`]. A request that an idle connection left unanswered (the backend had
    /// closed it: no byte of a response came) is sent once more on a new connection; only
    /// requests without a body, `GET` and `HEAD`, come here. `None` for an `https://` backend,
    /// which only [`BackendPool::send`] serves.
    pub async fn send_direct(
        &self,
        head: &[u8],
        method: &Method,
        deadline: Option<tokio::time::Instant>,
    ) -> Option<Result<Response<DirectBody>, SendError>> {
        let set = self.direct.as_ref()?.this_loop();
        let exchange = |conn| {
            let give_back = direct::GiveBack::new(Arc::clone(set), self.max_idle);
            direct::exchange(conn, head, method, deadline, give_back)
        };
        if let Some(conn) = set.take_ready(self.idle_timeout) {
            match exchange(conn).await {
                Err(Attempt::Unanswered(e)) => {
                    tracing::debug!(error = %e, "an idle backend connection was closed; sending on a new one");
                }
                answered => return Some(answered.map_err(SendError::from)),
            }
        }
        Some(match Box::pin(self.connect_direct(set, deadline)).await {
            Ok(conn) => exchange(conn).await.map_err(SendError::from),
            Err(e) => Err(e),
        })
    }

    /// A new connection of the gateway's own, made by `deadline` (if any).
    async fn connect_direct(
        &self,
        set: &Arc<IdleSet<DirectConn>>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<DirectConn, SendError> {
        let io = self.connect_tcp(deadline).await?;
        set.sweep_from_now_on(self.idle_timeout);
        Ok(DirectConn::new(io.into_inner()))
    }

    /// A TCP connection to the backend, made by `deadline` (if any).
    async fn connect_tcp(
        &self,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<TokioIo<TcpStream>, SendError> {
        let connect = self.connector.clone().oneshot(self.target.clone());
        let io = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, connect)
                .await
                .map_err(|_| SendError::TimedOut)?,
            None => connect.await,
        };
        io.map_err(|e| SendError::Connect(e.into()))
    }

    /// Send `req` (origin-form URI, `Host` set) on an idle connection, or a new one, and give
    /// up with [`SendError::TimedOut`] when its response head has not come by `deadline` (if
    /// any). A request that an idle connection refused unsent (the backend had closed it) is sent
    /// once more on a new connection, as hyper-util's client did.
    pub async fn send(
        &self,
        req: Request<Body>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Response<PooledBody>, SendError> {
        let set = self.set();
        let reused = set.take_ready(self.idle_timeout);
        let was_reused = reused.is_some();
        let mut conn = match reused {
            Some(conn) => conn,
            // Boxed: a connection is made rarely, and its future (TLS handshake included) is
            // several kilobytes that every request's future would otherwise carry and copy.
            None => Box::pin(self.connect_by(set, deadline)).await?,
        };
        // Pinned where it is made: moved into `within`, the exchange would be copied again.
        let sent = pin!(conn.sender.try_send_request(req));
        let response = match within(&mut conn.timer, deadline, sent).await? {
            Ok(response) => response,
            Err(mut refused) => match refused.take_message() {
                Some(req) if was_reused => {
                    tracing::debug!("an idle backend connection was closed; sending on a new one");
                    conn = Box::pin(self.connect_by(set, deadline)).await?;
                    let sent = pin!(conn.sender.send_request(req));
                    within(&mut conn.timer, deadline, sent)
                        .await?
                        .map_err(SendError::Request)?
                }
                _ => return Err(SendError::Request(refused.into_error())),
            },
        };
        // After a 101 the connection belongs to the upgraded protocol.
        let give_back = (response.status() != StatusCode::SWITCHING_PROTOCOLS).then(|| GiveBack {
            conn,
            set: Arc::clone(set),
            max_idle: self.max_idle,
        });
        let (parts, body) = response.into_parts();
        let mut body = PooledBody { body, give_back };
        if body.body.is_end_stream() {
            body.give_back();
        }
        Ok(Response::from_parts(parts, body))
    }

    /// A new connection, made by `deadline` (if any).
    async fn connect_by(
        &self,
        set: &Arc<IdleSet<Pooled>>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Pooled, SendError> {
        let sender = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, self.connect(set))
                .await
                .map_err(|_| SendError::TimedOut)??,
            None => self.connect(set).await?,
        };
        Ok(Pooled::new(sender))
    }

    async fn connect(&self, set: &Arc<IdleSet<Pooled>>) -> Result<SendRequest<Body>, SendError> {
        // No deadline here: `connect_by` keeps one over the whole of it, handshakes included.
        let io = self.connect_tcp(None).await?;
        let sender = match &self.tls {
            None => start(io).await?,
            Some(tls) => {
                let tls = tls
                    .connector
                    .connect(tls.server_name.clone(), io.into_inner())
                    .await
                    .map_err(SendError::Handshake)?;
                start(hyper_util::rt::TokioIo::new(tls)).await?
            }
        };
        set.sweep_from_now_on(self.idle_timeout);
        Ok(sender)
    }

    /// Idle connections kept, over all sets (for tests).
    pub fn idle_count(&self) -> usize {
        self.sets.idle_count() + self.direct.as_ref().map_or(0, Sets::idle_count)
    }
}

/// HTTP/1.1 over a new connection `io`, its connection task spawned on this loop.
async fn start<I>(io: I) -> Result<SendRequest<Body>, SendError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(io).await.map_err(SendError::Request)?;
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::debug!(error = %e, "backend connection ended with an error");
        }
    });
    Ok(sender)
}

/// A connection, with the timer its requests' deadlines are kept by.
struct Pooled {
    sender: SendRequest<Body>,
    timer: Pin<Box<Sleep>>,
}

impl Pooled {
    fn new(sender: SendRequest<Body>) -> Self {
        Pooled {
            sender,
            timer: unarmed_timer(),
        }
    }
}

impl Reusable for Pooled {
    fn is_ready(&mut self) -> bool {
        self.sender.is_ready()
    }

    fn is_closed(&mut self) -> bool {
        self.sender.is_closed()
    }
}

/// The connection a response came on, to be put back once its body has been read.
struct GiveBack {
    conn: Pooled,
    set: Arc<IdleSet<Pooled>>,
    max_idle: usize,
}

/// A backend response body that puts its connection back into the pool when it ends. Dropped
/// before its end (the browser went away), it drops the connection, which hyper then closes:
/// the rest of that response would otherwise be read as the next one.
pub struct PooledBody {
    body: Incoming,
    give_back: Option<GiveBack>,
}

impl PooledBody {
    fn give_back(&mut self) {
        if let Some(GiveBack {
            conn,
            set,
            max_idle,
        }) = self.give_back.take()
        {
            set.put(conn, max_idle);
        }
    }
}

impl http_body::Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.give_back(),
            Poll::Ready(Some(Ok(_))) if self.body.is_end_stream() => self.give_back(),
            Poll::Ready(Some(Err(_))) => self.give_back = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sender over an in-memory connection, and the connection's far end, which answers
    /// nothing but keeps it open while held.
    use std::time::Instant;

    async fn sender() -> (SendRequest<Body>, tokio::io::DuplexStream) {
        let (near, far) = tokio::io::duplex(64);
        let (sender, connection) = http1::handshake(hyper_util::rt::TokioIo::new(near))
            .await
            .unwrap();
        tokio::spawn(connection);
        (sender, far)
    }

    #[tokio::test]
    async fn connections_idle_too_long_are_swept_and_the_newest_kept() {
        let set = IdleSet::default();
        let start = Instant::now();
        let max_age = Duration::from_secs(90);
        let mut far_ends = Vec::new();
        for seconds in [0, 30, 60] {
            let (sender, far) = sender().await;
            far_ends.push(far);
            set.put_at(Pooled::new(sender), 8, start + Duration::from_secs(seconds));
        }
        assert_eq!(set.lock().len(), 3);
        set.sweep(start + Duration::from_secs(100), max_age);
        assert_eq!(set.lock().len(), 2, "the one idle since 0 s is 100 s old");
        set.sweep(start + Duration::from_secs(200), max_age);
        assert_eq!(set.lock().len(), 0);
    }

    #[tokio::test]
    async fn the_oldest_go_first_when_the_limit_is_reached() {
        let set = IdleSet::default();
        let start = Instant::now();
        let mut far_ends = Vec::new();
        for seconds in 0..5 {
            let (sender, far) = sender().await;
            far_ends.push(far);
            set.put_at(Pooled::new(sender), 3, start + Duration::from_secs(seconds));
        }
        let kept: Vec<_> = set.lock().iter().map(|i| i.since - start).collect();
        assert_eq!(kept, [2, 3, 4].map(Duration::from_secs));
    }
}
