//! Unit tests of `session::cache`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
use super::*;
use crate::identity::Operator;
use crate::identity::headers::{HeaderContract, IdentityHeaders};
use crate::session::record::{self, RECORD_KEY, SessionRecord};
use time::macros::datetime;

const IDLE: Duration = Duration::minutes(30);

fn signed_in(last_seen: OffsetDateTime, not_after: OffsetDateTime) -> Arc<SignedIn> {
    let record = SessionRecord {
        identity: Operator {
            user: "jmuller".into(),
            access_group: "MyOrg:Staff".into(),
            ..Operator::default()
        },
        idp: "corp".into(),
        idp_entity_id: "https://idp.example.org".into(),
        name_id: "jmuller".into(),
        session_index: None,
        name_id_details: None,
        created: last_seen,
        last_seen,
        not_after,
        details: None,
    };
    Arc::new(SignedIn::new(&record, &HeaderContract::default()))
}

#[test]
fn serves_a_valid_session_until_its_touch_is_due() {
    let t0 = datetime!(2026-05-23 09:00 UTC);
    let cache = SessionCache::new();
    let id = Id::default();
    let ticket = cache.ticket();
    cache.insert(id, signed_in(t0, t0 + Duration::hours(8)), ticket, t0, IDLE);
    let hit = cache.get(&id, t0 + Duration::seconds(59), IDLE);
    assert_eq!(
        hit.map(|s| s.identity.user.clone()).as_deref(),
        Some("jmuller")
    );
    // From the touch interval on, the store path must run (it writes last_seen back).
    assert!(cache.get(&id, t0 + record::TOUCH_INTERVAL, IDLE).is_none());
}

#[test]
fn never_serves_a_session_past_its_end() {
    let t0 = datetime!(2026-05-23 09:00 UTC);
    let cache = SessionCache::new();
    let id = Id::default();
    let ticket = cache.ticket();
    cache.insert(
        id,
        signed_in(t0, t0 + Duration::seconds(30)),
        ticket,
        t0,
        IDLE,
    );
    assert!(cache.get(&id, t0 + Duration::seconds(30), IDLE).is_none());
}

#[test]
fn removed_session_is_gone_and_other_ids_never_match() {
    let t0 = datetime!(2026-05-23 09:00 UTC);
    let cache = SessionCache::new();
    let (a, b) = (Id::default(), Id::default());
    let ticket = cache.ticket();
    cache.insert(a, signed_in(t0, t0 + Duration::hours(8)), ticket, t0, IDLE);
    assert!(cache.get(&b, t0, IDLE).is_none());
    cache.remove(&a);
    assert!(cache.get(&a, t0, IDLE).is_none());
    assert!(cache.is_empty());
}

#[test]
fn insert_sweeps_expired_sessions() {
    let t0 = datetime!(2026-05-23 09:00 UTC);
    let cache = SessionCache::new();
    cache.insert(
        Id::default(),
        signed_in(t0, t0 + Duration::minutes(5)),
        cache.ticket(),
        t0,
        IDLE,
    );
    let later = t0 + Duration::hours(1);
    cache.insert(
        Id::default(),
        signed_in(later, later + Duration::hours(8)),
        cache.ticket(),
        later,
        IDLE,
    );
    assert_eq!(cache.len(), 1);
}

#[test]
fn a_load_that_raced_a_removal_is_not_cached() {
    let t0 = datetime!(2026-05-23 09:00 UTC);
    let cache = SessionCache::new();
    let (a, b) = (Id::default(), Id::default());
    // Request 1 takes its ticket and loads session `a`; meanwhile a logout removes it.
    let ticket = cache.ticket();
    cache.remove(&a);
    assert!(!cache.insert(a, signed_in(t0, t0 + Duration::hours(8)), ticket, t0, IDLE));
    assert!(cache.get(&a, t0, IDLE).is_none());
    // A clear (Redis reconnected, say) invalidates tickets the same way.
    let ticket = cache.ticket();
    cache.clear();
    assert!(!cache.insert(b, signed_in(t0, t0 + Duration::hours(8)), ticket, t0, IDLE));
    // A load that started after both is cached.
    let ticket = cache.ticket();
    assert!(cache.insert(b, signed_in(t0, t0 + Duration::hours(8)), ticket, t0, IDLE));
    assert!(cache.get(&b, t0, IDLE).is_some());
}

fn jose(created: OffsetDateTime) -> SessionRecord {
    SessionRecord {
        identity: Operator {
            user: "jmuller".into(),
            email: Some("jose.muller@example.com".into()),
            preferred_username: Some("jmuller".into()),
            name: Some("José Müller".into()),
            access_group: "MyOrg:Staff".into(),
            groups: vec!["staff".to_string(), "Sales, EMEA".to_string()].into(),
            extra: vec![("X-Department".into(), "R&D".into())],
        },
        idp: "corp".into(),
        idp_entity_id: "https://idp.example.org".into(),
        name_id: "jmuller".into(),
        session_index: Some("_si-1".into()),
        name_id_details: None,
        created,
        last_seen: created,
        not_after: created + Duration::hours(8),
        details: None,
    }
}

#[test]
fn a_decoded_session_gives_back_the_record_as_the_session_layer_stores_it() {
    // Whole seconds and not: the record keeps seconds, and so does the decoded copy.
    for created in [
        datetime!(2026-05-23 09:00 UTC),
        datetime!(2026-05-23 09:00:00.75 UTC),
    ] {
        let mut record = jose(created);
        record.session_index = None;
        for record in [jose(created), record] {
            let s = SignedIn::new(&record, &HeaderContract::default());
            let data = s.record_data().unwrap();
            assert_eq!(data.len(), 1);
            assert_eq!(data[RECORD_KEY], serde_json::to_value(&record).unwrap());
        }
    }
}

#[test]
fn a_decoded_session_holds_its_strings_and_header_values_in_one_buffer() {
    let contract = HeaderContract::default();
    let record = jose(datetime!(2026-05-23 09:00 UTC));
    let s = SignedIn::new(&record, &contract);
    let buffer = s.identity.user.buffer();
    for t in [
        &s.identity.email,
        &s.identity.preferred_username,
        &s.identity.name,
    ] {
        let t = t.as_ref().unwrap();
        assert!(Arc::ptr_eq(t.buffer(), buffer));
    }
    assert_eq!(
        buffer.matches("jmuller").count(),
        1,
        "user, preferred username, NameID and their header values are one string: {buffer}"
    );
    // The headers are exactly the contract's encoding.
    let expected = IdentityHeaders::encode(&contract, &record.identity);
    let got: Vec<_> = s.headers.iter().collect();
    let want: Vec<_> = expected.iter().collect();
    assert_eq!(got, want);
    assert!(
        got.iter()
            .any(|(n, v)| *n == "x-forwarded-name" && v == "UTF-8''Jos%C3%A9%20M%C3%BCller")
    );
}

proptest::proptest! {
    /// The cached decision is `check_times` plus the touch rule, whatever the instants.
    #[test]
    fn fresh_is_check_times_until_the_touch(
        last_seen in 0i64..100_000,
        lifetime in -100_000i64..100_000,
        since in -100_000_000_000i64..200_000_000_000,
        idle in 1i64..100_000,
    ) {
        let t0 = datetime!(2026-05-23 09:00 UTC);
        let last_seen = t0 + Duration::seconds(last_seen);
        let not_after = last_seen + Duration::seconds(lifetime);
        let now = last_seen + Duration::nanoseconds(since);
        let idle = Duration::seconds(idle);
        let s = signed_in(last_seen, not_after);
        let expected = record::check_times(not_after, last_seen, now, idle).is_ok()
            && now - last_seen < record::TOUCH_INTERVAL;
        proptest::prop_assert_eq!(s.fresh_at(now.unix_timestamp_nanos(), idle), expected);
    }
}

/// A memory store and the cache over it, both on `t0`.
fn over_memory_store(t0: OffsetDateTime) -> (SweepingMemoryStore, SessionCache) {
    let clock: crate::ops::clock::Clock = Arc::new(move || t0);
    let store = SweepingMemoryStore::with_clock(clock);
    (store.clone(), SessionCache::over_memory_store(store))
}

async fn stored(store: &SweepingMemoryStore, record: &SessionRecord) -> Id {
    use tower_sessions::SessionStore;
    let mut r = tower_sessions::session::Record {
        id: Id::default(),
        data: std::collections::HashMap::from([(
            RECORD_KEY.to_string(),
            serde_json::to_value(record).unwrap(),
        )]),
        expiry_date: record.not_after,
    };
    store.create(&mut r).await.unwrap();
    r.id
}

#[tokio::test]
async fn over_the_memory_store_a_session_is_served_once_decoded_until_removed() {
    let t0 = datetime!(2026-05-23 09:00 UTC);
    let (store, cache) = over_memory_store(t0);
    let record = jose(t0);
    let id = stored(&store, &record).await;
    assert!(cache.get(&id, t0, IDLE).is_none(), "not decoded yet");
    let decoded = Arc::new(SignedIn::new(&record, &HeaderContract::default()));
    assert!(cache.insert(id, decoded, cache.ticket(), t0, IDLE));
    assert_eq!(cache.len(), 1);
    let hit = cache
        .get(&id, t0 + Duration::seconds(59), IDLE)
        .expect("cached");
    assert_eq!(hit.identity, record.identity);
    assert!(cache.get(&id, t0 + record::TOUCH_INTERVAL, IDLE).is_none());
    assert!(cache.get(&Id::default(), t0, IDLE).is_none());

    cache.remove(&id);
    assert!(cache.get(&id, t0, IDLE).is_none());
    assert!(cache.is_empty());
    use tower_sessions::SessionStore;
    assert!(store.load(&id).await.unwrap().is_some(), "the record stays");
}

#[tokio::test]
async fn over_the_memory_store_a_load_that_raced_a_logout_is_not_cached() {
    use tower_sessions::SessionStore;
    let t0 = datetime!(2026-05-23 09:00 UTC);
    let (store, cache) = over_memory_store(t0);
    let record = jose(t0);
    let id = stored(&store, &record).await;
    // Request 1 takes its ticket and loads the session; meanwhile a logout ends it.
    let ticket = cache.ticket();
    let loaded = Arc::new(SignedIn::new(&record, &HeaderContract::default()));
    cache.remove(&id);
    store.delete(&id).await.unwrap();
    assert!(!cache.insert(id, loaded, ticket, t0, IDLE));
    assert!(cache.get(&id, t0, IDLE).is_none());
    assert!(
        store.load(&id).await.unwrap().is_none(),
        "nothing came back"
    );
}
