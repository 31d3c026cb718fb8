//! Idle keep-alive connections to the backend: one set per event loop, so that a request and
//! the connection it goes out on stay on one thread. A set is a short list behind a lock only
//! its own loop takes, newest at the back; connections idle too long are closed by a sweeper
//! even when no request comes to look at them.

use std::cell::Cell;
use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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

/// What an idle set needs to know of a connection.
pub(super) trait Reusable {
    /// It can take a request now.
    fn is_ready(&mut self) -> bool;
    /// It can never take one again (closed, or in a state that forbids reuse).
    fn is_closed(&mut self) -> bool;
}

/// One idle set per event loop.
pub(super) struct Sets<C> {
    /// Indexed by event loop.
    sets: Box<[Arc<IdleSet<C>>]>,
    /// The first set again: for threads that are not event loops.
    first: Arc<IdleSet<C>>,
}

impl<C: Reusable + Send + 'static> Sets<C> {
    pub(super) fn new(count: NonZeroUsize) -> Self {
        let first = Arc::new(IdleSet::default());
        Self {
            sets: std::iter::once(Arc::clone(&first))
                .chain((1..count.get()).map(|_| Arc::new(IdleSet::default())))
                .collect(),
            first,
        }
    }

    /// This event loop's set (the first for threads that are not event loops).
    pub(super) fn this_loop(&self) -> &Arc<IdleSet<C>> {
        self.sets.get(this_thread_pool()).unwrap_or(&self.first)
    }

    /// How many sets (event loops).
    pub(super) fn len(&self) -> usize {
        self.sets.len()
    }

    /// Idle connections kept, over all sets.
    pub(super) fn idle_count(&self) -> usize {
        self.sets.iter().map(|set| set.lock().len()).sum()
    }
}

pub(super) struct Idle<C> {
    pub(super) conn: C,
    pub(super) since: Instant,
}

/// One event loop's idle connections, newest at the back.
pub(super) struct IdleSet<C> {
    idle: Mutex<VecDeque<Idle<C>>>,
    /// Whether this set's sweeper runs (started with its first connection, on its loop).
    swept: AtomicBool,
}

impl<C> Default for IdleSet<C> {
    fn default() -> Self {
        Self {
            idle: Mutex::new(VecDeque::new()),
            swept: AtomicBool::new(false),
        }
    }
}

impl<C: Reusable + Send + 'static> IdleSet<C> {
    pub(super) fn lock(&self) -> MutexGuard<'_, VecDeque<Idle<C>>> {
        // A panic while the list was held cannot leave it inconsistent: every change is one
        // push or removal.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The newest connection that can take a request now. Connections idle longer than
    /// `max_age`, and closed ones, are dropped; one still finishing its last exchange is left
    /// for later.
    pub(super) fn take_ready(&self, max_age: Duration) -> Option<C> {
        let mut idle = self.lock();
        evict_idle(&mut idle, Instant::now(), max_age);
        match idle.iter_mut().rposition(|i| i.conn.is_ready()) {
            Some(at) => idle.remove(at).map(|i| i.conn),
            None => {
                idle.retain_mut(|i| !i.conn.is_closed());
                None
            }
        }
    }

    pub(super) fn put(&self, conn: C, max_idle: usize) {
        self.put_at(conn, max_idle, Instant::now());
    }

    pub(super) fn put_at(&self, mut conn: C, max_idle: usize, now: Instant) {
        if conn.is_closed() || max_idle == 0 {
            return;
        }
        let mut idle = self.lock();
        while idle.len() >= max_idle {
            idle.pop_front();
        }
        idle.push_back(Idle { conn, since: now });
    }

    /// Drop (and so close) the connections idle longer than `max_age` at `now`.
    pub(super) fn sweep(&self, now: Instant, max_age: Duration) {
        evict_idle(&mut self.lock(), now, max_age);
    }

    /// Start this set's sweeper, once, on the current event loop.
    pub(super) fn sweep_from_now_on(self: &Arc<Self>, max_age: Duration) {
        if !self.swept.swap(true, Ordering::Relaxed) {
            spawn_sweeper(self, max_age);
        }
    }
}

/// The oldest are at the front.
fn evict_idle<C>(idle: &mut VecDeque<Idle<C>>, now: Instant, max_age: Duration) {
    while idle
        .front()
        .is_some_and(|i| now.saturating_duration_since(i.since) > max_age)
    {
        idle.pop_front();
    }
}

/// Close `set`'s connections once they have been idle for `max_age` (within twice that), even
/// when no request comes to look at them; ends with the pool.
fn spawn_sweeper<C: Reusable + Send + 'static>(set: &Arc<IdleSet<C>>, max_age: Duration) {
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
