//! CPU-heavy work that a visitor without a session can trigger (validating a posted Response,
//! signing an AuthnRequest) runs on Tokio's blocking pool, a bounded number at once, so that the
//! event loops go on serving proxied requests however much of it arrives. Work that finds no slot
//! free within [`SLOT_WAIT`] is refused (the caller answers 503) rather than queued without end.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;

/// How long work waits for a slot. Under a flood the queue stays short, and a real user is told
/// to retry rather than left hanging.
pub const SLOT_WAIT: Duration = Duration::from_secs(3);

/// Run before each piece of work, on the thread doing it (see [`Offload::hook`]).
pub type Hook = Box<dyn Fn() + Send + Sync>;

/// Why the work did not run.
#[derive(Debug, thiserror::Error)]
pub enum OffloadError {
    #[error("no {what} slot free within {waited:?} ({slots} running at once at most)")]
    Busy {
        what: &'static str,
        waited: Duration,
        slots: usize,
    },
    #[error("the {what} task ended without a result: {detail}")]
    Failed { what: &'static str, detail: String },
}

/// A bounded set of blocking-pool slots for one kind of work.
pub struct Offload {
    /// Names the work in log lines ("ACS validation").
    what: &'static str,
    slots: Arc<Semaphore>,
    limit: usize,
    /// Never set by the gateway itself: tests set it to hold the work where it runs, and show
    /// that proxied requests are served meanwhile.
    pub hook: OnceLock<Hook>,
}

impl Offload {
    pub fn new(what: &'static str, limit: usize) -> Self {
        let limit = limit.max(1);
        Offload {
            what,
            slots: Arc::new(Semaphore::new(limit)),
            limit,
            hook: OnceLock::new(),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Run `work` on the blocking pool once a slot is free.
    pub async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, OffloadError> {
        let slot =
            match tokio::time::timeout(SLOT_WAIT, Arc::clone(&self.slots).acquire_owned()).await {
                Ok(Ok(slot)) => slot,
                Ok(Err(closed)) => {
                    return Err(OffloadError::Failed {
                        what: self.what,
                        detail: closed.to_string(),
                    });
                }
                Err(_) => {
                    return Err(OffloadError::Busy {
                        what: self.what,
                        waited: SLOT_WAIT,
                        slots: self.limit,
                    });
                }
            };
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            // Held until the work ends, even when the client has gone: the bound counts threads.
            let _slot = slot;
            if let Some(hook) = this.hook.get() {
                hook();
            }
            work()
        })
        .await
        .map_err(|e| OffloadError::Failed {
            what: self.what,
            detail: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_off_the_calling_thread_and_returns_its_value() {
        let offload = Arc::new(Offload::new("test", 1));
        let caller = std::thread::current().id();
        let (value, worker) = offload
            .run(|| (21 * 2, std::thread::current().id()))
            .await
            .unwrap();
        assert_eq!(value, 42);
        assert_ne!(worker, caller);
    }

    #[tokio::test]
    async fn work_that_finds_no_slot_in_time_is_refused() {
        let offload = Arc::new(Offload::new("test", 1));
        let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = std::sync::Mutex::new(release_rx);
        let held = {
            let offload = Arc::clone(&offload);
            tokio::spawn(async move {
                offload
                    .run(move || {
                        let _ = entered_tx.send(());
                        let _ = release_rx.lock().map(|rx| rx.recv());
                    })
                    .await
            })
        };
        tokio::task::spawn_blocking(move || entered_rx.recv())
            .await
            .unwrap()
            .unwrap();
        let second = offload.run(|| ()).await;
        assert!(
            matches!(second, Err(OffloadError::Busy { slots: 1, .. })),
            "{second:?}"
        );
        release_tx.send(()).unwrap();
        held.await.unwrap().unwrap();
        assert!(offload.run(|| ()).await.is_ok(), "the slot is free again");
    }
}
