//! One contract, two stores: the memory stores (one node) and the Redis stores (several) pass
//! the same tests, run against a private `redis-server`. Includes the key-collision cases: two
//! users, two IdPs or two requests never meet under one key.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use samlgate::session::SweepingMemoryStore;
use samlgate::store::replay::Seen;
use samlgate::store::{
    MemoryReplayCache, MemorySessionIndex, RedisSettings, RedisStore, ReplayCache, SessionIndex,
    SessionIndexKey, StoreError,
};
use time::{Duration, OffsetDateTime};
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};

use crate::support::redis::RedisServer;

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

const SHORT: Duration = Duration::milliseconds(300);
const PAST_SHORT: StdDuration = StdDuration::from_millis(450);

async fn replay_contract(cache: &dyn ReplayCache) {
    let t = now();
    let until = t + Duration::minutes(5);
    let first = cache
        .insert("https://idp-a", "_a1", until, t)
        .await
        .unwrap();
    assert_eq!(first, Seen::First);
    let again = cache
        .insert("https://idp-a", "_a1", until, t)
        .await
        .unwrap();
    assert_eq!(
        again,
        Seen::Again,
        "second use of one Assertion is a replay"
    );

    // Another IdP, another Assertion: never the same entry.
    assert_eq!(
        cache
            .insert("https://idp-b", "_a1", until, t)
            .await
            .unwrap(),
        Seen::First
    );
    assert_eq!(
        cache
            .insert("https://idp-a", "_a2", until, t)
            .await
            .unwrap(),
        Seen::First
    );
    // Separators inside fields cannot make two pairs meet.
    assert_eq!(
        cache.insert("x:y", "z", until, t).await.unwrap(),
        Seen::First
    );
    assert_eq!(
        cache.insert("x", "y:z", until, t).await.unwrap(),
        Seen::First
    );
    assert_eq!(
        cache.insert("x,1:y", "", until, t).await.unwrap(),
        Seen::First
    );

    // Kept until its expiry, forgotten after.
    let t = now();
    assert_eq!(
        cache
            .insert("https://idp-a", "_short", t + SHORT, t)
            .await
            .unwrap(),
        Seen::First
    );
    tokio::time::sleep(PAST_SHORT).await;
    let later = now();
    assert_eq!(
        cache
            .insert("https://idp-a", "_short", later + SHORT, later)
            .await
            .unwrap(),
        Seen::First
    );
}

async fn replay_race_contract(cache: Arc<dyn ReplayCache>) {
    let t = now();
    let until = t + Duration::minutes(5);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.insert("https://idp-a", "_race", until, t).await })
        })
        .collect();
    let mut firsts = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() == Seen::First {
            firsts += 1;
        }
    }
    assert_eq!(firsts, 1, "exactly one of 50 concurrent inserts is first");
}

/// AuthnRequest IDs: single use, kept until their expiry, in a key space of their own.
async fn request_contract(cache: &dyn ReplayCache) {
    let t = now();
    let until = t + Duration::minutes(15);
    assert_eq!(
        cache.insert_request("_r1", until, t).await.unwrap(),
        Seen::First
    );
    assert_eq!(
        cache.insert_request("_r1", until, t).await.unwrap(),
        Seen::Again,
        "a second Response to one AuthnRequest is a replay"
    );
    assert_eq!(
        cache.insert_request("_r2", until, t).await.unwrap(),
        Seen::First
    );
    // An Assertion ID equal to a request ID, from any IdP, is another entry (both ways).
    assert_eq!(
        cache.insert("", "_r1", until, t).await.unwrap(),
        Seen::First
    );
    assert_eq!(
        cache
            .insert("https://idp-a", "_r1", until, t)
            .await
            .unwrap(),
        Seen::First
    );
    assert_eq!(
        cache
            .insert("https://idp-a", "_a9", until, t)
            .await
            .unwrap(),
        Seen::First
    );
    assert_eq!(
        cache.insert_request("_a9", until, t).await.unwrap(),
        Seen::First
    );

    let t = now();
    assert_eq!(
        cache.insert_request("_short", t + SHORT, t).await.unwrap(),
        Seen::First
    );
    tokio::time::sleep(PAST_SHORT).await;
    let later = now();
    assert_eq!(
        cache
            .insert_request("_short", later + SHORT, later)
            .await
            .unwrap(),
        Seen::First,
        "forgotten after its expiry"
    );
}

async fn request_race_contract(cache: Arc<dyn ReplayCache>) {
    let t = now();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .insert_request("_race", t + Duration::minutes(1), t)
                    .await
            })
        })
        .collect();
    let mut firsts = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() == Seen::First {
            firsts += 1;
        }
    }
    assert_eq!(
        firsts, 1,
        "exactly one of 50 concurrent answers completes the login"
    );
}

fn key(idp: &str, name_id: &str, session_index: Option<&str>) -> SessionIndexKey {
    SessionIndexKey {
        idp_entity_id: idp.into(),
        name_id: name_id.into(),
        name_id_format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into()),
        name_qualifier: None,
        sp_name_qualifier: None,
        session_index: session_index.map(str::to_string),
    }
}

async fn session_index_contract(index: &dyn SessionIndex) {
    let t = now();
    let until = t + Duration::hours(1);
    let alice_1 = key("https://idp-a", "alice", Some("si-1"));
    let alice_2 = key("https://idp-a", "alice", Some("si-2"));
    let alice_other_idp = key("https://idp-b", "alice", Some("si-1"));
    let bob = key("https://idp-a", "bob", Some("si-1"));
    let mut alice_email_format = alice_1.clone();
    alice_email_format.name_id_format =
        Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into());
    let mut alice_qualified = alice_1.clone();
    alice_qualified.name_qualifier = Some("https://idp-a".into());
    index.add(&alice_1, "s1", until, t).await.unwrap();
    index.add(&alice_2, "s2", until, t).await.unwrap();
    index.add(&alice_other_idp, "s3", until, t).await.unwrap();
    index.add(&bob, "s4", until, t).await.unwrap();
    index
        .add(&alice_email_format, "s5", until, t)
        .await
        .unwrap();
    index.add(&alice_qualified, "s6", until, t).await.unwrap();

    assert_eq!(index.take(&alice_1, t).await.unwrap(), vec!["s1"]);
    assert_eq!(index.take(&alice_1, t).await.unwrap(), Vec::<String>::new());
    assert_eq!(
        index.take(&alice_1.all_sessions(), t).await.unwrap(),
        vec!["s1", "s2"],
        "without a SessionIndex: every session of that NameID at that IdP"
    );
    assert_eq!(index.take(&alice_other_idp, t).await.unwrap(), vec!["s3"]);
    assert_eq!(index.take(&bob, t).await.unwrap(), vec!["s4"]);
    assert_eq!(
        index.take(&alice_email_format, t).await.unwrap(),
        vec!["s5"]
    );
    assert_eq!(index.take(&alice_qualified, t).await.unwrap(), vec!["s6"]);

    // Expired sessions are not returned.
    let t = now();
    let carol = key("https://idp-a", "carol", Some("si-1"));
    index.add(&carol, "s7", t + SHORT, t).await.unwrap();
    index
        .add(&carol, "s8", t + Duration::hours(1), t)
        .await
        .unwrap();
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(index.take(&carol, now()).await.unwrap(), vec!["s8"]);
}

fn record(expiry: OffsetDateTime, user: &str) -> Record {
    let mut data = std::collections::HashMap::new();
    data.insert("user".to_string(), serde_json::Value::from(user));
    Record {
        id: Id::default(),
        data,
        expiry_date: expiry,
    }
}

async fn session_store_contract<S: SessionStore>(store: &S) {
    let later = now() + Duration::hours(1);
    let mut alice = record(later, "alice");
    store.create(&mut alice).await.unwrap();
    let loaded = store.load(&alice.id).await.unwrap().expect("created");
    assert_eq!(loaded.data, alice.data);

    // A new session never takes an existing session's ID.
    let mut bob = record(later, "bob");
    bob.id = alice.id;
    store.create(&mut bob).await.unwrap();
    assert_ne!(bob.id, alice.id, "the colliding ID was replaced");
    let still = store.load(&alice.id).await.unwrap().expect("alice kept");
    assert_eq!(still.data["user"], "alice");
    assert_eq!(
        store.load(&bob.id).await.unwrap().expect("bob").data["user"],
        "bob"
    );

    let mut changed = alice.clone();
    changed
        .data
        .insert("seen".to_string(), serde_json::Value::from(2));
    store.save(&changed).await.unwrap();
    assert_eq!(
        store.load(&alice.id).await.unwrap().expect("saved").data["seen"],
        2
    );

    store.delete(&alice.id).await.unwrap();
    assert!(store.load(&alice.id).await.unwrap().is_none());
    assert!(store.load(&Id::default()).await.unwrap().is_none());
}

async fn redis(server: &RedisServer, prefix: &str) -> RedisStore {
    let mut settings = RedisSettings::new(&server.url());
    settings.key_prefix = prefix.to_string();
    let store = RedisStore::connect(&settings).unwrap();
    store.wait_connected().await.unwrap();
    store
}

#[tokio::test]
async fn memory_stores_pass_the_contract() {
    replay_contract(&MemoryReplayCache::new()).await;
    replay_race_contract(Arc::new(MemoryReplayCache::new())).await;
    request_contract(&MemoryReplayCache::new()).await;
    request_race_contract(Arc::new(MemoryReplayCache::new())).await;
    session_index_contract(&MemorySessionIndex::new()).await;
    session_store_contract(&SweepingMemoryStore::new()).await;
}

#[tokio::test]
async fn redis_stores_pass_the_contract() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = redis(&server, "contract:").await;
    replay_contract(&store).await;
    replay_race_contract(Arc::new(store.clone())).await;
    request_contract(&store).await;
    request_race_contract(Arc::new(store.clone())).await;
    session_index_contract(&store).await;
    session_store_contract(&store.session_store()).await;
}

#[tokio::test]
async fn two_deployments_sharing_one_redis_never_see_each_others_entries() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = redis(&server, "app-a:").await;
    let b = redis(&server, "app-b:").await;
    let t = now();
    let until = t + Duration::minutes(5);

    assert_eq!(
        a.insert("https://idp", "_x", until, t).await.unwrap(),
        Seen::First
    );
    assert_eq!(
        b.insert("https://idp", "_x", until, t).await.unwrap(),
        Seen::First
    );

    assert_eq!(
        a.insert_request("_req", until, t).await.unwrap(),
        Seen::First
    );
    assert_eq!(
        b.insert_request("_req", until, t).await.unwrap(),
        Seen::First
    );

    // A session cookie of deployment A is nothing to deployment B.
    let mut rec = record(t + Duration::hours(1), "alice");
    a.session_store().create(&mut rec).await.unwrap();
    assert!(b.session_store().load(&rec.id).await.unwrap().is_none());
    assert!(a.session_store().load(&rec.id).await.unwrap().is_some());

    let k = key("https://idp", "alice", Some("1"));
    SessionIndex::add(&a, &k, "sa", until, t).await.unwrap();
    assert!(SessionIndex::take(&b, &k, t).await.unwrap().is_empty());
}

#[tokio::test]
async fn redis_keys_carry_the_prefix_and_every_identifying_field() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = redis(&server, "sg-test:").await;
    let t = now();
    store
        .insert(
            "https://idp.example.org",
            "_assertion1",
            t + Duration::minutes(5),
            t,
        )
        .await
        .unwrap();
    store
        .insert_request("_0123abcd", t + Duration::minutes(5), t)
        .await
        .unwrap();
    SessionIndex::add(
        &store,
        &key("https://idp.example.org", "alice", Some("si-9")),
        "sid",
        t + Duration::minutes(5),
        t,
    )
    .await
    .unwrap();
    let mut keys: Vec<String> = server
        .cli(&["--raw", "KEYS", "*"])
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    keys.sort();
    let format = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
    let format_field = format!("{}:{format},", format.len());
    assert_eq!(
        keys,
        vec![
            "sg-test:authnreq:9:_0123abcd,".to_string(),
            "sg-test:replay:23:https://idp.example.org,11:_assertion1,".to_string(),
            format!("sg-test:sidx:23:https://idp.example.org,5:alice,{format_field}---"),
            format!("sg-test:sidx:23:https://idp.example.org,5:alice,{format_field}--4:si-9,"),
        ]
    );
    // Every entry expires by itself.
    for k in &keys {
        let ttl: i64 = server.cli(&["PTTL", k]).unwrap().parse().unwrap();
        assert!(ttl > 0 && ttl <= 300_000, "{k}: PTTL {ttl}");
    }
}

#[tokio::test]
async fn redis_session_save_never_resurrects_a_deleted_session() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = redis(&server, "sg:").await.session_store();
    let mut rec = record(now() + Duration::hours(1), "alice");
    store.create(&mut rec).await.unwrap();
    // Node A logs the user out while node B still holds the session it loaded.
    store.delete(&rec.id).await.unwrap();
    store.save(&rec).await.unwrap();
    assert!(store.load(&rec.id).await.unwrap().is_none());
}

#[tokio::test]
async fn redis_unreachable_is_an_error_not_a_verdict() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let mut settings = RedisSettings::new(&server.url());
    settings.command_timeout = StdDuration::from_secs(1);
    let store = RedisStore::connect(&settings).unwrap();
    store.wait_connected().await.unwrap();
    server.stop();
    let t = now();
    let started = std::time::Instant::now();
    let replay = store
        .insert("https://idp", "_down", t + Duration::minutes(5), t)
        .await;
    assert!(
        matches!(replay, Err(StoreError::Unavailable(_))),
        "{replay:?}"
    );
    assert!(
        started.elapsed() < StdDuration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(
        store
            .insert_request("_down", t + Duration::minutes(5), t)
            .await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(store.ping().await.is_err());

    server.resume();
    let deadline = std::time::Instant::now() + StdDuration::from_secs(10);
    while store.ping().await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "no reconnect within 10 s"
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    let t = now();
    assert_eq!(
        store
            .insert("https://idp", "_down", t + Duration::minutes(5), t)
            .await
            .unwrap(),
        Seen::First,
        "the restarted Redis is empty; the store works again without a restart"
    );
}
