//! The gateway's event loops: one single-threaded Tokio runtime per core, all accepting from one
//! listening socket (nginx's worker model, in threads).
//!
//! Why not Tokio's work-stealing runtime: a proxied request is handed between two tasks, the
//! browser's connection and the pooled backend connection. On a work-stealing runtime the two
//! often run on different threads, and every hand-over is then a cross-thread wake-up. Here a
//! connection stays on the loop that accepted it, and each loop has its own backend pool
//! ([`current`] picks it; see `Proxy`), so a request never leaves its thread. `scripts/bench-proxy`
//! measured 10-20% more requests per second for the same CPU than the work-stealing runtime.
//!
//! Everything else the handlers share (sessions, the replay cache, Redis clients) is
//! `Send + Sync` and shared by all loops. Tasks spawned while building that state run on the
//! first loop. All loops wait on the same socket: a new connection wakes them, and the first
//! loop free to call `accept` takes it, so a busy loop takes fewer.

use std::cell::Cell;
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::watch;

use super::serve::{GatewayError, serve_until};

thread_local! {
    static INDEX: Cell<usize> = const { Cell::new(0) };
}

/// The index of the event loop running on this thread: 0 on the first loop and on any thread
/// that is not an event loop (tests, `demo`, the work-stealing runtime).
pub fn current() -> usize {
    INDEX.with(Cell::get)
}

/// One loop per core: the cores this process may use (cgroup CPU limits included), at least 1.
pub fn default_count() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// The loops, built and not yet serving.
pub struct EventLoops {
    first: Runtime,
    others: Vec<Runtime>,
}

impl EventLoops {
    /// Build `count` single-threaded runtimes (timers and I/O enabled).
    pub fn new(count: NonZeroUsize) -> std::io::Result<Self> {
        let build = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        };
        let first = build()?;
        let others = (1..count.get())
            .map(|_| build())
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Self { first, others })
    }

    pub fn count(&self) -> usize {
        1 + self.others.len()
    }

    /// Run `future` on the first loop, on this thread: building the state, binding sockets.
    /// Tasks it spawns keep running on the first loop once [`EventLoops::serve`] runs it.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        INDEX.with(|i| i.set(0));
        self.first.block_on(future)
    }

    /// Serve `router` on every loop from `listener` until `shutdown` completes; the first loop runs
    /// on this thread, the others on threads of their own. When one loop stops (an error), all
    /// stop, and the first error is returned.
    pub fn serve(
        self,
        listener: std::net::TcpListener,
        router: axum::Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), GatewayError> {
        listener
            .set_nonblocking(true)
            .map_err(GatewayError::Serve)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let stop_tx = Arc::new(stop_tx);
        let stopped = move |rx: watch::Receiver<bool>| async move {
            let mut rx = rx;
            let _ = rx.wait_for(|stop| *stop).await;
        };

        let mut threads = Vec::with_capacity(self.others.len());
        for (offset, runtime) in self.others.into_iter().enumerate() {
            let index = offset + 1;
            let listener = match listener.try_clone() {
                Ok(l) => l,
                Err(e) => {
                    stop_tx.send_replace(true);
                    return Err(GatewayError::Serve(e));
                }
            };
            let router = router.clone();
            let rx = stop_rx.clone();
            let tx = stop_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("samlgate-loop-{index}"))
                .spawn(move || {
                    INDEX.with(|i| i.set(index));
                    let result = runtime.block_on(async move {
                        let listener =
                            TcpListener::from_std(listener).map_err(GatewayError::Serve)?;
                        serve_until(listener, router, stopped(rx)).await
                    });
                    // Whatever ended this loop ends the others: a gateway serving on fewer loops
                    // than configured, silently, is worse than one that stops and says why.
                    tx.send_replace(true);
                    result
                });
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(e) => {
                    stop_tx.send_replace(true);
                    return Err(GatewayError::Serve(e));
                }
            }
        }

        INDEX.with(|i| i.set(0));
        let tx = stop_tx.clone();
        let rx = stop_rx.clone();
        let first = self.first.block_on(async move {
            let listener = TcpListener::from_std(listener).map_err(GatewayError::Serve)?;
            let until = async move {
                tokio::select! {
                    () = shutdown => {}
                    () = stopped(rx) => {}
                }
                tx.send_replace(true);
            };
            serve_until(listener, router, until).await
        });
        stop_tx.send_replace(true);

        let mut result = first;
        for thread in threads {
            let joined = thread.join().unwrap_or_else(|_| {
                Err(GatewayError::Serve(std::io::Error::other(
                    "an event loop thread panicked",
                )))
            });
            if result.is_ok() {
                result = joined;
            }
        }
        result
    }
}
