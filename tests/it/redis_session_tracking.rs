//! The session tracker against a real `redis-server`: every change Redis made before a barrier
//! reaches the node's cache by the barrier's end, and whatever reports cannot carry (a flush, a
//! lost connection, a restart) clears the cache instead.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fred::clients::Client;
use fred::interfaces::{ClientLike, KeysInterface};
use fred::types::config::Config;
use samlgate::session::tracking::{LEASE, SETTLE_MARGIN};
use samlgate::session::{InvalidationSink, SessionTracker};
use samlgate::store::RedisSettings;
use samlgate::store::keys::{KeySpace, Kind};
use tower_sessions::session::Id;

use crate::support::redis::RedisServer;

const PREFIX: &str = "track:";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Sessions(Vec<Id>),
    All,
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl InvalidationSink for Recorder {
    fn invalidate(&self, ids: &[Id]) {
        self.0.lock().unwrap().push(Event::Sessions(ids.to_vec()));
    }
    fn invalidate_all(&self) {
        self.0.lock().unwrap().push(Event::All);
    }
}

impl Recorder {
    fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

struct Setup {
    redis: RedisServer,
    tracker: SessionTracker,
    events: Arc<Recorder>,
    writer: Client,
    keys: KeySpace,
}

async fn setup() -> Option<Setup> {
    setup_with_lease(LEASE).await
}

async fn setup_with_lease(lease: Duration) -> Option<Setup> {
    let redis = RedisServer::start()?;
    let mut settings = RedisSettings::new(&redis.url());
    settings.key_prefix = PREFIX.to_string();
    settings.command_timeout = Duration::from_secs(1);
    settings.connect_timeout = Duration::from_secs(1);
    let keys = KeySpace::new(PREFIX);
    let events = Arc::new(Recorder::default());
    let tracker =
        SessionTracker::start_with_lease(&settings, &keys, events.clone(), lease).unwrap();
    let writer = Client::new(Config::from_url(&redis.url()).unwrap(), None, None, None);
    writer.init().await.unwrap();
    let s = Setup {
        redis,
        tracker,
        events,
        writer,
        keys,
    };
    s.until_in_step().await;
    Some(s)
}

impl Setup {
    fn session_key(&self, id: &Id) -> String {
        self.keys.key(Kind::Session, &[Some(&id.to_string())])
    }

    /// Store a session under a fresh ID, from another connection (another node).
    async fn write_new_session(&self) -> Id {
        let id = Id::default();
        let _: () = self
            .writer
            .set(self.session_key(&id), "v", None, None, false)
            .await
            .unwrap();
        id
    }

    /// Barrier until it says "in step" (after a start or a reconnect).
    async fn until_in_step(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.tracker.barrier().await {
            assert!(
                Instant::now() < deadline,
                "tracking not in step within 15 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn every_session_change_before_a_barrier_is_applied_when_it_returns() {
    let Some(s) = setup().await else { return };
    assert!(
        s.events.take().contains(&Event::All),
        "turning tracking on starts from an empty cache"
    );
    // Each write is answered before the barrier starts; its report must be in by its end.
    // No sleeping anywhere: the order of replies and reports on one connection is the proof.
    for round in 0..200 {
        let id = Id::default();
        let key = s.session_key(&id);
        if round % 2 == 0 {
            let _: () = s.writer.set(&key, "v", None, None, false).await.unwrap();
        } else {
            let _: () = s.writer.set(&key, "v", None, None, false).await.unwrap();
            let _: i64 = s.writer.del(&key).await.unwrap();
        }
        assert!(s.tracker.barrier().await);
        let events = s.events.take();
        assert!(
            events.iter().any(|e| match e {
                Event::Sessions(ids) => ids.contains(&id),
                Event::All => true,
            }),
            "round {round}: the change to {id} was not applied by the barrier: {events:?}"
        );
    }
    // Rounds only read: no write per round for replicas and the append-only file to carry.
    let (exists, pexpire) = (calls(&s.redis, "exists"), calls(&s.redis, "pexpire"));
    assert!(exists >= 200, "{exists} EXISTS for 200 barriers");
    assert!(pexpire <= 2, "a write per round: {pexpire} PEXPIRE");
    // Keys outside the session prefix are not reported.
    let _: () = s
        .writer
        .set(format!("{PREFIX}authnreq:1:x,"), "v", None, None, false)
        .await
        .unwrap();
    assert!(s.tracker.barrier().await);
    assert_eq!(s.events.take(), vec![]);
}

/// `cmdstat_<command>` calls so far.
fn calls(redis: &RedisServer, command: &str) -> u64 {
    let stats = redis.cli(&["INFO", "commandstats"]).unwrap_or_default();
    stats
        .lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn under_a_lease_requests_read_the_cache_without_a_round_trip_each() {
    // A lease of an hour: no request in this test finds it old enough to refresh.
    let Some(s) = setup_with_lease(Duration::from_secs(3600)).await else {
        return;
    };
    let before = calls(&s.redis, "exists");
    for _ in 0..1000 {
        assert!(s.tracker.in_step_now());
        assert!(s.tracker.in_step().await);
    }
    // Only the background round once a second may have run meanwhile, never one per request.
    let rounds = calls(&s.redis, "exists") - before;
    assert!(rounds < 100, "{rounds} rounds for 2000 requests");
}

#[tokio::test]
async fn a_session_deleted_by_another_node_is_applied_by_the_time_that_node_has_settled() {
    let Some(s) = setup().await else { return };
    for round in 0..20 {
        let id = s.write_new_session().await;
        assert!(s.tracker.in_step().await);
        s.events.take();
        // Another node ends the session: it deletes it, then waits out the lease before it
        // answers (what `Sessions::end` does). From then on no request here may read a cache
        // that has not applied the deletion, whatever rounds ran or are running.
        let _: i64 = s.writer.del(s.session_key(&id)).await.unwrap();
        tokio::time::sleep(LEASE + SETTLE_MARGIN).await;
        assert!(s.tracker.in_step().await);
        let events = s.events.take();
        assert!(
            events.iter().any(|e| match e {
                Event::Sessions(ids) => ids.contains(&id),
                Event::All => true,
            }),
            "round {round}: the cache was readable before the deletion of {id} reached it: {events:?}"
        );
    }
}

#[tokio::test]
async fn redis_gone_ends_the_lease_at_the_next_round() {
    let Some(mut s) = setup().await else { return };
    s.redis.stop();
    // The lease granted before Redis went away runs out, and the round that follows fails.
    tokio::time::sleep(LEASE + SETTLE_MARGIN).await;
    assert!(!s.tracker.in_step_now());
    assert!(
        !s.tracker.in_step().await,
        "no Redis: the cache must not be read"
    );
    assert!(!s.tracker.in_step_now(), "a failed round grants no lease");
    s.redis.resume();
    s.until_in_step().await;
    assert!(s.tracker.in_step_now());
}

#[tokio::test]
async fn a_flushed_database_clears_the_cache() {
    let Some(s) = setup().await else { return };
    s.events.take();
    assert_eq!(s.redis.cli(&["FLUSHDB"]).as_deref(), Some("OK"));
    assert!(s.tracker.barrier().await);
    assert!(s.events.take().contains(&Event::All));
}

#[tokio::test]
async fn a_lost_tracking_connection_clears_the_cache_and_tracking_resumes() {
    let Some(s) = setup().await else { return };
    s.events.take();
    let clients = s.redis.cli(&["CLIENT", "LIST"]).unwrap();
    let tracking: Vec<&str> = clients
        .lines()
        .filter(|l| {
            l.split(' ')
                .any(|f| f.strip_prefix("flags=").is_some_and(|v| v.contains('t')))
        })
        .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
        .collect();
    assert_eq!(tracking.len(), 1, "one tracking connection: {clients}");
    assert_eq!(
        s.redis
            .cli(&["CLIENT", "KILL", "ID", tracking[0]])
            .as_deref(),
        Some("1")
    );
    // A change made while the connection is down is never reported...
    let id = s.write_new_session().await;
    s.until_in_step().await;
    // ...so the cache was cleared before the tracker said "in step" again.
    assert!(s.events.take().contains(&Event::All));
    // And reports flow again.
    let _: i64 = s.writer.del(s.session_key(&id)).await.unwrap();
    assert!(s.tracker.barrier().await);
    assert!(s.events.take().contains(&Event::Sessions(vec![id])));
}

#[tokio::test]
async fn redis_gone_means_not_in_step_and_a_restart_starts_from_an_empty_cache() {
    let Some(mut s) = setup().await else { return };
    s.events.take();
    s.redis.stop();
    assert!(
        !s.tracker.barrier().await,
        "no Redis: the cache must not be read"
    );
    s.redis.resume();
    s.until_in_step().await;
    assert!(s.events.take().contains(&Event::All));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_goes_away_mid_round_leaves_no_one_waiting_forever() {
    let Some(s) = setup().await else { return };
    // Polled once, this barrier starts a round itself (none is running) and then is dropped,
    // as when a client disconnects while its request waits. On this multi-threaded runtime
    // Redis's answer may arrive within that one poll (the thread preempted meanwhile): then the
    // round is over, and a fresh barrier tries again.
    let mut abandoned = Box::pin(s.tracker.barrier());
    let mut tries = 1;
    while futures_util::poll!(abandoned.as_mut()).is_ready() {
        assert!(
            tries < 100,
            "no round was ever still waiting for Redis after one poll"
        );
        tries += 1;
        abandoned = Box::pin(s.tracker.barrier());
    }
    // A request arriving now finds that round running and waits for it...
    let tracker = s.tracker.clone();
    let waiter = tokio::spawn(async move { tracker.barrier().await });
    tokio::task::yield_now().await;
    drop(abandoned);
    // ...and, woken by the abandonment, runs its own round: in step, not a timeout.
    assert!(waiter.await.unwrap(), "the waiting request got no round");
    let id = s.write_new_session().await;
    assert!(s.tracker.barrier().await);
    assert!(
        s.events
            .take()
            .iter()
            .any(|e| *e == Event::Sessions(vec![id]) || *e == Event::All)
    );
}
