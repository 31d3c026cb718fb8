//! Unit tests of `identity::token` and `identity::token_cache`, compiled only under #[cfg(test)]
//! (the parent declares `mod tests;`).
use super::*;
use crate::crypto::jws_key::JwsAlgorithm;
use crate::identity::token_cache::TokenCache;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::PKey;
use time::macros::datetime;

fn key() -> JwsKey {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    JwsKey::new(key, JwsAlgorithm::Es256).unwrap()
}

fn signer(key: JwsKey, next: Option<JwsKey>) -> TokenSigner {
    TokenSigner::new(
        TokenSettings {
            issuer: "https://sp.example.com".into(),
            audience: "app".into(),
            lifetime_seconds: 60,
            header: HeaderName::from_static(DEFAULT_HEADER),
        },
        key,
        next,
    )
}

fn operator() -> Operator {
    Operator {
        user: "jdoe".into(),
        email: Some("jdoe@example.com".into()),
        name: Some("José Müller".into()),
        access_group: "staff".into(),
        groups: ["admins", "Sales, EMEA"].into_iter().collect(),
        ..Operator::default()
    }
}

fn claims(token: &HeaderValue) -> serde_json::Value {
    let payload = token.to_str().unwrap().split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

const NOW: OffsetDateTime = datetime!(2026-05-23 09:00 UTC);

#[test]
fn claims_carry_the_identity_and_the_times() {
    let s = signer(key(), None);
    let token = s
        .sign(&operator(), "https://idp.example.com", NOW, i64::MAX, "j1")
        .unwrap();
    let iat = NOW.unix_timestamp();
    assert_eq!(
        claims(&token.value),
        json!({
            "iss": "https://sp.example.com", "aud": "app", "sub": "jdoe",
            "email": "jdoe@example.com", "name": "José Müller",
            "groups": ["admins", "Sales, EMEA"], "access_group": "staff",
            "idp": "https://idp.example.com", "iat": iat, "exp": iat + 60, "jti": "j1"
        })
    );
    assert_eq!(token.refresh_at, iat + 30);
    assert_eq!(token.kid, s.kid());
}

#[test]
fn a_token_never_outlives_its_session() {
    let s = signer(key(), None);
    let end = NOW.unix_timestamp() + 10;
    let token = s.sign(&operator(), "idp", NOW, end, "j").unwrap();
    assert_eq!(claims(&token.value)["exp"], end);
    assert_eq!(token.refresh_at, NOW.unix_timestamp() + 5);
}

#[test]
fn the_cache_signs_once_then_again_at_half_life_or_for_a_new_key() {
    let s = signer(key(), None);
    let cache = TokenCache::default();
    let mut jtis = 0;
    let mut get = |s: &TokenSigner, at: OffsetDateTime| {
        cache
            .get_or_sign(s, &operator(), "idp", at, i64::MAX, || {
                jtis += 1;
                format!("j{jtis}")
            })
            .unwrap()
    };
    let first = get(&s, NOW);
    assert_eq!(get(&s, NOW + time::Duration::seconds(29)), first);
    let refreshed = get(&s, NOW + time::Duration::seconds(30));
    assert_ne!(refreshed, first);
    assert_eq!(claims(&refreshed)["jti"], "j2");
    let rolled = signer(key(), None);
    let by_new_key = get(&rolled, NOW + time::Duration::seconds(31));
    assert_eq!(claims(&by_new_key)["jti"], "j3");
}

#[test]
fn jwks_lists_the_current_then_the_next_key_without_private_parts() {
    let (current, next) = (key(), key());
    let s = signer(current.clone(), Some(next.clone()));
    let jwks: serde_json::Value = serde_json::from_str(&s.jwks()).unwrap();
    let kids: Vec<_> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kids, [current.kid(), next.kid()]);
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("d").is_none())
    );
    assert_eq!(signer(current, None).jwks().matches("\"kid\"").count(), 1);
}
