//! The cost of finding a signed-in session as the number of sessions on the node grows (memory
//! store): the gate's fast path (the cookie's session ID -> the session cache) and the slow path
//! (the session layer loads the record from the store, checks it, decodes it and caches it).
//! Lookups go to sessions in random order, as real traffic does, so a large store is not
//! flattered by a hot cache line.
//!
//! ```text
//! cargo bench --bench sessions
//! SAMLGATE_BENCH_SESSIONS=1000,1000000 cargo bench --bench sessions
//! ```
//!
//! A third figure is the floor the machine sets: the same random lookups in a plain
//! `HashMap<u128, Arc<[u64; 150]>>` of as many entries, each as large as a session is in memory,
//! followed by the same reference count increment. A lookup in a larger map is slower because its
//! entries no longer fit the CPU's caches and TLB, whatever the map; the session lookups should
//! follow that floor, not rise above it.
//!
//! Memory per session: `examples/session_memory.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use samlgate::session::CacheLookup;
use tower_sessions::Session;
use tower_sessions::session::Id;

#[path = "support/sessions.rs"]
mod fixture;

const SIZES: &str = "1000,10000,100000,1000000";

fn sizes() -> Vec<u64> {
    std::env::var("SAMLGATE_BENCH_SESSIONS")
        .unwrap_or_else(|_| SIZES.to_string())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

fn lookups(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("session_lookup");
    group.measurement_time(Duration::from_secs(3));
    for count in sizes() {
        let (state, _dir) = fixture::state(time::OffsetDateTime::now_utc()).unwrap();
        let store = Arc::new(state.stores.sessions.clone());
        let started = Instant::now();
        let ids = runtime
            .block_on(fixture::fill(
                &state,
                &store,
                count,
                fixture::FirstRequest::Make,
            ))
            .unwrap();
        eprintln!(
            "{count} sessions signed in in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let ids = fixture::shuffled(ids);
        // What the browser sends: the session ID as the cookie's value.
        let cookies: Vec<String> = ids.iter().map(Id::to_string).collect();
        let idle = state.config.session.idle_timeout;

        group.bench_function(BenchmarkId::new("fast_cache_hit", count), |b| {
            let mut next = 0;
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let cookie = &cookies[next % cookies.len()];
                        next += 1;
                        let id: Id = cookie.parse().unwrap();
                        let cache = state.sessions.cache_in_step().await.unwrap();
                        let hit = cache.get(&id, state.now(), idle);
                        assert!(std::hint::black_box(hit).is_some());
                    }
                    start.elapsed()
                })
            })
        });

        group.bench_function(BenchmarkId::new("slow_store_load", count), |b| {
            let mut next = 0;
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let id = ids[next % ids.len()];
                        next += 1;
                        let session = Session::new(Some(id), Arc::clone(&store), None);
                        let found = state
                            .sessions
                            .identity_of(&session, CacheLookup::AlreadyMissed)
                            .await
                            .unwrap();
                        assert!(std::hint::black_box(found).is_some());
                    }
                    start.elapsed()
                })
            })
        });

        drop((state, store, ids, cookies));
        group.bench_function(BenchmarkId::new("reference_hashmap_hit", count), |b| {
            let keys = reference_keys(count);
            let map: HashMap<u128, Arc<[u64; 150]>> = keys
                .iter()
                .map(|k| (*k, Arc::new([*k as u64; 150])))
                .collect();
            let keys = fixture::shuffled_keys(keys);
            let mut next = 0;
            b.iter(|| {
                let key = keys[next % keys.len()];
                next += 1;
                let hit = map.get(&key).map(Arc::clone);
                assert!(std::hint::black_box(hit).is_some());
            })
        });
    }
    group.finish();
}

fn reference_keys(count: u64) -> Vec<u128> {
    let mut rng = fixture::rng();
    (0..count).map(|_| rand::Rng::random(&mut rng)).collect()
}

criterion_group!(benches, lookups);
criterion_main!(benches);
