//! Unit tests of `session::memory_store`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
use super::*;

fn record(expiry: OffsetDateTime) -> Record {
    Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: expiry,
    }
}

#[tokio::test]
async fn expired_sessions_are_not_loaded_and_are_swept_on_create() {
    let store = SweepingMemoryStore::new();
    let now = OffsetDateTime::now_utc();
    let mut old = record(now - Duration::minutes(1));
    store.save(&old).await.unwrap();
    assert_eq!(store.load(&old.id).await.unwrap(), None);
    let mut fresh = record(now + Duration::hours(1));
    store.create(&mut fresh).await.unwrap();
    assert_eq!(store.len().await, 1, "the expired record is swept");
    assert!(store.load(&fresh.id).await.unwrap().is_some());
    old.id = fresh.id;
    store.create(&mut old).await.unwrap();
    assert_ne!(old.id, fresh.id, "a colliding ID is re-drawn");
}

use std::sync::Mutex;

use time::macros::datetime;

use crate::identity::Operator;
use crate::identity::headers::HeaderContract;
use crate::identity::shared_text::Groups;
use crate::session::SessionRecord;

const T0: OffsetDateTime = datetime!(2026-05-23 09:00 UTC);

/// A store whose clock the test moves.
fn store_at(start: OffsetDateTime) -> (SweepingMemoryStore, Arc<Mutex<OffsetDateTime>>) {
    let now = Arc::new(Mutex::new(start));
    let read = Arc::clone(&now);
    let clock: Clock = Arc::new(move || *read.lock().unwrap());
    (SweepingMemoryStore::with_clock(clock), now)
}

fn login(created: OffsetDateTime) -> SessionRecord {
    SessionRecord {
        identity: Operator {
            user: "jmuller".into(),
            email: Some("jose.muller@example.com".into()),
            preferred_username: Some("jmuller".into()),
            name: Some("José Müller".into()),
            access_group: "MyOrg:Staff".into(),
            groups: Groups::from(vec!["staff".to_string(), "Sales, EMEA".to_string()]),
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

/// The record a session layer saves for `session`, expiring at its end.
fn login_record(id: Id, session: &SessionRecord) -> Record {
    Record {
        id,
        data: HashMap::from([(
            RECORD_KEY.to_string(),
            serde_json::to_value(session).unwrap(),
        )]),
        expiry_date: session.not_after,
    }
}

fn decoded(session: &SessionRecord) -> Arc<SignedIn> {
    Arc::new(SignedIn::new(session, &HeaderContract::default()))
}

#[tokio::test]
async fn records_expire_by_the_clock_and_are_swept_a_bounded_number_per_write() {
    let (store, now) = store_at(T0);
    let mut ids = Vec::new();
    for _ in 0..100 {
        let mut r = record(T0 + Duration::seconds(30));
        store.create(&mut r).await.unwrap();
        ids.push(r.id);
    }
    assert!(store.load(&ids[0]).await.unwrap().is_some());
    *now.lock().unwrap() = T0 + Duration::seconds(30);
    for id in &ids {
        assert_eq!(
            store.load(id).await.unwrap(),
            None,
            "refused from its expiry on"
        );
    }
    assert_eq!(store.len().await, 100, "loads sweep nothing");
    // Each write takes a bounded share of the due records off, wherever they are.
    *now.lock().unwrap() = T0 + Duration::minutes(2);
    let mut lengths = Vec::new();
    while !store.is_empty().await {
        // Two writes: a login that is then logged out.
        let mut r = record(T0 + Duration::hours(1));
        store.create(&mut r).await.unwrap();
        store.delete(&r.id).await.unwrap();
        lengths.push(store.len().await);
    }
    assert_eq!(lengths, vec![68, 36, 4, 0]);
}

#[tokio::test]
async fn a_login_record_is_dropped_an_hour_after_its_session_ends_whatever_its_own_expiry() {
    let (store, now) = store_at(T0);
    let session = login(T0);
    let mut r = login_record(Id::default(), &session);
    // tower-sessions gives a record it saves again a fortnight.
    r.expiry_date = T0 + Duration::weeks(2);
    store.create(&mut r).await.unwrap();
    *now.lock().unwrap() = session.not_after + Duration::minutes(59);
    let loaded = store
        .load(&r.id)
        .await
        .unwrap()
        .expect("still within the grace");
    assert_eq!(loaded.data, r.data);
    *now.lock().unwrap() = session.not_after + LOGIN_GRACE;
    assert_eq!(store.load(&r.id).await.unwrap(), None);
    // Any other record keeps its own expiry.
    let mut other = record(T0 + Duration::weeks(2));
    other.data.insert("user".into(), "alice".into());
    store.create(&mut other).await.unwrap();
    assert!(store.load(&other.id).await.unwrap().is_some());
}

#[tokio::test]
async fn a_decoded_session_takes_its_records_place_and_loads_back_the_same() {
    let (store, _) = store_at(T0);
    let session = login(T0);
    let mut r = login_record(Id::default(), &session);
    store.create(&mut r).await.unwrap();
    assert!(store.decoded(&r.id, T0, Duration::minutes(30)).is_none());

    assert!(store.attach(&r.id, decoded(&session)));
    assert_eq!(store.decoded_len(), 1);
    assert_eq!(store.len().await, 1, "one entry, not two");
    let hit = store
        .decoded(&r.id, T0, Duration::minutes(30))
        .expect("decoded");
    assert_eq!(hit.identity, session.identity);
    let loaded = store.load(&r.id).await.unwrap().expect("loaded");
    assert_eq!(
        loaded.data, r.data,
        "the record comes back as the layer saved it"
    );

    store.detach(&r.id);
    assert_eq!(store.decoded_len(), 0);
    assert!(store.decoded(&r.id, T0, Duration::minutes(30)).is_none());
    assert_eq!(store.load(&r.id).await.unwrap().expect("kept").data, r.data);

    store.attach(&r.id, decoded(&session));
    store.delete(&r.id).await.unwrap();
    assert_eq!(store.decoded_len(), 0);
    assert!(store.decoded(&r.id, T0, Duration::minutes(30)).is_none());
}

#[tokio::test]
async fn a_decoded_copy_only_replaces_the_login_it_was_decoded_from() {
    let (store, now) = store_at(T0);
    let session = login(T0);
    let id = Id::default();
    assert!(
        !store.attach(&id, decoded(&session)),
        "no record (a logout came first): nothing is brought back"
    );
    assert_eq!(store.len().await, 0);

    let mut r = login_record(id, &session);
    store.create(&mut r).await.unwrap();
    let mut another = login(T0 + Duration::seconds(1));
    another.identity.user = "mallory".into();
    assert!(!store.attach(&r.id, decoded(&another)), "another login");

    let mut other = record(T0 + Duration::hours(1));
    other.data.insert("user".into(), "alice".into());
    store.create(&mut other).await.unwrap();
    assert!(
        !store.attach(&other.id, decoded(&session)),
        "not a login record"
    );

    *now.lock().unwrap() = session.not_after + LOGIN_GRACE;
    assert!(!store.attach(&r.id, decoded(&session)), "expired");
    assert_eq!(store.decoded_len(), 0);
}

#[tokio::test]
async fn a_touch_decoded_before_its_save_is_kept_by_that_save() {
    let (store, _) = store_at(T0);
    let session = login(T0);
    let mut r = login_record(Id::default(), &session);
    store.create(&mut r).await.unwrap();
    assert!(store.attach(&r.id, decoded(&session)));

    // The request that finds the touch due decodes the touched record before the layer saves it.
    let mut touched = session.clone();
    touched.last_seen = T0 + Duration::minutes(5);
    assert!(store.attach(&r.id, decoded(&touched)));
    let stale = store.attach(&r.id, decoded(&session));
    assert!(!stale, "an older decoding does not replace a newer one");
    store.save(&login_record(r.id, &touched)).await.unwrap();
    assert_eq!(
        store.decoded_len(),
        1,
        "the save of what is held keeps it decoded"
    );
    assert_eq!(
        store.load(&r.id).await.unwrap().expect("loaded").data,
        login_record(r.id, &touched).data
    );

    // Any other save replaces the decoded copy.
    let mut later = touched.clone();
    later.last_seen = T0 + Duration::minutes(10);
    store.save(&login_record(r.id, &later)).await.unwrap();
    assert_eq!(store.decoded_len(), 0);
    assert_eq!(
        store.load(&r.id).await.unwrap().expect("loaded").data,
        login_record(r.id, &later).data
    );
}

#[tokio::test]
async fn detach_all_keeps_every_record() {
    let (store, _) = store_at(T0);
    let session = login(T0);
    let mut ids = Vec::new();
    for _ in 0..10 {
        let mut r = login_record(Id::default(), &session);
        store.create(&mut r).await.unwrap();
        assert!(store.attach(&r.id, decoded(&session)));
        ids.push(r.id);
    }
    assert_eq!(store.decoded_len(), 10);
    store.detach_all();
    assert_eq!(store.decoded_len(), 0);
    for id in ids {
        let loaded = store.load(&id).await.unwrap().expect("kept");
        assert_eq!(loaded.data, login_record(id, &session).data);
    }
}
