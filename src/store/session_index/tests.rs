//! Unit tests of `store::session_index`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
use super::*;
use time::Duration;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2026-05-23 09:00 UTC);

fn key(name_id: &str, session_index: Option<&str>) -> SessionIndexKey {
    SessionIndexKey {
        idp_entity_id: "https://idp.example.org".into(),
        name_id: name_id.into(),
        name_id_format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into()),
        name_qualifier: None,
        sp_name_qualifier: None,
        session_index: session_index.map(str::to_string),
    }
}

#[test]
fn session_ids_come_back_as_they_were_given() {
    let index = MemorySessionIndex::new();
    let id = Id::default().to_string();
    let until = T0 + Duration::hours(1);
    index.add_at(&key("alice", Some("si-1")), &id, until, T0);
    index.add_at(&key("alice", Some("si-2")), "not-a-session-id", until, T0);
    assert_eq!(
        index.take_at(&key("alice", Some("si-1")), T0),
        vec![id.clone()]
    );
    let mut all = vec![id, "not-a-session-id".to_string()];
    all.sort();
    assert_eq!(index.take_at(&key("alice", None), T0), all);
}

#[test]
fn a_session_is_listed_once_however_it_was_indexed() {
    let index = MemorySessionIndex::new();
    let until = T0 + Duration::hours(1);
    // The same session under two SessionIndexes, and added twice.
    index.add_at(&key("bob", Some("si-1")), "s1", until, T0);
    index.add_at(&key("bob", Some("si-2")), "s1", until, T0);
    index.add_at(&key("bob", Some("si-2")), "s1", until, T0);
    index.add_at(&key("bob", None), "s2", until, T0);
    assert_eq!(index.take_at(&key("bob", None), T0), vec!["s1", "s2"]);
    assert_eq!(index.take_at(&key("bob", Some("si-2")), T0), vec!["s1"]);
    assert_eq!(
        index.take_at(&key("bob", Some("si-2")), T0),
        Vec::<String>::new()
    );
    assert_eq!(index.take_at(&key("bob", Some("si-1")), T0), vec!["s1"]);
    assert!(index.subjects.is_empty(), "nothing left to take");
}

#[test]
fn subjects_whose_sessions_expired_are_swept_a_bounded_number_per_add() {
    let index = MemorySessionIndex::new();
    for i in 0..40 {
        index.add_at(
            &key(&format!("user{i}"), Some("si")),
            "s",
            T0 + Duration::seconds(30),
            T0,
        );
    }
    assert_eq!(index.subjects.len(), 40);
    let later = T0 + Duration::minutes(2);
    assert_eq!(
        index.take_at(&key("user0", Some("si")), later),
        Vec::<String>::new(),
        "expired sessions are never returned"
    );
    index.add_at(&key("carol", None), "s", later + Duration::hours(1), later);
    assert_eq!(index.subjects.len(), 40 - SWEEP_PER_WRITE);
    index.add_at(&key("dave", None), "s", later + Duration::hours(1), later);
    index.add_at(&key("erin", None), "s", later + Duration::hours(1), later);
    assert_eq!(index.subjects.len(), 3, "only the live subjects are left");
}

#[test]
fn a_subject_is_kept_while_any_of_its_sessions_lives() {
    let index = MemorySessionIndex::new();
    index.add_at(
        &key("frank", Some("a")),
        "short",
        T0 + Duration::seconds(30),
        T0,
    );
    index.add_at(
        &key("frank", Some("b")),
        "long",
        T0 + Duration::hours(1),
        T0,
    );
    let later = T0 + Duration::minutes(5);
    for _ in 0..4 {
        index.add_at(&key("grace", None), "g", later + Duration::hours(1), later);
    }
    assert_eq!(index.take_at(&key("frank", None), later), vec!["long"]);
}
