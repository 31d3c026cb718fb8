//! What a client connection may hold, enforced per connection: the cap on open connections
//! ([`ConnectionCap`]), and the header-read and keep-alive timeouts ([`HeadClock`], told by
//! [`HeadTimer`], the connection's service and [`EdgeIo`]; enforced by [`head_overdue`]).
//!
//! hyper's own `header_read_timeout` arms one timer whenever it waits for a request head: on a new
//! connection, and again as soon as a kept-alive connection's previous response is written. With
//! its timer alone, an idle kept-alive connection would therefore be closed after the header-read
//! timeout (much shorter than a load balancer's idle timeout: its next request would get a 502),
//! and a kept-alive connection could not be allowed a long idle time without also being allowed to
//! send its next head that slowly. What is added here is only the clock that tells the two apart:
//! hyper keeps deciding when a head is being waited for (it asks its timer for a sleep then, never
//! while a request is in flight, so a slow backend response is never cut), and [`HeadClock`]
//! decides how long: the header-read
//! timeout from the start of a new connection; on a kept-alive one, the keep-alive timeout until
//! the first byte of the next head arrives ([`EdgeIo`] notes when), then the header-read timeout
//! from that byte.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The cap on open client connections, shared by every event loop. A slot is taken before a
/// connection is accepted and given back when the connection (or the WebSocket tunnel it became)
/// is closed.
///
/// At the cap the gateway stops accepting rather than accepting and closing: waiting clients
/// stay in the kernel's listen queue and are served as soon as a slot frees, without a syscall or
/// a log line per attempt, and a load balancer sees a slow node instead of failed requests. The
/// header-read and keep-alive timeouts bound how long a connection can hold its slot without
/// sending requests.
#[derive(Clone, Debug)]
pub struct ConnectionCap {
    slots: Arc<Semaphore>,
    max: usize,
}

impl ConnectionCap {
    pub fn new(max: std::num::NonZeroUsize) -> Self {
        let max = max.get().min(Semaphore::MAX_PERMITS);
        Self {
            slots: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.max.saturating_sub(self.slots.available_permits())
    }

    /// A free slot, waiting for one at the cap. The cap being reached is logged once per
    /// episode: when it is reached and when a slot frees again.
    pub async fn slot(&self) -> Slot {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Slot(permit);
        }
        tracing::warn!(
            max_connections = self.max,
            "connection cap reached (server.max_connections = {}): new connections wait in the listen queue until one closes",
            self.max
        );
        let waited = Instant::now();
        match self.slots.clone().acquire_owned().await {
            Ok(permit) => {
                tracing::info!(
                    waited_ms = u64::try_from(waited.elapsed().as_millis()).unwrap_or(u64::MAX),
                    "a connection closed: accepting again below the cap"
                );
                Slot(permit)
            }
            // The semaphore is never closed; should it be, accept nothing more.
            Err(_) => std::future::pending().await,
        }
    }
}

/// One connection's place under the cap; dropped with the connection.
#[derive(Debug)]
pub struct Slot(#[allow(dead_code)] OwnedSemaphorePermit);

/// When this connection began waiting for a request head, and when that head's first byte came.
/// Shared by the connection's [`HeadTimer`] (a wait begins), its service (a head arrived, see
/// [`HeadClock::head_arrived`]), its [`EdgeIo`] (bytes arrived) and [`head_overdue`], which
/// closes the connection when a wait runs past its deadline. All of them run in the
/// connection's one task: the atomics are only there to make the clock `Sync`.
#[derive(Debug)]
pub struct HeadClock {
    header_read: Duration,
    keepalive: Duration,
    base: Instant,
    /// Heads waited for so far: the first one gets no keep-alive allowance.
    waits: AtomicU32,
    /// When the current wait began, in nanoseconds since `base`; [`NONE`] while a request is
    /// in flight.
    wait_started: AtomicU64,
    /// Set while a kept-alive connection waits for the first byte of its next head.
    awaiting_first_byte: AtomicBool,
    /// When that byte came, in nanoseconds since `base`; [`NONE`] until then.
    first_byte: AtomicU64,
}

const NONE: u64 = u64::MAX;

/// Why a connection was closed for lack of a request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Overdue {
    #[error("closed: no complete request head within the header-read timeout")]
    Head,
    #[error("closed: idle for the keep-alive timeout")]
    Idle,
}

impl HeadClock {
    pub fn new(header_read: Duration, keepalive: Duration) -> Arc<Self> {
        Arc::new(Self {
            header_read,
            keepalive,
            base: Instant::now(),
            waits: AtomicU32::new(0),
            wait_started: AtomicU64::new(NONE),
            awaiting_first_byte: AtomicBool::new(false),
            first_byte: AtomicU64::new(NONE),
        })
    }

    fn since_base(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.base).as_nanos()).unwrap_or(NONE - 1)
    }

    fn at(&self, nanos: u64) -> Option<Instant> {
        match nanos {
            NONE => None,
            n => self.base.checked_add(Duration::from_nanos(n)),
        }
    }

    /// hyper begins to wait for a head.
    fn begin_wait(&self, now: Instant) {
        self.waits.fetch_add(1, Ordering::Relaxed);
        self.first_byte.store(NONE, Ordering::Relaxed);
        self.awaiting_first_byte.store(true, Ordering::Relaxed);
        self.wait_started
            .store(self.since_base(now), Ordering::Relaxed);
    }

    /// A request head arrived: no wait until hyper begins the next one.
    pub fn head_arrived(&self) {
        self.wait_started.store(NONE, Ordering::Relaxed);
        self.awaiting_first_byte.store(false, Ordering::Relaxed);
    }

    /// Bytes arrived from the client.
    fn bytes_read(&self) {
        if self.awaiting_first_byte.load(Ordering::Relaxed) {
            self.awaiting_first_byte.store(false, Ordering::Relaxed);
            self.first_byte
                .store(self.since_base(Instant::now()), Ordering::Relaxed);
        }
    }

    /// When the current wait for a head ends, and what it is; `None` while no head is awaited.
    fn deadline(&self) -> Option<(Instant, Overdue)> {
        let started = self.at(self.wait_started.load(Ordering::Relaxed))?;
        let from = |t: Instant, d: Duration| t.checked_add(d).unwrap_or(t);
        if self.waits.load(Ordering::Relaxed) <= 1 {
            return Some((from(started, self.header_read), Overdue::Head));
        }
        match self.at(self.first_byte.load(Ordering::Relaxed)) {
            None => Some((from(started, self.keepalive), Overdue::Idle)),
            Some(byte) => Some((from(byte, self.header_read), Overdue::Head)),
        }
    }

    /// Every deadline is at least this long after its wait began, so looking this often while
    /// no wait is known never misses one.
    fn look_every(&self) -> Duration {
        self.header_read.min(self.keepalive)
    }
}

/// Completes when the connection's wait for a request head runs past its deadline (the caller
/// then closes the connection). One timer per connection, moved only when a deadline is near:
/// arming one for every request, as hyper's own timer does, costs more than the rest of the
/// timeout handling together.
pub async fn head_overdue(clock: Arc<HeadClock>) -> Overdue {
    let sleep = tokio::time::sleep(clock.look_every());
    tokio::pin!(sleep);
    loop {
        sleep.as_mut().await;
        let now = Instant::now();
        let next = match clock.deadline() {
            Some((deadline, why)) if deadline <= now => return why,
            Some((deadline, _)) => deadline,
            None => now.checked_add(clock.look_every()).unwrap_or(now),
        };
        sleep.as_mut().reset(next.into());
    }
}

/// The timer handed to hyper for one connection. hyper's HTTP/1 server uses its timer only for
/// the header-read timeout, asking for a sleep whenever it begins to wait for a head and
/// dropping it when the head is in: here that only notes when the wait began (the sleep itself
/// never ends), and [`head_overdue`] keeps the time.
#[derive(Debug, Clone)]
pub struct HeadTimer(pub Arc<HeadClock>);

impl hyper::rt::Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(TokioSleep(Box::pin(tokio::time::sleep(duration))))
    }

    fn sleep_until(&self, _hyper_deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.0.begin_wait(Instant::now());
        // A zero-sized value: boxing it allocates nothing.
        Box::pin(Never)
    }
}

/// The sleep of a head wait: [`head_overdue`] ends the wait, not this.
struct Never;

impl Future for Never {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl hyper::rt::Sleep for Never {}

/// A plain sleep, should hyper ever ask for one.
struct TokioSleep(Pin<Box<tokio::time::Sleep>>);

impl Future for TokioSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for TokioSleep {}

/// A client connection as hyper sees it: the TCP stream, telling the [`HeadClock`] when bytes
/// arrive, and holding the connection's [`Slot`] under the cap for as long as it lives (hyper
/// hands this same value to a WebSocket tunnel, so a tunnel keeps its slot).
#[derive(Debug)]
pub struct EdgeIo {
    stream: TcpStream,
    clock: Arc<HeadClock>,
    _slot: Option<Slot>,
}

impl EdgeIo {
    pub fn new(stream: TcpStream, clock: Arc<HeadClock>, slot: Option<Slot>) -> Self {
        Self {
            stream,
            clock,
            _slot: slot,
        }
    }
}

impl AsyncRead for EdgeIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.clock.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for EdgeIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Duration = Duration::from_secs(10);
    const K: Duration = Duration::from_secs(75);

    #[test]
    fn the_first_head_gets_the_header_read_timeout_from_the_start() {
        let clock = HeadClock::new(H, K);
        assert_eq!(clock.deadline(), None);
        let start = Instant::now();
        clock.begin_wait(start);
        let (deadline, why) = clock.deadline().unwrap();
        assert_eq!(why, Overdue::Head);
        assert!(deadline >= start + H - Duration::from_micros(1) && deadline <= start + H);
        // Bytes on a first head change nothing: the whole head is due by start + H.
        clock.bytes_read();
        assert_eq!(clock.deadline().unwrap().0, deadline);
        // The head is in: nothing is awaited while the request is in flight.
        clock.head_arrived();
        assert_eq!(clock.deadline(), None);
    }

    #[test]
    fn a_kept_alive_connection_waits_idle_then_gives_the_head_its_own_timeout() {
        let clock = HeadClock::new(H, K);
        clock.begin_wait(Instant::now());
        clock.head_arrived();
        let idle_from = Instant::now();
        clock.begin_wait(idle_from);
        let (idle_deadline, why) = clock.deadline().unwrap();
        assert_eq!(why, Overdue::Idle);
        assert!(
            idle_deadline <= idle_from + K
                && idle_deadline + Duration::from_micros(1) >= idle_from + K
        );
        clock.bytes_read();
        let (head_deadline, why) = clock.deadline().unwrap();
        assert_eq!(why, Overdue::Head);
        assert!(head_deadline >= idle_from + H - Duration::from_micros(1));
        assert!(head_deadline < idle_deadline);
        // Later bytes of the same head do not move the deadline.
        clock.bytes_read();
        assert_eq!(clock.deadline().unwrap().0, head_deadline);
        // The next wait starts idle again.
        clock.head_arrived();
        clock.begin_wait(Instant::now());
        assert_eq!(clock.deadline().unwrap().1, Overdue::Idle);
    }

    #[tokio::test]
    async fn head_overdue_fires_only_while_a_head_is_awaited() {
        let clock = HeadClock::new(Duration::from_secs(1), Duration::from_secs(1));
        let watchdog = tokio::spawn(head_overdue(clock.clone()));
        // A request in flight for longer than both timeouts: never overdue.
        clock.begin_wait(Instant::now());
        clock.head_arrived();
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(!watchdog.is_finished());
        // Then a kept-alive wait that nothing ends.
        clock.begin_wait(Instant::now());
        let why = tokio::time::timeout(Duration::from_secs(30), watchdog)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(why, Overdue::Idle);
    }

    #[tokio::test]
    async fn the_cap_hands_out_its_slots_and_takes_them_back() {
        let cap = ConnectionCap::new(std::num::NonZeroUsize::new(2).unwrap());
        let a = cap.slot().await;
        let _b = cap.slot().await;
        assert_eq!(cap.open(), 2);
        let waiting = tokio::spawn({
            let cap = cap.clone();
            async move { cap.slot().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(a);
        let _c = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cap.open(), 2);
    }
}
