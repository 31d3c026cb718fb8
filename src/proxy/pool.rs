//! Keep-alive HTTP/1.1 connections to the backend: one set per event loop, so that a request,
//! its backend connection and that connection's task all stay on one thread.
//!
//! hyper-util's pooled client did the same job with one map for every loop, keyed by scheme
//! and authority: every request hashed the authority byte by byte with SipHash twice (checkout
//! and return), took a shared lock, and spawned a task to watch the connection become idle.
//! That cost more than all the rest of the proxy path together (callgrind). Here a set
//! is a short list behind a lock only its own loop takes, and a connection goes back to it when
//! its response body has been read to the end.
//!
//! What stays from hyper: connecting ([`HttpConnector`]: name resolution, connect timeout,
//! `TCP_NODELAY`, keepalive) and the HTTP/1.1 connection itself (`hyper::client::conn`).
//!
//! A request's response deadline is kept by a timer of its connection's ([`within`]), not one of
//! its own: a timer per request cost each request its registration and removal in the runtime's
//! timer wheel, while a connection's timer armed by an earlier request (for an earlier deadline)
//! only needs moving when it fires, at most once per response timeout.

use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{Request, Response, StatusCode, Uri};
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::time::Sleep;
use tower::ServiceExt;

use super::tls::BackendConnector;

thread_local! {
    static POOL: Cell<usize> = const { Cell::new(0) };
}

/// Make this thread use set `index` of every pool: each event loop calls this with its own
/// index when it starts (the server's business; the proxy only reads it).
pub fn use_pool_on_this_thread(index: usize) {
    POOL.with(|p| p.set(index));
}

/// The set this thread uses: 0 on the first event loop and on any thread that is not one.
pub fn this_thread_pool() -> usize {
    POOL.with(Cell::get)
}

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
}

/// The backend's keep-alive connections.
pub struct BackendPool {
    /// Indexed by event loop.
    sets: Box<[Arc<IdleSet>]>,
    /// The first set again: for threads that are not event loops.
    first: Arc<IdleSet>,
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
        let first = Arc::<IdleSet>::default();
        Self {
            sets: std::iter::once(Arc::clone(&first))
                .chain((1..sets.get()).map(|_| Arc::default()))
                .collect(),
            first,
            connector,
            target,
            tls: None,
            idle_timeout,
            max_idle,
        }
    }

    /// Speak TLS over every new connection.
    pub fn with_tls(mut self, tls: BackendConnector) -> Self {
        self.tls = Some(tls);
        self
    }

    /// This event loop's set (the first for threads that are not event loops).
    fn set(&self) -> &Arc<IdleSet> {
        self.sets.get(this_thread_pool()).unwrap_or(&self.first)
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
        set: &Arc<IdleSet>,
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

    async fn connect(&self, set: &Arc<IdleSet>) -> Result<SendRequest<Body>, SendError> {
        let io = self
            .connector
            .clone()
            .oneshot(self.target.clone())
            .await
            .map_err(|e| SendError::Connect(e.into()))?;
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
        if !set.swept.swap(true, Ordering::Relaxed) {
            spawn_sweeper(set, self.idle_timeout);
        }
        Ok(sender)
    }

    /// Idle connections kept, over all sets (for tests).
    pub fn idle_count(&self) -> usize {
        self.sets.iter().map(|set| set.lock().len()).sum()
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
        // Not in the timer wheel until a deadline is kept by it (see `within`).
        let unarmed = tokio::time::Instant::now() + UNARMED;
        Pooled {
            sender,
            timer: Box::pin(tokio::time::sleep_until(unarmed)),
        }
    }
}

/// Later than any deadline a new connection's timer will be armed for.
const UNARMED: Duration = Duration::from_secs(86_400 * 365);

/// `exchange`, unless `deadline` (if any) passes first: [`SendError::TimedOut`]. `timer` is the
/// connection's: left as it is when an earlier request armed it for an earlier deadline (it then
/// fires early, and is moved to `deadline` only then), so that most requests cost the timer wheel
/// nothing.
async fn within<F: Future>(
    timer: &mut Pin<Box<Sleep>>,
    deadline: Option<tokio::time::Instant>,
    mut exchange: Pin<&mut F>,
) -> Result<F::Output, SendError> {
    let Some(deadline) = deadline else {
        return Ok(exchange.await);
    };
    if timer.is_elapsed() || timer.deadline() > deadline {
        timer.as_mut().reset(deadline);
    }
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = exchange.as_mut().poll(cx) {
            return Poll::Ready(Ok(out));
        }
        while timer.as_mut().poll(cx).is_ready() {
            if tokio::time::Instant::now() >= deadline {
                return Poll::Ready(Err(SendError::TimedOut));
            }
            // Armed by an earlier request: now wait for this one's deadline.
            timer.as_mut().reset(deadline);
        }
        Poll::Pending
    })
    .await
}

struct Idle {
    conn: Pooled,
    since: Instant,
}

/// One event loop's idle connections, newest at the back.
#[derive(Default)]
struct IdleSet {
    idle: Mutex<VecDeque<Idle>>,
    /// Whether this set's sweeper runs (started with its first connection, on its loop).
    swept: AtomicBool,
}

impl IdleSet {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Idle>> {
        // A panic while the list was held cannot leave it inconsistent: every change is one
        // push or removal.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The newest connection that can take a request now. Connections idle longer than
    /// `max_age`, and closed ones, are dropped; one still finishing its last exchange is left
    /// for later.
    fn take_ready(&self, max_age: Duration) -> Option<Pooled> {
        let mut idle = self.lock();
        evict_idle(&mut idle, Instant::now(), max_age);
        match idle.iter().rposition(|i| i.conn.sender.is_ready()) {
            Some(at) => idle.remove(at).map(|i| i.conn),
            None => {
                idle.retain(|i| !i.conn.sender.is_closed());
                None
            }
        }
    }

    fn put(&self, conn: Pooled, max_idle: usize) {
        self.put_at(conn, max_idle, Instant::now());
    }

    fn put_at(&self, conn: Pooled, max_idle: usize, now: Instant) {
        if conn.sender.is_closed() || max_idle == 0 {
            return;
        }
        let mut idle = self.lock();
        while idle.len() >= max_idle {
            idle.pop_front();
        }
        idle.push_back(Idle { conn, since: now });
    }

    /// Drop (and so close) the connections idle longer than `max_age` at `now`.
    fn sweep(&self, now: Instant, max_age: Duration) {
        evict_idle(&mut self.lock(), now, max_age);
    }
}

/// The oldest are at the front.
fn evict_idle(idle: &mut VecDeque<Idle>, now: Instant, max_age: Duration) {
    while idle
        .front()
        .is_some_and(|i| now.saturating_duration_since(i.since) > max_age)
    {
        idle.pop_front();
    }
}

/// Close `set`'s connections once they have been idle for `max_age` (within twice that), even
/// when no request comes to look at them; ends with the pool.
fn spawn_sweeper(set: &Arc<IdleSet>, max_age: Duration) {
    let set = Arc::downgrade(set);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(max_age.max(Duration::from_secs(1)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match set.upgrade() {
                Some(set) => set.sweep(Instant::now(), max_age),
                None => return,
            }
        }
    });
}

/// The connection a response came on, to be put back once its body has been read.
struct GiveBack {
    conn: Pooled,
    set: Arc<IdleSet>,
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

    use tokio::time::Instant as TokioInstant;

    fn timer_at(deadline: TokioInstant) -> Pin<Box<Sleep>> {
        Box::pin(tokio::time::sleep_until(deadline))
    }

    async fn answered_after(delay: Duration) -> &'static str {
        tokio::time::sleep(delay).await;
        "response head"
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_armed_for_an_earlier_deadline_is_left_alone_by_an_exchange_that_ends_in_time()
    {
        let start = TokioInstant::now();
        let earlier = start + Duration::from_secs(60);
        let mut timer = timer_at(earlier);
        let deadline = start + Duration::from_secs(70);
        let out = within(
            &mut timer,
            Some(deadline),
            pin!(answered_after(Duration::from_secs(1))),
        )
        .await;
        assert_eq!(out.ok(), Some("response head"));
        assert_eq!(timer.deadline(), earlier);
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_that_fires_early_is_moved_to_the_deadline_which_is_kept_exactly() {
        // Armed by an earlier request for 10 s from now; this one's deadline is at 15 s. An
        // answer after 20 s is given up at 15 s; one after 12 s (between the early firing and
        // the deadline) is taken.
        for (answer_after, ends_after, answered) in [(20, 15, false), (12, 12, true)] {
            let start = TokioInstant::now();
            let mut timer = timer_at(start + Duration::from_secs(10));
            let deadline = start + Duration::from_secs(15);
            let out = within(
                &mut timer,
                Some(deadline),
                pin!(answered_after(Duration::from_secs(answer_after))),
            )
            .await;
            assert_eq!(out.is_ok(), answered, "answer after {answer_after} s");
            assert_eq!(start.elapsed(), Duration::from_secs(ends_after));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_fired_or_later_timer_is_set_to_the_deadline() {
        let start = TokioInstant::now();
        let mut fired = timer_at(start + Duration::from_secs(1));
        fired.as_mut().await;
        let deadline = TokioInstant::now() + Duration::from_secs(5);
        let out = within(
            &mut fired,
            Some(deadline),
            pin!(answered_after(Duration::from_secs(9))),
        )
        .await;
        assert!(matches!(out, Err(SendError::TimedOut)));
        assert_eq!(start.elapsed(), Duration::from_secs(6));

        let mut new_connection = Pooled::new(sender().await.0).timer;
        let deadline = TokioInstant::now() + Duration::from_secs(5);
        let out = within(
            &mut new_connection,
            Some(deadline),
            pin!(answered_after(Duration::from_secs(9))),
        )
        .await;
        assert!(matches!(out, Err(SendError::TimedOut)));
        assert_eq!(new_connection.deadline(), deadline);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_deadline_the_exchange_is_awaited_however_long() {
        let start = TokioInstant::now();
        let mut timer = timer_at(start + Duration::from_secs(1));
        let out = within(
            &mut timer,
            None,
            pin!(answered_after(Duration::from_secs(3600))),
        )
        .await;
        assert_eq!(out.ok(), Some("response head"));
    }
}
