//! Opaque access tokens through token introspection (RFC 7662) at a real authorization server
//! (`oidc-provider`, support::oauth), the gateway authenticating with `client_secret_basic` or
//! `private_key_jwt`: tokens mapped, answers cached under the hash of the whole token (two users
//! of one client never share an answer), inactive answers cached briefly, refused client
//! credentials failing fast.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hyper::StatusCode;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use serde_json::{Value, json};

use crate::support::gateway::{self, Browser, Gateway, Reply, Setup};
use crate::support::oauth::{self, OidcProvider};

const OPAQUE: &str = "https://opaque.api.example.com";

async fn gateway_for(op: &OidcProvider, client: &str, files: Vec<(String, String)>) -> Gateway {
    gateway::start(Setup {
        backend: Some(oauth::header_echo().await),
        files,
        extra_toml: format!(
            r#"
[[oauth]]
name = "op"
issuer = "{issuer}"
audience = "{OPAQUE}"
mapping = "mapping.toml"
introspection_endpoint = "{issuer}/token/introspection"
client_id = "{client}"
{auth}
"#,
            issuer = op.issuer,
            auth = if client == "gw-secret" {
                "client_secret_file = \"client.secret\""
            } else {
                "client_auth = \"private_key_jwt\"\nclient_key = \"client.key\""
            }
        ),
        ..Setup::default()
    })
    .await
}

async fn get(gw: &Gateway, token: &str) -> Reply {
    Browser::new(&gw.base)
        .get_with(
            "/api/orders",
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await
}

fn user_of(reply: &Reply) -> (String, String) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let v: Value = serde_json::from_str(&reply.body).unwrap();
    (
        v["headers"]["x-forwarded-user"]
            .as_str()
            .unwrap()
            .to_owned(),
        v["headers"]["x-forwarded-access-group"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

fn calls(gw: &Gateway, answer: &str) -> f64 {
    gw.metric(
        "samlgate_oauth_introspection_calls_total",
        &[("issuer", "op"), ("answer", answer)],
    )
}

#[tokio::test]
async fn opaque_tokens_of_two_users_of_one_client_are_introspected_and_never_swapped() {
    if !oauth::available() {
        return;
    }
    let op = OidcProvider::start().await;
    let gw = gateway_for(
        &op,
        "gw-secret",
        vec![("client.secret".into(), "gw-secret-password\n".into())],
    )
    .await;
    let alice = op
        .user_token("alice", OPAQUE, "orders.read", &["Admins"])
        .await;
    let bob = op
        .user_token("bob", OPAQUE, "orders.read", &["Staff"])
        .await;
    assert!(!alice.contains('.'), "an opaque token: {alice}");
    for _ in 0..3 {
        assert_eq!(
            user_of(&get(&gw, &alice).await),
            ("alice".into(), "MyOrg:Administrators".into())
        );
        assert_eq!(
            user_of(&get(&gw, &bob).await),
            ("bob".into(), "MyOrg:RestrictedReadOnly".into())
        );
    }
    // One call per token; every later request answered from the cache.
    assert_eq!(calls(&gw, "active"), 2.0);
    assert_eq!(
        gw.metric(
            "samlgate_oauth_tokens_accepted_total",
            &[("issuer", "op"), ("cached", "yes")]
        ),
        4.0
    );

    // A token the issuer does not know: inactive, 401, and asked about once in 10 s.
    for _ in 0..3 {
        let reply = get(&gw, "made-up-token-value").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(
            reply
                .header("www-authenticate")
                .unwrap()
                .contains("the access token is not active")
        );
    }
    assert_eq!(calls(&gw, "inactive"), 1.0);
    gw.advance(time::Duration::seconds(11));
    assert_eq!(
        get(&gw, "made-up-token-value").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(calls(&gw, "inactive"), 2.0);
}

#[tokio::test]
async fn private_key_jwt_authenticates_the_gateway_and_a_wrong_key_fails_fast() {
    if !oauth::available() {
        return;
    }
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let rsa = key.rsa().unwrap();
    let jwk = json!({"kty": "RSA", "kid": "gw-1", "use": "sig", "alg": "RS256",
        "n": B64URL.encode(rsa.n().to_vec()), "e": B64URL.encode(rsa.e().to_vec())});
    let op = OidcProvider::start_with(&[("GATEWAY_CLIENT_JWK", jwk.to_string())]).await;
    let pem = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let gw = gateway_for(&op, "gw-jwt", vec![("client.key".into(), pem)]).await;
    let token = op.user_token("carol", OPAQUE, "orders.read", &[]).await;
    assert_eq!(user_of(&get(&gw, &token).await).0, "carol");
    assert_eq!(calls(&gw, "active"), 1.0);

    // A key the issuer does not have for this client: 401 twice, then 503 and an error metric.
    let other = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let pem = String::from_utf8(other.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let gw = gateway_for(&op, "gw-jwt", vec![("client.key".into(), pem)]).await;
    let reply = get(&gw, &token).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert!(reply.header("location").is_none());
    assert_eq!(calls(&gw, "error"), 1.0);
    assert_eq!(calls(&gw, "active"), 0.0);
}
