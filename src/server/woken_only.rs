//! [`WokenOnly`]: a future polled only after it asked to be, for the watchers that sit beside a
//! connection in one task.
//!
//! A connection's task is woken two or three times per request (the request's bytes, the
//! backend's answer, its body). `tokio::select!` polls every branch on every wake, so the
//! connection's watchers (its head deadline and the stop announcement) were polled each time too,
//! though they are woken only by a timer tick or a stop: each poll asked two futures a question
//! whose answer had not changed (a timer's state, a watch channel's version). Wrapped, they cost
//! a wake-up check when nothing woke them (see `docs/performance.md` for what that saved).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// `inner`, polled on the first poll and then only after it woke its waker; every other poll
/// returns `Pending` at once. Correct for any future: one that is not polled keeps waiting until
/// it wakes its waker, and that wake-up reaches the task that polls the wrapper.
pub struct WokenOnly<F> {
    inner: Pin<Box<F>>,
    signal: Arc<Signal>,
    /// The waker `inner` is polled with: it notes the wake-up, then wakes the task.
    waker: Waker,
}

/// Shared by the wrapper and the waker it gives `inner`.
struct Signal {
    /// `inner` woke its waker since it was last polled (true at first: it must be polled once).
    woken: AtomicBool,
    /// The waker of the task that last polled the wrapper.
    task: Mutex<Option<Waker>>,
}

impl Signal {
    fn task(&self) -> MutexGuard<'_, Option<Waker>> {
        // Nothing panics while the slot is held; a poisoned slot still holds a valid waker.
        self.task.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Noted before the task is woken, so that the poll the wake-up causes sees it.
        self.woken.store(true, Ordering::Release);
        let task = self.task().clone();
        if let Some(task) = task {
            task.wake();
        }
    }
}

impl<F: Future> WokenOnly<F> {
    pub fn new(inner: F) -> Self {
        let signal = Arc::new(Signal {
            woken: AtomicBool::new(true),
            task: Mutex::new(None),
        });
        Self {
            inner: Box::pin(inner),
            waker: Waker::from(Arc::clone(&signal)),
            signal,
        }
    }
}

impl<F: Future> Future for WokenOnly<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        {
            // The task's waker is recorded before the flag is read: a wake-up that comes after
            // the read finds it and wakes the task again.
            let mut task = this.signal.task();
            if !task.as_ref().is_some_and(|t| t.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        if !this.signal.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        this.inner
            .as_mut()
            .poll(&mut Context::from_waker(&this.waker))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    /// Counts its polls; ready once `ready` is set, and it wakes its waker when set.
    struct Probe {
        polls: Arc<AtomicUsize>,
        ready: Arc<AtomicBool>,
        waker: Arc<Mutex<Option<Waker>>>,
    }

    impl Future for Probe {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            if self.ready.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    struct CountingWaker(AtomicUsize);
    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn polled_first_then_only_after_its_own_wake_up() {
        let polls = Arc::new(AtomicUsize::new(0));
        let ready = Arc::new(AtomicBool::new(false));
        let probe_waker = Arc::new(Mutex::new(None::<Waker>));
        let mut wrapped = WokenOnly::new(Probe {
            polls: polls.clone(),
            ready: ready.clone(),
            waker: probe_waker.clone(),
        });
        let task = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let task_waker = Waker::from(task.clone());
        let mut cx = Context::from_waker(&task_waker);

        assert!(Pin::new(&mut wrapped).poll(&mut cx).is_pending());
        assert_eq!(
            polls.load(Ordering::SeqCst),
            1,
            "the first poll reaches the inner future"
        );
        // The task woken for something else: the inner future is not asked again.
        for _ in 0..5 {
            assert!(Pin::new(&mut wrapped).poll(&mut cx).is_pending());
        }
        assert_eq!(polls.load(Ordering::SeqCst), 1);

        // The inner future becomes ready and wakes its waker: the task is woken, and the next
        // poll reaches the inner future and returns its output.
        ready.store(true, Ordering::SeqCst);
        let inner_waker = probe_waker.lock().unwrap().clone().unwrap();
        inner_waker.wake();
        assert_eq!(
            task.0.load(Ordering::SeqCst),
            1,
            "the wake-up reaches the task"
        );
        assert!(Pin::new(&mut wrapped).poll(&mut cx).is_ready());
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_wake_up_reaches_the_task_that_polled_last() {
        let ready = Arc::new(AtomicBool::new(false));
        let probe_waker = Arc::new(Mutex::new(None::<Waker>));
        let mut wrapped = WokenOnly::new(Probe {
            polls: Arc::new(AtomicUsize::new(0)),
            ready: ready.clone(),
            waker: probe_waker.clone(),
        });
        let first = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let second = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let first_waker = Waker::from(first.clone());
        let second_waker = Waker::from(second.clone());
        assert!(
            Pin::new(&mut wrapped)
                .poll(&mut Context::from_waker(&first_waker))
                .is_pending()
        );
        // Moved to another task (as a future may be): that task's waker is the one woken.
        assert!(
            Pin::new(&mut wrapped)
                .poll(&mut Context::from_waker(&second_waker))
                .is_pending()
        );
        probe_waker.lock().unwrap().clone().unwrap().wake();
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_inside_still_fires_beside_a_busy_future() {
        // The wrapped sleep ends while another branch keeps waking the task.
        let wrapped = WokenOnly::new(tokio::time::sleep(Duration::from_secs(5)));
        let busy = async {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        let finished = tokio::select! {
            biased;
            () = busy => false,
            () = wrapped => true,
        };
        assert!(finished);
    }

    #[tokio::test]
    async fn a_wake_up_from_another_thread_is_not_lost() {
        for _ in 0..200 {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let wrapped = WokenOnly::new(rx);
            let sender = std::thread::spawn(move || {
                let _ = tx.send(());
            });
            let got = tokio::time::timeout(Duration::from_secs(10), wrapped).await;
            assert!(matches!(got, Ok(Ok(()))));
            sender.join().unwrap();
        }
    }
}
