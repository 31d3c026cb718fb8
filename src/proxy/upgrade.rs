//! WebSocket upgrades: the backend's 101 goes back to the browser and the bytes are copied both
//! ways once both connections switched, for as long as the tunnel's [`TunnelLease`] holds and
//! bytes keep coming (`[backend] websocket_idle_timeout`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use axum::body::Body;
use axum::http::Response;
use axum::http::header::{CONNECTION, UPGRADE};
use hyper_util::rt::TokioIo;

use super::failure::chain;
use super::hop_by_hop::remove_hop_by_hop;

/// How often a tunnel asks its lease whether it may stay open.
pub const LEASE_CHECK_EVERY: Duration = Duration::from_secs(5);

/// What a WebSocket tunnel lasts no longer than, e.g. the session it was opened in: asked every
/// [`LEASE_CHECK_EVERY`], and the tunnel is closed (both connections) once it says no. Without
/// one a tunnel lasts until either side closes it.
pub trait TunnelLease: Send + Sync + 'static {
    /// Whether the tunnel may stay open.
    fn holds(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>>;
}

/// Why a tunnel ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended<T> {
    /// One side closed (or failed): the copy's result.
    Copied(T),
    /// The lease no longer holds.
    LeaseLapsed,
    /// No byte either way for the idle timeout.
    Idle,
}

/// Answer the browser's upgrade with the backend's 101 and copy bytes both ways once both sides
/// switched, while `lease` (if any) holds and until nothing has moved either way for `idle`.
pub(super) fn tunnel<B>(
    client_upgrade: hyper::upgrade::OnUpgrade,
    mut response: Response<B>,
    lease: Option<Box<dyn TunnelLease>>,
    idle: Duration,
) -> Response<Body> {
    let backend_upgrade = hyper::upgrade::on(&mut response);
    tokio::spawn(async move {
        let (client, backend) = match tokio::try_join!(client_upgrade, backend_upgrade) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %chain(&e), "WebSocket upgrade did not complete on both sides");
                return;
            }
        };
        let moved = AtomicU64::new(0);
        let mut client = Counted::new(TokioIo::new(client), &moved);
        let mut backend = Counted::new(TokioIo::new(backend), &moved);
        let copy = tokio::io::copy_bidirectional(&mut client, &mut backend);
        // Both connections are closed as the task ends (the browser sees the connection drop,
        // close code 1006): no frame can be added to a stream copied mid-frame.
        match watched(copy, &moved, idle, lease.as_deref()).await {
            Ended::Copied(Ok(_)) => {}
            Ended::Copied(Err(e)) => {
                tracing::debug!(error = %e, "WebSocket tunnel closed with an error");
            }
            Ended::LeaseLapsed => tracing::info!("WebSocket tunnel closed: its session has ended"),
            Ended::Idle => tracing::info!(
                idle_timeout = ?idle,
                "WebSocket tunnel closed: nothing sent either way for backend.websocket_idle_timeout"
            ),
        }
    });
    let (mut parts, _) = response.into_parts();
    // Keep `Connection: upgrade` and `Upgrade`; drop the other hop-by-hop headers.
    let connection = parts.headers.remove(CONNECTION);
    let upgrade = parts.headers.remove(UPGRADE);
    remove_hop_by_hop(&mut parts.headers);
    if let Some(v) = connection {
        parts.headers.insert(CONNECTION, v);
    }
    if let Some(v) = upgrade {
        parts.headers.insert(UPGRADE, v);
    }
    Response::from_parts(parts, Body::empty())
}

/// Run `copy` to its end unless `lease` (asked every [`LEASE_CHECK_EVERY`]) stops holding, or
/// `moved` (the bytes read either way) stays the same for `idle`, looked at every
/// [`LEASE_CHECK_EVERY`] or `idle` if shorter: the copy is then dropped unfinished. The copy goes
/// on while the lease is asked.
async fn watched<F: Future>(
    copy: F,
    moved: &AtomicU64,
    idle: Duration,
    lease: Option<&dyn TunnelLease>,
) -> Ended<F::Output> {
    use tokio::time::Instant;
    tokio::pin!(copy);
    let every = LEASE_CHECK_EVERY.min(idle);
    let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen = moved.load(Ordering::Relaxed);
    let mut last_moved = Instant::now();
    loop {
        tokio::select! {
            done = &mut copy => return Ended::Copied(done),
            _ = ticks.tick() => {}
        }
        let now = Instant::now();
        let count = moved.load(Ordering::Relaxed);
        if count != seen {
            seen = count;
            last_moved = now;
        } else if now.saturating_duration_since(last_moved) >= idle {
            return Ended::Idle;
        }
        if let Some(lease) = lease {
            let holds = tokio::select! {
                done = &mut copy => return Ended::Copied(done),
                holds = lease.holds() => holds,
            };
            if !holds {
                return Ended::LeaseLapsed;
            }
        }
    }
}

/// One side of a tunnel, adding the bytes read from it to a count both sides share.
struct Counted<'a, T> {
    io: T,
    moved: &'a AtomicU64,
}

impl<'a, T> Counted<'a, T> {
    fn new(io: T, moved: &'a AtomicU64) -> Self {
        Counted { io, moved }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<'_, T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        if read > 0 {
            self.moved.fetch_add(read as u64, Ordering::Relaxed);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<'_, T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;

    /// Holds while `held`; counts the times it was asked.
    #[derive(Default)]
    struct Switch {
        held: AtomicBool,
        asked: AtomicUsize,
    }

    impl TunnelLease for Arc<Switch> {
        fn holds(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            let held = self.held.load(Ordering::SeqCst);
            Box::pin(async move { held })
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    /// Adds a byte to `moved` every `every`, `times` times, then stops.
    fn traffic(moved: &Arc<AtomicU64>, every: Duration, times: u32) {
        let moved = Arc::clone(moved);
        tokio::spawn(async move {
            for _ in 0..times {
                tokio::time::sleep(every).await;
                moved.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    #[tokio::test(start_paused = true)]
    async fn the_copy_ends_unfinished_at_the_first_check_after_the_lease_stops_holding() {
        let lease = Arc::new(Switch::default());
        lease.held.store(true, Ordering::SeqCst);
        let flip = Arc::clone(&lease);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(12)).await;
            flip.held.store(false, Ordering::SeqCst);
        });
        let moved = Arc::new(AtomicU64::new(0));
        traffic(&moved, Duration::from_secs(1), 100);
        let started = tokio::time::Instant::now();
        let ended = watched(std::future::pending::<()>(), &moved, HOUR, Some(&lease)).await;
        assert_eq!(ended, Ended::LeaseLapsed);
        // Asked at 5 and 10 s (held), then at 15 s (no longer).
        assert_eq!(lease.asked.load(Ordering::SeqCst), 3);
        assert_eq!(started.elapsed(), Duration::from_secs(15));
    }

    #[tokio::test(start_paused = true)]
    async fn a_copy_that_ends_first_gives_its_result() {
        let lease = Arc::new(Switch::default());
        lease.held.store(true, Ordering::SeqCst);
        let copy = async {
            tokio::time::sleep(Duration::from_secs(7)).await;
            42
        };
        let moved = AtomicU64::new(0);
        assert_eq!(
            watched(copy, &moved, HOUR, Some(&lease)).await,
            Ended::Copied(42)
        );
        assert_eq!(lease.asked.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_tunnel_is_closed_once_nothing_moved_for_the_idle_timeout() {
        let moved = Arc::new(AtomicU64::new(0));
        let idle = Duration::from_secs(60);
        // A byte every 47 s, 12 times, keeps it open; the last (at 564 s) is seen by the check
        // at 565 s, and the check 60 s after that closes it.
        traffic(&moved, Duration::from_secs(47), 12);
        let started = tokio::time::Instant::now();
        let ended = watched(std::future::pending::<()>(), &moved, idle, None).await;
        assert_eq!(ended, Ended::Idle);
        assert_eq!(started.elapsed(), Duration::from_secs(565 + 60));
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_timeout_shorter_than_the_lease_check_is_looked_at_that_often() {
        let moved = AtomicU64::new(0);
        let started = tokio::time::Instant::now();
        let ended = watched(
            std::future::pending::<()>(),
            &moved,
            Duration::from_secs(2),
            None,
        )
        .await;
        assert_eq!(ended, Ended::Idle);
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test]
    async fn both_directions_count_as_traffic() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let moved = AtomicU64::new(0);
        let (a, mut a_peer) = tokio::io::duplex(64);
        let (b, mut b_peer) = tokio::io::duplex(64);
        let mut a = Counted::new(a, &moved);
        let mut b = Counted::new(b, &moved);
        let copy = tokio::io::copy_bidirectional(&mut a, &mut b);
        let talk = async {
            a_peer.write_all(b"hello").await.unwrap();
            let mut got = [0u8; 5];
            b_peer.read_exact(&mut got).await.unwrap();
            b_peer.write_all(b"hi").await.unwrap();
            let mut back = [0u8; 2];
            a_peer.read_exact(&mut back).await.unwrap();
            drop(a_peer);
            drop(b_peer);
        };
        let (copied, ()) = tokio::join!(copy, talk);
        assert_eq!(copied.unwrap(), (5, 2));
        assert_eq!(moved.load(Ordering::Relaxed), 7);
    }
}
