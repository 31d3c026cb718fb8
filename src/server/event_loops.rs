//! The gateway's event loops: one single-threaded Tokio runtime per core (nginx's worker model,
//! in threads), fed by one acceptor thread that hands new connections to the loops in turn.
//!
//! Why not Tokio's work-stealing runtime: a proxied request is handed between two tasks, the
//! browser's connection and the pooled backend connection. On a work-stealing runtime the two
//! often run on different threads, and every hand-over is then a cross-thread wake-up. Here a
//! connection stays on the loop it was given, and each loop has its own backend pool
//! ([`current`] picks it; see `Proxy`), so a request never leaves its thread, which costs
//! less CPU per request than the work-stealing runtime (docs/performance.md has the comparison).
//!
//! Why an acceptor hands connections out instead of every loop accepting from the socket: a loop
//! that wakes first accepts a whole burst (a client opening its connections at once), leaving
//! the other loops idle for as long as those connections live. Taking turns gives every loop
//! its share however the connections arrive, and a loop busy with a long request does not hold
//! up accepting.
//!
//! Everything else the handlers share (sessions, the replay cache, Redis clients) is
//! `Send + Sync` and shared by all loops. Tasks spawned while building that state run on the
//! first loop.

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, watch};

use super::connection_limits::{ConnectionCap, Slot};
use super::connections::{Accepted, Incoming, ServeApp, accept, serve_connections, stopped};
use crate::config::ConnectionLimits;
use crate::proxy::pool;

/// The index of the event loop running on this thread: 0 on the first loop and on any thread
/// that is not an event loop (tests, `demo`, the work-stealing runtime). The proxy keeps it, as
/// it picks the backend pool by it.
pub fn current() -> usize {
    pool::this_thread_pool()
}

/// One loop per core: the cores this process may use (cgroup CPU limits included), at least 1.
pub fn default_count() -> NonZeroUsize {
    crate::config::default_event_loop_count()
}

fn runtime() -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// A connection on its way from the acceptor to a loop: a std stream (a Tokio one belongs to
/// the runtime that registered it), the client's address, its slot under the cap.
type Handoff = (std::net::TcpStream, SocketAddr, Slot);

/// A loop's side of the hand-off.
struct Handed {
    connections: mpsc::UnboundedReceiver<Handoff>,
}

impl Incoming for Handed {
    async fn next(&mut self) -> Accepted {
        loop {
            let Some((stream, peer, slot)) = self.connections.recv().await else {
                // The acceptor has stopped: so is the gateway. Wait for the shutdown to end
                // this loop's serving.
                return std::future::pending().await;
            };
            match TcpStream::from_std(stream) {
                Ok(stream) => return Accepted { stream, peer, slot },
                Err(e) => tracing::warn!(%peer, "cannot take over an accepted connection: {e}"),
            }
        }
    }
}

/// The loops, built and not yet serving.
pub struct EventLoops {
    first: Runtime,
    others: Vec<Runtime>,
}

impl EventLoops {
    /// Build `count` single-threaded runtimes (timers and I/O enabled).
    pub fn new(count: NonZeroUsize) -> std::io::Result<Self> {
        let first = runtime()?;
        let others = (1..count.get())
            .map(|_| runtime())
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Self { first, others })
    }

    pub fn count(&self) -> usize {
        1 + self.others.len()
    }

    /// Run `future` on the first loop, on this thread: building the state, binding sockets.
    /// Tasks it spawns keep running on the first loop once [`EventLoops::serve`] runs it.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        pool::use_pool_on_this_thread(0);
        self.first.block_on(future)
    }

    /// Serve `app` on every loop, connections from `listener`, until `shutdown` completes,
    /// with the app's limits ([`ServeApp::limits`]).
    pub fn serve(
        self,
        listener: std::net::TcpListener,
        app: impl ServeApp,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let limits = app.limits();
        self.serve_with(listener, app, limits, shutdown)
    }

    /// Serve `app` on every loop, connections from `listener`, until `shutdown` completes. The
    /// cap in `limits` counts the connections of all loops together. The first loop runs on
    /// this thread, the others and the acceptor on threads of their own. When any of them stops
    /// (an error), all stop, and the first error is returned.
    pub fn serve_with(
        self,
        listener: std::net::TcpListener,
        app: impl ServeApp,
        limits: ConnectionLimits,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let cap = ConnectionCap::new(limits.max_connections_or_default());
        listener.set_nonblocking(true)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let stop_tx = Arc::new(stop_tx);

        let mut senders = Vec::with_capacity(self.count());
        let mut receivers = Vec::with_capacity(self.count());
        for _ in 0..self.count() {
            let (tx, rx) = mpsc::unbounded_channel();
            senders.push(tx);
            receivers.push(Handed { connections: rx });
        }
        let mut receivers = receivers.into_iter();
        let first_handed = receivers.next();

        let mut threads = Vec::with_capacity(self.others.len() + 1);
        let acceptor = {
            let (rx, tx) = (stop_rx.clone(), stop_tx.clone());
            move || {
                let _stop_all = StopAll(tx);
                runtime().and_then(|rt| {
                    rt.block_on(async move {
                        let listener = TcpListener::from_std(listener)?;
                        tokio::select! {
                            () = hand_out(&listener, &senders, &cap) => Ok(()),
                            () = stopped(rx) => Ok(()),
                        }
                    })
                })
            }
        };
        let spawned = std::thread::Builder::new()
            .name("samlgate-acceptor".into())
            .spawn(acceptor);
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(e) => return Err(e),
        }

        for ((offset, runtime), handed) in self.others.into_iter().enumerate().zip(receivers) {
            let index = offset + 1;
            let app = app.clone();
            let (rx, tx) = (stop_rx.clone(), stop_tx.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("samlgate-loop-{index}"))
                .spawn(move || {
                    // Whatever ends this loop (a panic included) ends the others: a gateway serving
                    // on fewer loops than configured, silently, is worse than one that stops and
                    // says why.
                    let _stop_all = StopAll(tx);
                    pool::use_pool_on_this_thread(index);
                    runtime.block_on(serve_connections(handed, app, limits, stopped(rx)));
                    Ok(())
                });
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(e) => {
                    stop_tx.send_replace(true);
                    return Err(e);
                }
            }
        }

        pool::use_pool_on_this_thread(0);
        let first = match first_handed {
            Some(handed) => {
                let (rx, tx) = (stop_rx.clone(), stop_tx.clone());
                self.first.block_on(async move {
                    let until = async move {
                        tokio::select! {
                            () = shutdown => {}
                            () = stopped(rx) => {}
                        }
                        tx.send_replace(true);
                    };
                    serve_connections(handed, app, limits, until).await;
                    Ok(())
                })
            }
            None => Ok(()),
        };
        stop_tx.send_replace(true);

        let mut result = first;
        for thread in threads {
            let joined = thread
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("an event loop thread panicked")));
            if result.is_ok() {
                result = joined;
            }
        }
        result
    }
}

/// Announces the stop when dropped, on return or unwinding alike.
struct StopAll(Arc<watch::Sender<bool>>);

impl Drop for StopAll {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

/// Accept for ever under the cap, handing each connection to the next loop in turn.
async fn hand_out(
    listener: &TcpListener,
    loops: &[mpsc::UnboundedSender<Handoff>],
    cap: &ConnectionCap,
) {
    let mut next = 0usize;
    loop {
        let (stream, peer, slot) = accept(listener, cap).await;
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%peer, "cannot hand over an accepted connection: {e}");
                continue;
            }
        };
        if let Some(target) = loops.get(next % loops.len().max(1)) {
            // A loop gone means the gateway is stopping; the connection is closed on drop.
            let _ = target.send((stream, peer, slot));
        }
        next = next.wrapping_add(1);
    }
}
