//! Keeping a node's cache of decoded sessions in step with Redis (Redis client-side caching).
//!
//! Reading the session from Redis on every request costs a round trip, a decode and the header
//! encoding, as much CPU as the rest of the request. Instead, one dedicated
//! RESP3 connection per node asks Redis to report every change under the session prefix
//! (`CLIENT TRACKING on BCAST PREFIX <prefix>session:`): a login, an idle-timeout touch, a
//! logout on any node, an expiry or an eviction. Reports go to an [`InvalidationSink`] (the
//! session cache), which drops the named sessions.
//!
//! Reports arrive asynchronously, so on their own they would leave a window in which a
//! session ended on node A is still served by node B. [`SessionTracker::barrier`] closes it:
//! it completes only after a command sent on the tracking connection *after* the call began
//! has been answered, and Redis writes a connection's reports and replies in order. So every
//! change Redis made before the request arrived has been applied to the cache when the
//! request reads it. Requests waiting at the same moment share one round trip.
//!
//! A round trip per request would still cost as much as the cache saves when few requests
//! share one, so a completed round is a lease ([`LEASE`]): for that long after a round's
//! command was sent, [`SessionTracker::in_step`] lets requests read the cache at once, and
//! starts the next round in the background before the lease runs out. The lease's window is
//! closed on the other side: a node that ends a session waits [`SessionTracker::settle_time`]
//! (the lease and a margin) after Redis deleted it before it answers, so by then every round
//! any node's requests rely on was sent after the deletion and has applied it. A logout on
//! any node thus takes effect on every node before the logout is answered; only what no node
//! waits for (an eviction, a key deleted by hand, a flush) may be served for one lease longer.
//!
//! What reports cannot tell is checked on every round, and clears the whole cache before the
//! round completes: a new connection (fred announces each one before sending anything on it;
//! tracking starts off there, and changes made while disconnected were never reported), and
//! this node's marker key gone (the round's one command is `EXISTS` on it; `FLUSHDB`,
//! `FLUSHALL` or a restart without persistence remove it, and fred drops Redis's report of a
//! flush). Any error makes the round say
//! "not in step", and callers then read Redis, which answers or gives the 503 it always gave.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration as StdDuration;

use fred::clients::Client;
use fred::interfaces::{ClientLike, EventInterface, KeysInterface, TrackingInterface};
use fred::types::client::Invalidation;
use fred::types::config::Server;
use fred::types::{Expiration, RespVersion, Value};
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::{broadcast, watch};
use tower_sessions::session::Id;

use crate::store::StoreError;
use crate::store::keys::{KeySpace, Kind};
use crate::store::redis::{FredParts, RedisSettings};

/// Where the tracker reports changes: the node's session cache.
pub trait InvalidationSink: Send + Sync + 'static {
    /// These sessions changed or ended in Redis.
    fn invalidate(&self, ids: &[Id]);
    /// Anything may have changed (a report lost, a reconnect, a flushed database).
    fn invalidate_all(&self);
}

/// Lifetime of the node's marker key, so it outlives the node by at most this long.
const MARKER_TTL_MS: i64 = 3_600_000;
/// The marker's lifetime is renewed this often. Rounds only read it (`EXISTS`): a write per
/// round would go to every replica and the append-only file, thousands a second under load.
const MARKER_RENEWAL: StdDuration = StdDuration::from_secs(60);
/// Even with no requests, a round runs this often: it drains the reports (so they never pile
/// up past the channel's capacity) and keeps the marker alive.
const IDLE_ROUND: StdDuration = StdDuration::from_secs(1);
/// Reports buffered between two rounds before the tracker must clear the whole cache.
const REPORT_CAPACITY: usize = 4096;
/// How long after a round's command was sent requests may read the cache without another
/// round. Every node ending a session waits this long (and [`SETTLE_MARGIN`]) before it
/// answers, so it is also what a logout's answer is delayed by with Redis.
pub const LEASE: StdDuration = StdDuration::from_millis(100);
/// Added to the lease for the node that ends a session: the two nodes' monotonic clocks may
/// run at slightly different rates (NTP slews them by at most 0.05%, 50 µs over a lease).
pub const SETTLE_MARGIN: StdDuration = StdDuration::from_millis(2);
/// A request that finds the lease older than this part of it (a quarter) starts the next round
/// in the background, so that under traffic requests find a fresh lease and never wait.
const REFRESH_DIVISOR: u64 = 4;

#[derive(Clone, Copy, Debug)]
struct Round {
    /// Number of the last completed round.
    done: u64,
    /// Whether it left the cache in step with Redis.
    in_step: bool,
}

struct Shared {
    /// Number of the last round whose command was sent (or is about to be).
    started: AtomicU64,
    /// Whether a round is running. Its runner is whichever caller found none running: a
    /// waiting request, or the idle task; the others wait for its result.
    running: AtomicBool,
    rounds: watch::Sender<Round>,
    /// The connection's side of the rounds; only a round's runner locks it.
    state: tokio::sync::Mutex<Rounds>,
    command_timeout: StdDuration,
    /// What [`Shared::clock`] counts from.
    epoch: std::time::Instant,
    /// [`Shared::clock`] when the last round that left the cache in step sent its command,
    /// plus one; 0 when the last round failed (no lease).
    lease_from: AtomicU64,
    /// The lease's length, in nanoseconds.
    lease: u64,
    /// Whether a background round started by [`SessionTracker::in_step`] is under way.
    refreshing: AtomicBool,
}

impl Shared {
    /// Run a round now unless one is running (then `None`). The round is numbered after
    /// every `started` value read before this call.
    async fn try_run(&self) -> Option<Round> {
        if self
            .running
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return None;
        }
        // If this future is dropped mid-round, waiters are woken to run one themselves.
        let mut abandoned = Abandoned(Some(self));
        let done = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let in_step = {
            let mut state = self.state.lock().await;
            // Taken before the command is sent: every change Redis made before this instant
            // is applied when the round succeeds.
            let sent = self.clock();
            let in_step = state.run().await;
            // Under the lock, so leases are granted in the order rounds ran.
            if in_step {
                self.lease_from
                    .fetch_max(sent.saturating_add(1), Ordering::SeqCst);
            } else {
                self.lease_from.store(0, Ordering::SeqCst);
            }
            in_step
        };
        let round = Round { done, in_step };
        abandoned.0 = None;
        // Free first, so a waiter woken by the result and still needing a later round can
        // start it at once. Rounds may then finish out of order: publish only a newer one.
        self.running.store(false, Ordering::SeqCst);
        self.rounds.send_modify(|last| {
            if round.done > last.done {
                *last = round;
            }
        });
        Some(round)
    }
}

impl Shared {
    /// Nanoseconds since the tracker started, on the monotonic clock.
    fn clock(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// What a request may do with the cache, given the lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseCheck {
    /// Read it.
    Fresh,
    /// Read it, and start the next round now so the lease does not run out under traffic.
    FreshRefresh,
    /// No lease (no round yet, the last one failed, or it is older than the lease): wait for
    /// a round first.
    Expired,
}

/// The lease's verdict at `now`, for a lease granted at `lease_from` (as stored: the round's
/// send time plus one, 0 for none) lasting `lease` (all in nanoseconds of one clock).
pub fn check_lease(now: u64, lease_from: u64, lease: u64) -> LeaseCheck {
    let Some(sent) = lease_from.checked_sub(1) else {
        return LeaseCheck::Expired;
    };
    // A round that completed on another thread may have read the clock after this request.
    let age = now.saturating_sub(sent);
    if age > lease {
        LeaseCheck::Expired
    } else if age >= lease / REFRESH_DIVISOR {
        LeaseCheck::FreshRefresh
    } else {
        LeaseCheck::Fresh
    }
}

/// A round whose runner went away before it finished: free the slot, wake the waiters.
struct Abandoned<'a>(Option<&'a Shared>);

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        if let Some(shared) = self.0 {
            shared.running.store(false, Ordering::SeqCst);
            shared.rounds.send_modify(|_| {});
        }
    }
}

/// One node's view of session changes in Redis. Cheap to clone.
#[derive(Clone)]
pub struct SessionTracker {
    shared: Arc<Shared>,
    client: Client,
}

impl std::fmt::Debug for SessionTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTracker").finish_non_exhaustive()
    }
}

impl SessionTracker {
    /// Open the tracking connection and start the task that runs rounds. Must run inside a
    /// Tokio runtime. Redis being down is not an error: rounds fail until it is back.
    pub fn start(
        settings: &RedisSettings,
        keys: &KeySpace,
        sink: Arc<dyn InvalidationSink>,
    ) -> Result<Self, StoreError> {
        Self::start_with_lease(settings, keys, sink, LEASE)
    }

    /// [`SessionTracker::start`] with a lease other than [`LEASE`] (tests).
    pub fn start_with_lease(
        settings: &RedisSettings,
        keys: &KeySpace,
        sink: Arc<dyn InvalidationSink>,
        lease: StdDuration,
    ) -> Result<Self, StoreError> {
        let FredParts {
            mut config,
            mut perf,
            connection,
            policy,
        } = FredParts::new(settings)?;
        // Reports arrive as RESP3 pushes on the connection that asked for them, in order with
        // its replies: the barrier relies on that order.
        config.version = RespVersion::RESP3;
        perf.broadcast_channel_capacity = REPORT_CAPACITY;
        let client = Client::new(config, Some(perf), Some(connection), Some(policy));
        // Subscribe before connecting, so no report or new connection goes unseen.
        let reports = client.invalidation_rx();
        let connections = client.reconnect_rx();
        drop(client.connect());
        let rounds = Rounds {
            client: client.clone(),
            sessions: keys.kind_prefix(Kind::Session),
            marker: keys.key(Kind::Node, &[Some(&random_node_id())]),
            sink,
            reports,
            connections,
            enabled: false,
            tracking: false,
            marker_renewed: None,
        };
        let shared = Arc::new(Shared {
            started: AtomicU64::new(0),
            running: AtomicBool::new(false),
            rounds: watch::Sender::new(Round {
                done: 0,
                in_step: false,
            }),
            state: tokio::sync::Mutex::new(rounds),
            command_timeout: settings.command_timeout,
            epoch: std::time::Instant::now(),
            lease_from: AtomicU64::new(0),
            lease: u64::try_from(lease.as_nanos()).unwrap_or(u64::MAX),
            refreshing: AtomicBool::new(false),
        });
        tokio::spawn(idle_rounds(Arc::downgrade(&shared)));
        Ok(SessionTracker { shared, client })
    }

    /// Whether the cache may be read now without waiting: a round that left it in step sent
    /// its command less than a lease ago. Starts the next round in the background when the
    /// lease is getting old. `false`: call [`SessionTracker::barrier`].
    pub fn in_step_now(&self) -> bool {
        let shared = &self.shared;
        let verdict = check_lease(
            shared.clock(),
            shared.lease_from.load(Ordering::SeqCst),
            shared.lease,
        );
        if verdict == LeaseCheck::FreshRefresh
            && !shared.running.load(Ordering::SeqCst)
            && !shared.refreshing.swap(true, Ordering::SeqCst)
        {
            let shared = Arc::clone(shared);
            tokio::spawn(async move {
                let _ = shared.try_run().await;
                shared.refreshing.store(false, Ordering::SeqCst);
            });
        }
        verdict != LeaseCheck::Expired
    }

    /// Whether the cache may be read for a request arriving now: at once under a lease
    /// ([`SessionTracker::in_step_now`]), otherwise after a round ([`SessionTracker::barrier`]).
    pub async fn in_step(&self) -> bool {
        self.in_step_now() || self.barrier().await
    }

    /// How long a node that ended a session in Redis waits before it answers, so that no node
    /// still serves it from a lease granted before the deletion: the lease and a margin.
    pub fn settle_time(&self) -> StdDuration {
        StdDuration::from_nanos(self.shared.lease).saturating_add(SETTLE_MARGIN)
    }

    /// Wait until every change Redis made to sessions before this call is applied to the
    /// sink. `true`: the cache may be read. `false`: Redis did not answer, or tracking could
    /// not be confirmed (then `false` comes at once until a background round succeeds); read
    /// Redis instead.
    pub async fn barrier(&self) -> bool {
        // A round numbered `want` or later sends its command after this load, so after
        // everything Redis did before it.
        let shared = &*self.shared;
        let want = shared.started.load(Ordering::SeqCst) + 1;
        let mut rounds = shared.rounds.subscribe();
        // While rounds fail (Redis down, or too old for tracking) do not make every request
        // wait out a timeout first: read Redis at once. The idle rounds keep trying.
        if !rounds.borrow_and_update().in_step {
            return false;
        }
        let wait = async {
            loop {
                // Marked seen before trying to run one, so a round that ends after the
                // attempt wakes `changed` below.
                let seen = *rounds.borrow_and_update();
                if seen.done >= want {
                    return seen.in_step;
                }
                // No round running: this request runs one itself (one task hop fewer than
                // handing it to another task, which matters when few requests share rounds).
                if let Some(round) = shared.try_run().await {
                    return round.in_step;
                }
                if rounds.changed().await.is_err() {
                    return false;
                }
            }
        };
        // A round waits at most one command timeout per command it sends (three at most).
        let bound = shared.command_timeout * 4;
        tokio::time::timeout(bound, wait).await.unwrap_or(false)
    }

    /// Close the tracking connection (tests that drop a node).
    pub async fn quit(&self) {
        let _ = self.client.quit().await;
    }
}

fn random_node_id() -> String {
    let mut bytes = [0u8; 16];
    // Fallback only affects marker-key uniqueness between nodes, which the time keeps too.
    if openssl::rand::rand_bytes(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes = nanos.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The task's side: the connection, the reports and what it knows of tracking.
struct Rounds {
    client: Client,
    /// `<prefix>session:`, the tracked prefix.
    sessions: String,
    /// This node's marker key.
    marker: String,
    sink: Arc<dyn InvalidationSink>,
    reports: broadcast::Receiver<Invalidation>,
    /// fred's announcements of new connections (the first one included).
    connections: broadcast::Receiver<Server>,
    /// Whether CLIENT TRACKING was accepted on the current connection.
    enabled: bool,
    /// Whether the last round succeeded (for log lines on changes).
    tracking: bool,
    /// When the marker's lifetime was last renewed.
    marker_renewed: Option<std::time::Instant>,
}

/// A round at start and then every [`IDLE_ROUND`] whatever the traffic, until the tracker is
/// dropped.
async fn idle_rounds(shared: std::sync::Weak<Shared>) {
    loop {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        // None: a request is running one right now, which serves as well.
        let _ = shared.try_run().await;
        drop(shared);
        tokio::time::sleep(IDLE_ROUND).await;
    }
}

impl Rounds {
    /// One round, with a log line when the outcome changes.
    async fn run(&mut self) -> bool {
        match self.round().await {
            Ok(()) => {
                if !self.tracking {
                    tracing::info!(
                        "session cache: Redis client tracking on; sessions are served from this node's cache"
                    );
                }
                self.tracking = true;
                true
            }
            Err(e) => {
                if self.tracking {
                    tracing::warn!(
                        "session cache: {e}; every request reads Redis until tracking is back"
                    );
                }
                self.tracking = false;
                false
            }
        }
    }

    async fn round(&mut self) -> Result<(), String> {
        // Its reply comes after every report Redis wrote on this connection before it.
        let marker = self.client.exists::<i64, _>(self.marker.as_str()).await;
        self.apply_reports();
        let marker = match marker {
            Ok(marker) => marker,
            Err(e) => {
                self.sink.invalidate_all();
                return Err(format!("Redis did not answer the tracking check: {e}"));
            }
        };
        if self.new_connection() || !self.enabled {
            // A new connection (the first, or after Redis restarted or the network dropped):
            // tracking is off there and changes made meanwhile were never reported. Turn it
            // on, then forget everything, so whatever enters the cache from now on was loaded
            // under tracking.
            self.enabled = false;
            let _ = self.client.stop_tracking().await;
            self.client
                .start_tracking(self.sessions.as_str(), true, false, false, false)
                .await
                .map_err(|e| format!("CLIENT TRACKING refused: {e}"))?;
            self.enabled = true;
            self.apply_reports();
            self.sink.invalidate_all();
        }
        if marker == 0 {
            // The marker is gone: the database was flushed or Redis restarted empty.
            self.client
                .set::<Value, _, _>(
                    self.marker.as_str(),
                    "1",
                    Some(Expiration::PX(MARKER_TTL_MS)),
                    None,
                    false,
                )
                .await
                .map_err(|e| format!("Redis did not store the node marker: {e}"))?;
            self.marker_renewed = Some(std::time::Instant::now());
            self.sink.invalidate_all();
        } else if self
            .marker_renewed
            .is_none_or(|t| t.elapsed() >= MARKER_RENEWAL)
        {
            let _: i64 = self
                .client
                .pexpire(self.marker.as_str(), MARKER_TTL_MS, None)
                .await
                .map_err(|e| format!("Redis did not renew the node marker: {e}"))?;
            self.marker_renewed = Some(std::time::Instant::now());
        }
        Ok(())
    }

    /// Has fred opened a connection since the last call? (A lost announcement counts as yes.)
    fn new_connection(&mut self) -> bool {
        let mut seen = false;
        loop {
            match self.connections.try_recv() {
                Ok(_) | Err(TryRecvError::Lagged(_)) => seen = true,
                Err(TryRecvError::Empty) => return seen,
                Err(TryRecvError::Closed) => return true,
            }
        }
    }

    /// Apply every report received so far.
    fn apply_reports(&mut self) {
        loop {
            match self.reports.try_recv() {
                Ok(report) => {
                    match session_ids(&report, &self.sessions) {
                        Some(ids) => self.sink.invalidate(&ids),
                        // A flush, or a key we cannot read: assume anything changed.
                        None => self.sink.invalidate_all(),
                    }
                }
                Err(TryRecvError::Empty) => return,
                // Reports were lost: anything may have changed.
                Err(TryRecvError::Lagged(_)) => self.sink.invalidate_all(),
                Err(TryRecvError::Closed) => {
                    self.sink.invalidate_all();
                    return;
                }
            }
        }
    }
}

/// The session IDs a report names; `None` when it names anything else (a flush reports no
/// keys) or a key that is not a session's.
fn session_ids(report: &Invalidation, prefix: &str) -> Option<Vec<Id>> {
    if report.keys.is_empty() {
        return None;
    }
    report
        .keys
        .iter()
        .map(|key| session_id(key.as_str()?, prefix))
        .collect()
}

/// `<prefix>session:<len>:<id>,` (the key `KeySpace` builds) back to the session ID.
fn session_id(key: &str, prefix: &str) -> Option<Id> {
    let field = key.strip_prefix(prefix)?.strip_suffix(',')?;
    let (len, id) = field.split_once(':')?;
    if len.parse::<usize>().ok()? != id.len() {
        return None;
    }
    id.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fred::types::Key;

    #[test]
    fn session_keys_read_back_to_their_ids_and_nothing_else_does() {
        let keys = KeySpace::new("sg:");
        let prefix = keys.kind_prefix(Kind::Session);
        let id = Id::default();
        let key = keys.key(Kind::Session, &[Some(&id.to_string())]);
        assert_eq!(session_id(&key, &prefix), Some(id));
        assert_eq!(session_id("sg:session:3:abc,", &prefix), None);
        assert_eq!(session_id("sg:authnreq:22:x,", &prefix), None);
        let tampered = key.replacen(':', "", 1);
        assert_eq!(session_id(&tampered, &prefix), None);
    }

    #[test]
    fn a_lease_lets_the_cache_be_read_until_it_runs_out_and_asks_for_a_round_from_a_quarter() {
        let lease = 100;
        // No round yet, or the last one failed.
        assert_eq!(check_lease(5, 0, lease), LeaseCheck::Expired);
        // Granted by a round sent at 10 (stored as 11).
        assert_eq!(check_lease(10, 11, lease), LeaseCheck::Fresh);
        assert_eq!(check_lease(34, 11, lease), LeaseCheck::Fresh);
        assert_eq!(check_lease(35, 11, lease), LeaseCheck::FreshRefresh);
        assert_eq!(check_lease(110, 11, lease), LeaseCheck::FreshRefresh);
        assert_eq!(check_lease(111, 11, lease), LeaseCheck::Expired);
        assert_eq!(check_lease(u64::MAX, 11, lease), LeaseCheck::Expired);
        // A round sent after this request read the clock (another thread) covers it.
        assert_eq!(check_lease(3, 11, lease), LeaseCheck::Fresh);
    }

    #[test]
    fn a_report_with_no_keys_or_a_foreign_key_means_everything() {
        let keys = KeySpace::new("sg:");
        let prefix = keys.kind_prefix(Kind::Session);
        let id = Id::default();
        let good = Key::from(keys.key(Kind::Session, &[Some(&id.to_string())]));
        let report = |keys: Vec<Key>| Invalidation {
            keys,
            server: fred::types::config::Server::new("127.0.0.1", 6379),
        };
        assert_eq!(
            session_ids(&report(vec![good.clone()]), &prefix),
            Some(vec![id])
        );
        assert_eq!(session_ids(&report(vec![]), &prefix), None);
        assert_eq!(
            session_ids(&report(vec![good, Key::from("sg:session:x")]), &prefix),
            None
        );
    }
}
