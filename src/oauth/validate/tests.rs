//! Unit tests of `oauth::validate`, compiled only under #[cfg(test)] (the parent declares
//! `mod tests;`): each check refuses with the values it compared, at an injected time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::*;
use crate::config::JwksSource;
use crate::crypto::jws::ALL_JWS_ALGORITHMS;
use crate::mapping::MappingTable;
use crate::oauth::compact;

const NOW: i64 = 1_800_000_000;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW).unwrap()
}

fn issuer() -> OAuthIssuer {
    OAuthIssuer {
        name: "as".into(),
        issuer: "https://as.example".into(),
        audiences: vec!["https://api.example".into()],
        keys: JwksSource::Uri("https://as.example/jwks".parse().unwrap()),
        algorithms: ALL_JWS_ALGORITHMS.to_vec(),
        require_at_jwt: false,
        clock_skew: Duration::seconds(60),
        jwks_refresh: Duration::hours(1),
        mapping: MappingTable::from_toml("[access]\ndefault = \"users\"\n", "m.toml").unwrap(),
        introspection: None,
    }
}

fn key() -> (PKey<Private>, Jwk) {
    let private = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let public = PKey::public_key_from_pem(&private.public_key_to_pem().unwrap()).unwrap();
    (
        private,
        Jwk {
            kid: "k1".into(),
            alg: None,
            key: public,
        },
    )
}

fn claims() -> Value {
    json!({"iss": "https://as.example", "aud": "https://api.example", "sub": "alice",
           "exp": NOW + 300, "iat": NOW, "scope": "a b"})
}

fn sign(key: &PKey<Private>, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        B64URL.encode(header.to_string()),
        B64URL.encode(claims.to_string())
    );
    let mut s = Signer::new(MessageDigest::sha256(), key).unwrap();
    s.update(input.as_bytes()).unwrap();
    format!("{input}.{}", B64URL.encode(s.sign_to_vec().unwrap()))
}

/// Every step, as the authenticator runs them.
fn run(issuer: &OAuthIssuer, jwk: &Jwk, token: &str) -> Result<VerifiedToken, TokenRejection> {
    let parsed = compact::parse(token)?;
    let found = issuer_of(&parsed, std::slice::from_ref(issuer))?;
    let (alg, kid) = check_header(&parsed, found)?;
    let jwks = Jwks {
        keys: vec![jwk.clone()],
        skipped: vec![],
    };
    let key = key_in(&jwks, kid, found)?;
    check(&parsed, found, alg, key, now())
}

fn rs256() -> Value {
    json!({"alg": "RS256", "kid": "k1", "typ": "at+jwt"})
}

#[test]
fn a_good_token_verifies_with_its_scopes() {
    let (private, jwk) = key();
    let t = run(&issuer(), &jwk, &sign(&private, &rs256(), &claims())).unwrap();
    assert_eq!(t.subject, "alice");
    assert_eq!(t.scopes, ["a", "b"]);
    assert_eq!(t.expires_at, NOW + 300);
}

#[test]
fn exp_nbf_and_iat_are_held_to_the_skew() {
    let (private, jwk) = key();
    let at = |field: &str, value: i64| {
        let mut c = claims();
        c[field] = json!(value);
        run(&issuer(), &jwk, &sign(&private, &rs256(), &c))
    };
    // exp within the skew: accepted; at exp + skew: expired, with both instants and the skew.
    assert!(at("exp", NOW - 59).is_ok());
    match at("exp", NOW - 60) {
        Err(TokenRejection::Expired { exp, now, skew, .. }) => {
            assert_eq!((exp, now, skew), (NOW - 60, NOW, 60));
        }
        other => panic!("{other:?}"),
    }
    assert!(at("nbf", NOW + 60).is_ok());
    assert!(matches!(
        at("nbf", NOW + 61),
        Err(TokenRejection::NotYetValid { nbf, .. }) if nbf == NOW + 61
    ));
    assert!(matches!(
        at("iat", NOW + 61),
        Err(TokenRejection::IssuedInFuture { .. })
    ));
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        run(&issuer(), &jwk, &sign(&private, &rs256(), &no_exp)).unwrap_err(),
        TokenRejection::MissingClaim { claim: "exp" }
    );
}

#[test]
fn audience_and_issuer_are_compared_exactly() {
    let (private, jwk) = key();
    let mut c = claims();
    c["aud"] = json!(["https://api.example/", "other"]);
    assert_eq!(
        run(&issuer(), &jwk, &sign(&private, &rs256(), &c)).unwrap_err(),
        TokenRejection::Audience {
            have: vec!["https://api.example/".into(), "other".into()],
            want: vec!["https://api.example".into()],
        }
    );
    let mut c = claims();
    c["iss"] = json!("https://as.example/");
    assert!(matches!(
        run(&issuer(), &jwk, &sign(&private, &rs256(), &c)),
        Err(TokenRejection::UnknownIssuer { .. })
    ));
}

#[test]
fn the_header_is_held_to_the_policy() {
    let (private, jwk) = key();
    let with = |h: Value| run(&issuer(), &jwk, &sign(&private, &h, &claims()));
    assert!(matches!(
        with(json!({"alg": "RS256", "kid": "k1", "crit": ["exp"], "exp": 1})),
        Err(TokenRejection::Critical { .. })
    ));
    assert_eq!(
        with(json!({"alg": "RS256"})).unwrap_err(),
        TokenRejection::NoKid
    );
    assert!(matches!(
        with(json!({"alg": "RS256", "kid": "k1", "typ": "dpop+jwt"})),
        Err(TokenRejection::Type { .. })
    ));
    assert!(matches!(
        with(json!({"alg": "RS256", "kid": "other"})),
        Err(TokenRejection::UnknownKid { kid, known, .. }) if kid == "other" && known == ["k1"]
    ));
    // Plain JWT is fine unless at+jwt is required.
    assert!(with(json!({"alg": "RS256", "kid": "k1", "typ": "JWT"})).is_ok());
    let mut strict = issuer();
    strict.require_at_jwt = true;
    let plain = sign(
        &private,
        &json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}),
        &claims(),
    );
    assert!(matches!(
        run(&strict, &jwk, &plain),
        Err(TokenRejection::Type { .. })
    ));
    let typed = sign(
        &private,
        &json!({"alg": "RS256", "kid": "k1", "typ": "application/at+jwt"}),
        &claims(),
    );
    assert!(run(&strict, &jwk, &typed).is_ok());
    // An algorithm the issuer does not allow, and a key pinned to another algorithm.
    let mut ps_only = issuer();
    ps_only.algorithms = vec![JwsAlgorithm::Ps256];
    assert!(matches!(
        run(&ps_only, &jwk, &sign(&private, &rs256(), &claims())),
        Err(TokenRejection::AlgorithmNotAllowed { .. })
    ));
    let mut pinned = jwk.clone();
    pinned.alg = Some("PS256".into());
    assert!(matches!(
        run(&issuer(), &pinned, &sign(&private, &rs256(), &claims())),
        Err(TokenRejection::KeyAlgorithm { .. })
    ));
}

#[test]
fn a_subject_is_required() {
    let (private, jwk) = key();
    let mut c = claims();
    c["sub"] = json!(" ");
    assert!(matches!(
        run(&issuer(), &jwk, &sign(&private, &rs256(), &c)),
        Err(TokenRejection::ClaimType { claim: "sub", .. })
    ));
}
