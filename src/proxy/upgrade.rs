//! WebSocket upgrades: the backend's 101 goes back to the browser and the bytes are copied both
//! ways once both connections switched, for as long as the tunnel's [`TunnelLease`] holds.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

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

/// Answer the browser's upgrade with the backend's 101 and copy bytes both ways once both sides
/// switched, while `lease` (if any) holds.
pub(super) fn tunnel<B>(
    client_upgrade: hyper::upgrade::OnUpgrade,
    mut response: Response<B>,
    lease: Option<Box<dyn TunnelLease>>,
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
        let mut client = TokioIo::new(client);
        let mut backend = TokioIo::new(backend);
        let copy = tokio::io::copy_bidirectional(&mut client, &mut backend);
        let copied = match &lease {
            None => Some(copy.await),
            Some(lease) => while_held(copy, lease.as_ref(), LEASE_CHECK_EVERY).await,
        };
        match copied {
            Some(Ok(_)) => {}
            Some(Err(e)) => tracing::debug!(error = %e, "WebSocket tunnel closed with an error"),
            // Both connections are closed as the task ends (the browser sees the connection
            // drop, close code 1006): no frame can be added to a stream copied mid-frame.
            None => tracing::info!("WebSocket tunnel closed: its session has ended"),
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

/// Run `copy` to its end while `lease` holds, asking it every `every`: `None` once it no longer
/// does (`copy` is dropped unfinished). The copy goes on while the lease is asked.
async fn while_held<F: Future>(
    copy: F,
    lease: &dyn TunnelLease,
    every: Duration,
) -> Option<F::Output> {
    tokio::pin!(copy);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            done = &mut copy => return Some(done),
            _ = ticks.tick() => {}
        }
        let holds = tokio::select! {
            done = &mut copy => return Some(done),
            holds = lease.holds() => holds,
        };
        if !holds {
            return None;
        }
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

    #[tokio::test(start_paused = true)]
    async fn the_copy_ends_unfinished_at_the_first_check_after_the_lease_stops_holding() {
        let lease = Arc::new(Switch::default());
        lease.held.store(true, Ordering::SeqCst);
        let flip = Arc::clone(&lease);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(12)).await;
            flip.held.store(false, Ordering::SeqCst);
        });
        let started = tokio::time::Instant::now();
        let copied = while_held(std::future::pending::<()>(), &lease, LEASE_CHECK_EVERY).await;
        assert_eq!(copied, None);
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
        assert_eq!(while_held(copy, &lease, LEASE_CHECK_EVERY).await, Some(42));
        assert_eq!(lease.asked.load(Ordering::SeqCst), 1);
    }
}
