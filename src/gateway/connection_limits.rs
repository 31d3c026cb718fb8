//! What a client connection may hold, enforced per connection: the cap on open connections
//! ([`ConnectionCap`]), and the header-read and keep-alive timeouts ([`HeadTimer`] with
//! [`EdgeIo`]).
//!
//! hyper's own `header_read_timeout` arms one timer whenever it waits for a request head: on a new
//! connection, and again as soon as a kept-alive connection's previous response is written. With
//! its timer alone, an idle kept-alive connection would therefore be closed after the header-read
//! timeout (much shorter than a load balancer's idle timeout: its next request would get a 502),
//! and a kept-alive connection could not be allowed a long idle time without also being allowed to
//! send its next head that slowly. What is added here is only the clock that tells the two apart:
//! hyper keeps deciding when a head is being waited for (never while a request is in flight, so a
//! slow backend response is never cut), and [`HeadTimer`] decides how long: the header-read
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
/// Shared by the connection's [`HeadTimer`] and [`EdgeIo`].
#[derive(Debug)]
pub struct HeadClock {
    header_read: Duration,
    keepalive: Duration,
    base: Instant,
    /// Heads waited for so far: the first one gets no keep-alive allowance.
    waits: AtomicU32,
    /// Set while a kept-alive connection waits for the first byte of its next head.
    awaiting_first_byte: AtomicBool,
    /// When that byte came, in nanoseconds since `base`; [`NOT_YET`] until then.
    first_byte: AtomicU64,
}

const NOT_YET: u64 = u64::MAX;

impl HeadClock {
    pub fn new(header_read: Duration, keepalive: Duration) -> Arc<Self> {
        Arc::new(Self {
            header_read,
            keepalive,
            base: Instant::now(),
            waits: AtomicU32::new(0),
            awaiting_first_byte: AtomicBool::new(false),
            first_byte: AtomicU64::new(NOT_YET),
        })
    }

    /// hyper begins to wait for a head: is it the connection's first?
    fn begin_wait(&self) -> bool {
        let first = self.waits.fetch_add(1, Ordering::Relaxed) == 0;
        if !first {
            self.first_byte.store(NOT_YET, Ordering::Relaxed);
            self.awaiting_first_byte.store(true, Ordering::Relaxed);
        }
        first
    }

    /// Bytes arrived from the client.
    fn bytes_read(&self) {
        if self.awaiting_first_byte.load(Ordering::Relaxed) {
            self.awaiting_first_byte.store(false, Ordering::Relaxed);
            let since = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(NOT_YET - 1);
            self.first_byte.store(since, Ordering::Relaxed);
        }
    }

    fn first_byte(&self) -> Option<Instant> {
        match self.first_byte.load(Ordering::Relaxed) {
            NOT_YET => None,
            nanos => self.base.checked_add(Duration::from_nanos(nanos)),
        }
    }

    /// When the wait for a head that began at `started` ends.
    fn deadline(&self, started: Instant, first: bool) -> Instant {
        let from = |t: Instant, d: Duration| t.checked_add(d).unwrap_or(t);
        if first {
            return from(started, self.header_read);
        }
        match self.first_byte() {
            None => from(started, self.keepalive),
            Some(byte) => from(byte, self.header_read),
        }
    }
}

/// The timer handed to hyper for one connection (hyper's HTTP/1 server uses its timer only for
/// the header-read timeout): its sleeps end at [`HeadClock::deadline`], looked at again each
/// time hyper polls them (after every read that did not complete the head).
#[derive(Debug, Clone)]
pub struct HeadTimer(pub Arc<HeadClock>);

impl hyper::rt::Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let deadline = Instant::now()
            .checked_add(duration)
            .unwrap_or_else(Instant::now);
        Box::pin(HeadSleep {
            inner: tokio::time::sleep_until(deadline.into()),
            wait: None,
        })
    }

    fn sleep_until(&self, _hyper_deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let started = Instant::now();
        let first = self.0.begin_wait();
        let deadline = self.0.deadline(started, first);
        Box::pin(HeadSleep {
            inner: tokio::time::sleep_until(deadline.into()),
            wait: Some(HeadWait {
                clock: self.0.clone(),
                started,
                first,
            }),
        })
    }
}

#[derive(Debug)]
struct HeadWait {
    clock: Arc<HeadClock>,
    started: Instant,
    first: bool,
}

pin_project_lite::pin_project! {
    /// A wait for a request head (or, from [`HeadTimer::sleep`], a plain sleep).
    #[derive(Debug)]
    struct HeadSleep {
        #[pin]
        inner: tokio::time::Sleep,
        wait: Option<HeadWait>,
    }
}

impl Future for HeadSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if let Some(wait) = this.wait {
            let deadline =
                tokio::time::Instant::from_std(wait.clock.deadline(wait.started, wait.first));
            if this.inner.deadline() != deadline {
                this.inner.as_mut().reset(deadline);
            }
        }
        this.inner.poll(cx)
    }
}

impl hyper::rt::Sleep for HeadSleep {}

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
        let start = Instant::now();
        let first = clock.begin_wait();
        assert!(first);
        // Bytes on a first head change nothing: the whole head is due by start + H.
        clock.bytes_read();
        assert_eq!(clock.deadline(start, first), start + H);
    }

    #[test]
    fn a_kept_alive_connection_waits_idle_then_gives_the_head_its_own_timeout() {
        let clock = HeadClock::new(H, K);
        assert!(clock.begin_wait());
        let idle_from = Instant::now();
        let first = clock.begin_wait();
        assert!(!first);
        assert_eq!(clock.deadline(idle_from, first), idle_from + K);
        clock.bytes_read();
        let byte = clock.first_byte().unwrap();
        assert!(byte >= idle_from);
        assert_eq!(clock.deadline(idle_from, first), byte + H);
        // Later bytes of the same head do not move the deadline.
        clock.bytes_read();
        assert_eq!(clock.first_byte(), Some(byte));
        // The next wait starts idle again.
        let again = Instant::now();
        assert!(!clock.begin_wait());
        assert_eq!(clock.deadline(again, false), again + K);
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
