//! Unit tests of `identity::headers`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
use super::*;

fn identity() -> Operator {
    Operator {
        user: "jdoe".into(),
        email: Some("jdoe@example.com".into()),
        preferred_username: None,
        groups: ["admins", "Sales, EMEA", "Zürich"].into_iter().collect(),
        access_group: "MyOrg:Administrators".into(),
        name: Some("José Müller".into()),
        extra: vec![],
    }
}

#[test]
fn encodes_non_ascii_name_in_the_documented_form() {
    assert_eq!(
        encode_value("José Müller"),
        "UTF-8''Jos%C3%A9%20M%C3%BCller"
    );
}

#[test]
fn jose_mueller_round_trips_through_encode_and_decode() {
    let encoded = encode_value("José Müller");
    assert!(encoded.is_ascii());
    assert_eq!(decode_value(&encoded).unwrap(), "José Müller");
}

#[test]
fn printable_ascii_passes_unchanged() {
    for v in ["jdoe", "MyOrg:Administrators", "a b", "50% off, really"] {
        assert_eq!(encode_value(v), v);
        assert_eq!(decode_value(v).unwrap(), v);
    }
}

#[test]
fn value_that_looks_encoded_is_itself_encoded() {
    let tricky = "UTF-8''Jos%C3%A9";
    let encoded = encode_value(tricky);
    assert_eq!(encoded, "UTF-8''UTF-8%27%27Jos%25C3%25A9");
    assert_eq!(decode_value(&encoded).unwrap(), tricky);
    assert_ne!(encode_value("utf-8''x"), "utf-8''x");
}

#[test]
fn control_characters_and_edge_spaces_are_encoded() {
    assert_eq!(
        encode_value("a\r\nX-Forwarded-User: root"),
        "UTF-8''a%0D%0AX-Forwarded-User%3A%20root"
    );
    assert_eq!(encode_value(" padded "), "UTF-8''%20padded%20");
}

#[test]
fn groups_with_commas_are_encoded_so_the_join_splits_back() {
    let groups = identity().groups.to_vec();
    let joined = encode_list(&groups);
    assert_eq!(joined, "admins,UTF-8''Sales%2C%20EMEA,UTF-8''Z%C3%BCrich");
    assert_eq!(decode_list(&joined).unwrap(), groups);
}

#[test]
fn refuses_bad_escapes_and_non_utf8() {
    assert_eq!(
        decode_value("UTF-8''ab%G1"),
        Err(HeaderDecodeError::BadEscape { at: 9 })
    );
    assert_eq!(
        decode_value("UTF-8''%4"),
        Err(HeaderDecodeError::BadEscape { at: 7 })
    );
    assert_eq!(decode_value("UTF-8''%FF"), Err(HeaderDecodeError::NotUtf8));
}

#[test]
fn strips_every_case_and_underscore_form_then_injects() {
    let contract = HeaderContract::default();
    let mut h = HeaderMap::new();
    h.append("x-forwarded-user", HeaderValue::from_static("evil1"));
    h.append("X_Forwarded_User", HeaderValue::from_static("evil2"));
    h.append("x_forwarded_groups", HeaderValue::from_static("admins"));
    h.append("x-FORWARDED-access_GROUP", HeaderValue::from_static("root"));
    h.append("accept", HeaderValue::from_static("text/html"));
    strip(&contract, &mut h);
    assert_eq!(h.len(), 1, "only accept is left: {h:?}");
    inject(&IdentityHeaders::encode(&contract, &identity()), &mut h);
    assert_eq!(h["x-forwarded-user"], "jdoe");
    assert_eq!(h["x-forwarded-access-group"], "MyOrg:Administrators");
    assert_eq!(h["x-forwarded-name"], "UTF-8''Jos%C3%A9%20M%C3%BCller");
    assert!(!h.contains_key("x-forwarded-preferred-username"));
}

#[test]
fn a_full_identity_shares_the_contracts_names_and_values_share_one_buffer() {
    let contract = HeaderContract::default();
    let mut id = identity();
    id.preferred_username = Some("jdoe".into());
    let full = IdentityHeaders::encode(&contract, &id);
    assert!(Arc::ptr_eq(&full.names, &contract.rule_names));
    assert_eq!(
        full.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        [
            "x-forwarded-user",
            "x-forwarded-email",
            "x-forwarded-preferred-username",
            "x-forwarded-groups",
            "x-forwarded-access-group",
            "x-forwarded-name"
        ]
    );
    // The user and the preferred username are one string in the buffer.
    assert_eq!(full.spans[0], full.spans[2]);
    assert!(full.kept.is_empty(), "short values are made per request");
    let mut id = identity();
    id.groups = (0..8)
        .map(|i| format!("GRP-Engineering-Team{i:02}"))
        .collect();
    let long = IdentityHeaders::encode(&contract, &id);
    assert_eq!(long.kept.len(), 1, "the long group list is kept made");
    let groups: Vec<_> = long
        .iter()
        .filter(|(n, _)| *n == "x-forwarded-groups")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(groups, [encode_list(&id.groups.to_vec())]);
    let partial = IdentityHeaders::encode(&contract, &identity());
    assert!(!Arc::ptr_eq(&partial.names, &contract.rule_names));
    assert_eq!(partial.iter().count(), 5);
}

#[test]
fn drops_connection_tokens_naming_identity_headers() {
    let contract = HeaderContract::default();
    let mut h = HeaderMap::new();
    h.insert(
        CONNECTION,
        HeaderValue::from_static("keep-alive, X-Forwarded-User, x_forwarded_email"),
    );
    strip(&contract, &mut h);
    assert_eq!(h[CONNECTION], "keep-alive");

    let mut h = HeaderMap::new();
    h.insert(CONNECTION, HeaderValue::from_static("X-Forwarded-User"));
    strip(&contract, &mut h);
    assert!(!h.contains_key(CONNECTION));
}

#[test]
fn configured_names_extras_and_also_strip_are_honoured() {
    let config: HeaderContractConfig = toml::from_str(
        r#"
        names = { user = "X-Remote-User" }
        extra = ["X-Forwarded-Department"]
        also_strip = ["X-Remote-Groups"]
        "#,
    )
    .unwrap();
    let contract = HeaderContract::from_config(&config).unwrap();
    let mut h = HeaderMap::new();
    h.insert("x_remote_user", HeaderValue::from_static("evil"));
    h.insert("x-remote-groups", HeaderValue::from_static("evil"));
    h.insert("X_FORWARDED_DEPARTMENT", HeaderValue::from_static("evil"));
    strip(&contract, &mut h);
    assert!(h.is_empty(), "{h:?}");
    let mut id = identity();
    id.extra = vec![
        ("X-Forwarded-Department".into(), "R&D".into()),
        ("X-Undeclared".into(), "nope".into()),
    ];
    inject(&IdentityHeaders::encode(&contract, &id), &mut h);
    assert_eq!(h["x-remote-user"], "jdoe");
    assert!(!h.contains_key("x-forwarded-user"));
    assert_eq!(h["x-forwarded-department"], "R&D");
    assert!(!h.contains_key("x-undeclared"));
}

#[test]
fn the_fields_written_out_are_the_values_inserted() {
    let contract = HeaderContract::default();
    let mut id = identity();
    id.groups = (0..8).map(|i| format!("Zürich Team {i}")).collect();
    let headers = IdentityHeaders::encode(&contract, &id);
    let written: Vec<_> = headers
        .fields()
        .map(|(n, v)| (n.clone(), v.to_vec()))
        .collect();
    let inserted: Vec<_> = headers
        .iter()
        .map(|(n, v)| (n.clone(), v.as_bytes().to_vec()))
        .collect();
    assert_eq!(written.len(), 5);
    assert_eq!(written, inserted);
    assert!(
        written
            .iter()
            .all(|(_, v)| HeaderValue::from_bytes(v).is_ok())
    );
}
