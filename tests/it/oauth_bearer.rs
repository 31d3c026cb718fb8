//! API clients with OAuth 2.0 bearer access tokens, against a real authorization server
//! (`oidc-provider` on Node.js, support::oauth): its JWT access tokens (client credentials, and
//! users of one client) are accepted and mapped through the same mapping table format as SAML
//! logins; forged, altered, expired, misdirected tokens are refused with RFC 6750 answers and
//! never a login redirect; a key the issuer rotates in works on its first request.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hyper::StatusCode;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use serde_json::{Value, json};
use time::Duration;

use crate::support::gateway::{self, Browser, Gateway, Reply, Setup};
use crate::support::oauth::{self, OidcProvider};

const API: &str = "https://api.example.com";
const API_ES256: &str = "https://es256.api.example.com";

/// A gateway trusting `op` (keys by discovery, typ at+jwt required), the tests' mapping table,
/// a header-echo backend, and routes: `/api/admin` bearer-only with scope `admin`,
/// `/api/pass` forwarding `Authorization`, `/app` sessions only (not under api_prefixes).
async fn gateway_for(op: &OidcProvider) -> Gateway {
    gateway_before(op, oauth::header_echo().await, "").await
}

/// [`gateway_for`] in front of `backend`, with `routes` first.
async fn gateway_before(op: &OidcProvider, backend: String, routes: &str) -> Gateway {
    gateway::start(Setup {
        backend: Some(backend),
        routes: format!(
            r#"{routes}
[[route]]
path = "/api/admin"
auth = ["bearer"]
require_scope = ["admin"]

[[route]]
path = "/api/pass"
pass_authorization = true
"#
        ),
        extra_toml: format!(
            r#"
[[oauth]]
name = "op"
issuer = "{issuer}"
audience = ["{API}", "{API_ES256}"]
mapping = "mapping.toml"
require_typ = "at+jwt"
"#,
            issuer = op.issuer
        ),
        ..Setup::default()
    })
    .await
}

async fn get(gw: &Gateway, path: &str, authorization: &str) -> Reply {
    Browser::new(&gw.base)
        .get_with(path, &[("authorization", authorization)])
        .await
}

fn backend_saw(reply: &Reply) -> Value {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let v: Value = serde_json::from_str(&reply.body).unwrap();
    v["headers"].clone()
}

/// A 401 `invalid_token` whose description is `description`, and no redirect.
fn assert_invalid_token(reply: &Reply, description: &str) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert!(reply.header("location").is_none());
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{challenge}"
    );
    assert!(
        challenge.contains(description),
        "{challenge} should say {description:?}"
    );
}

fn parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let h = B64URL.decode(it.next().unwrap()).unwrap();
    let p = B64URL.decode(it.next().unwrap()).unwrap();
    (
        serde_json::from_slice(&h).unwrap(),
        serde_json::from_slice(&p).unwrap(),
    )
}

fn encode(v: &Value) -> String {
    B64URL.encode(v.to_string())
}

#[tokio::test]
async fn client_credentials_tokens_are_accepted_and_mapped() {
    if !oauth::available() {
        return;
    }
    let op = OidcProvider::start().await;
    let gw = gateway_for(&op).await;

    let rs256 = op.client_credentials(API, "orders.read").await;
    assert_eq!(parts(&rs256).0["typ"], "at+jwt");
    // The scheme name whatever its case.
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let seen = backend_saw(&get(&gw, "/api/orders", &format!("{scheme} {rs256}")).await);
        assert_eq!(seen["x-forwarded-user"], "svc-secret");
        assert_eq!(seen["x-forwarded-access-group"], "MyOrg:RestrictedReadOnly");
        assert_eq!(seen["x-forwarded-groups"], "Services");
        assert!(seen.get("authorization").is_none(), "stripped by default");
    }
    // ES256, for the second audience.
    let es256 = op.client_credentials(API_ES256, "orders.read").await;
    assert_eq!(parts(&es256).0["alg"], "ES256");
    let seen = backend_saw(&get(&gw, "/api/orders", &format!("Bearer {es256}")).await);
    assert_eq!(seen["x-forwarded-user"], "svc-secret");
    // Forwarded where the route says so.
    let seen = backend_saw(&get(&gw, "/api/pass", &format!("Bearer {rs256}")).await);
    assert_eq!(seen["authorization"], format!("Bearer {rs256}"));
    // Identity headers a client sends are never believed.
    let forged = Browser::new(&gw.base)
        .get_with(
            "/api/orders",
            &[
                ("authorization", &format!("Bearer {rs256}")),
                ("x-forwarded-user", "root"),
            ],
        )
        .await;
    assert_eq!(backend_saw(&forged)["x-forwarded-user"], "svc-secret");
    assert!(
        gw.metric(
            "samlgate_oauth_tokens_accepted_total",
            &[("issuer", "op"), ("cached", "no")]
        ) >= 2.0
    );
    assert!(
        gw.metric(
            "samlgate_oauth_tokens_accepted_total",
            &[("issuer", "op"), ("cached", "yes")]
        ) >= 1.0
    );
}

#[tokio::test]
async fn a_bearer_user_gets_the_identity_a_saml_login_gives() {
    if !oauth::available() {
        return;
    }
    let op = OidcProvider::start().await;
    let gw = gateway_for(&op).await;
    let token = op
        .user_token("alice@example.com", API, "orders.read", &["Admins"])
        .await;
    let by_token = backend_saw(&get(&gw, "/api/me", &format!("Bearer {token}")).await);

    let mut browser = Browser::new(&gw.base);
    gateway::login(&gw, &mut browser, "/me", "alice@example.com", &["Admins"]).await;
    let by_session = backend_saw(&browser.get("/api/me").await);
    for header in [
        "x-forwarded-user",
        "x-forwarded-access-group",
        "x-forwarded-groups",
        "x-forwarded-preferred-username",
    ] {
        assert_eq!(by_token[header], by_session[header], "{header}");
    }
    assert_eq!(by_token["x-forwarded-access-group"], "MyOrg:Administrators");
}

#[tokio::test]
async fn two_users_of_one_client_never_get_each_others_identity() {
    if !oauth::available() {
        return;
    }
    let op = OidcProvider::start().await;
    let gw = gateway_for(&op).await;
    let alice = op
        .user_token("alice", API, "orders.read", &["Admins"])
        .await;
    let bob = op.user_token("bob", API, "orders.read", &["Staff"]).await;
    assert_eq!(parts(&alice).1["client_id"], parts(&bob).1["client_id"]);
    assert_eq!(parts(&alice).1["scope"], parts(&bob).1["scope"]);
    // Interleaved, and each seen before (cached) and after.
    for _ in 0..3 {
        for (token, user, group) in [
            (&alice, "alice", "MyOrg:Administrators"),
            (&bob, "bob", "MyOrg:RestrictedReadOnly"),
        ] {
            let seen = backend_saw(&get(&gw, "/api/orders", &format!("Bearer {token}")).await);
            assert_eq!(seen["x-forwarded-user"], user);
            assert_eq!(seen["x-forwarded-access-group"], group);
        }
    }
}

#[tokio::test]
async fn forged_altered_and_misdirected_tokens_are_refused() {
    if !oauth::available() {
        return;
    }
    let op = OidcProvider::start().await;
    let gw = gateway_for(&op).await;
    let good = op.client_credentials(API, "orders.read").await;
    let (header, payload) = parts(&good);
    let signature = good.rsplit('.').next().unwrap();

    // Altered: another subject under the issuer's signature.
    let mut other = payload.clone();
    other["sub"] = json!("admin");
    let tampered = format!("{}.{}.{signature}", encode(&header), encode(&other));
    assert_invalid_token(
        &get(&gw, "/api/orders", &format!("Bearer {tampered}")).await,
        "signature does not verify",
    );

    // Issued by the real issuer, for another audience.
    let elsewhere = op
        .client_credentials("https://other.example.com", "orders.read")
        .await;
    assert_invalid_token(
        &get(&gw, "/api/orders", &format!("Bearer {elsewhere}")).await,
        "not for this audience",
    );

    // alg none.
    let mut none = header.clone();
    none["alg"] = json!("none");
    let unsigned = format!("{}.{}.", encode(&none), encode(&payload));
    assert_invalid_token(
        &get(&gw, "/api/orders", &format!("Bearer {unsigned}")).await,
        "algorithm is not accepted",
    );

    // HS256 keyed with the issuer's public key (the algorithm-confusion attack).
    let jwks = op.jwks().await;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap();
    let n = BigNum::from_slice(&B64URL.decode(jwk["n"].as_str().unwrap()).unwrap()).unwrap();
    let e = BigNum::from_slice(&B64URL.decode(jwk["e"].as_str().unwrap()).unwrap()).unwrap();
    let public_pem = Rsa::from_public_components(n, e)
        .unwrap()
        .public_key_to_pem()
        .unwrap();
    let mut hs = header.clone();
    hs["alg"] = json!("HS256");
    let input = format!("{}.{}", encode(&hs), encode(&payload));
    let mut mac = Signer::new(MessageDigest::sha256(), &PKey::hmac(&public_pem).unwrap()).unwrap();
    mac.update(input.as_bytes()).unwrap();
    let hs256 = format!("{input}.{}", B64URL.encode(mac.sign_to_vec().unwrap()));
    assert_invalid_token(
        &get(&gw, "/api/orders", &format!("Bearer {hs256}")).await,
        "algorithm is not accepted",
    );

    // Signed by a key the issuer never published, named in the header (kid, and an embedded
    // jwk and a jku pointing at the attacker's key): keys come from the issuer's set only.
    let attacker = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let rsa = attacker.rsa().unwrap();
    let mut forged_header = header.clone();
    forged_header["kid"] = json!("attacker-key");
    forged_header["jku"] = json!("http://127.0.0.1:9/jwks");
    forged_header["jwk"] = json!({"kty": "RSA", "kid": "attacker-key",
        "n": B64URL.encode(rsa.n().to_vec()), "e": B64URL.encode(rsa.e().to_vec())});
    let input = format!("{}.{}", encode(&forged_header), encode(&payload));
    let mut signer = Signer::new(MessageDigest::sha256(), &attacker).unwrap();
    signer.update(input.as_bytes()).unwrap();
    let forged = format!("{input}.{}", B64URL.encode(signer.sign_to_vec().unwrap()));
    assert_invalid_token(
        &get(&gw, "/api/orders", &format!("Bearer {forged}")).await,
        "signing key is not known",
    );
    // The attacker's key under the issuer's real kid: the signature does not verify.
    let mut real_kid = forged_header.clone();
    real_kid["kid"] = header["kid"].clone();
    let input = format!("{}.{}", encode(&real_kid), encode(&payload));
    let mut signer = Signer::new(MessageDigest::sha256(), &attacker).unwrap();
    signer.update(input.as_bytes()).unwrap();
    let forged = format!("{input}.{}", B64URL.encode(signer.sign_to_vec().unwrap()));
    assert_invalid_token(
        &get(&gw, "/api/orders", &format!("Bearer {forged}")).await,
        "signature does not verify",
    );

    // Not a JWT at all.
    assert_invalid_token(
        &get(&gw, "/api/orders", "Bearer not-a-jwt").await,
        "malformed",
    );

    // Expired: past exp (300 s) and the clock skew (180 s). The token verified (and was
    // cached) before; the cache does not outlive it.
    let fresh = op.client_credentials(API, "orders.read").await;
    backend_saw(&get(&gw, "/api/orders", &format!("Bearer {fresh}")).await);
    gw.advance(Duration::seconds(300 + 180 + 1));
    assert_invalid_token(
        &get(&gw, "/api/orders", &format!("Bearer {fresh}")).await,
        "expired",
    );
    assert!(
        gw.metric(
            "samlgate_oauth_tokens_refused_total",
            &[("issuer", "op"), ("reason", "expired")]
        ) >= 1.0
    );
}

#[tokio::test]
async fn scopes_and_route_credentials_get_rfc6750_answers() {
    if !oauth::available() {
        return;
    }
    let op = OidcProvider::start().await;
    let gw = gateway_for(&op).await;
    let reader = op.client_credentials(API, "orders.read").await;
    let admin = op.client_credentials(API, "orders.read admin").await;

    let refused = get(&gw, "/api/admin/users", &format!("Bearer {reader}")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let challenge = refused.header("www-authenticate").unwrap();
    assert!(
        challenge.starts_with("Bearer error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.ends_with("scope=\"admin\""), "{challenge}");

    let allowed = get(&gw, "/api/admin/users", &format!("Bearer {admin}")).await;
    assert_eq!(backend_saw(&allowed)["x-forwarded-user"], "svc-secret");

    // The bearer-only route asked without a token: 401 with the bare challenge, no login.
    let anonymous = Browser::new(&gw.base).get("/api/admin/users").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));

    // A path that takes sessions only (not under api_prefixes): refused, never redirected.
    let browser_path = get(&gw, "/app", &format!("Bearer {reader}")).await;
    assert_eq!(browser_path.status, StatusCode::BAD_REQUEST);
    assert!(browser_path.header("location").is_none());
    assert!(
        browser_path
            .header("www-authenticate")
            .unwrap()
            .contains("invalid_request")
    );
    // A malformed bearer request, even where bearer tokens are taken.
    let malformed = get(&gw, "/api/orders", "Bearer a b").await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_rotated_key_works_on_its_first_request_and_unknown_kids_fail_fast() {
    if !oauth::available() {
        return;
    }
    let mut op = OidcProvider::start().await;
    let gw = gateway_for(&op).await;
    let before = op.client_credentials(API, "orders.read").await;
    backend_saw(&get(&gw, "/api/orders", &format!("Bearer {before}")).await);
    let fetches = |trigger| {
        gw.metric(
            "samlgate_oauth_jwks_fetches_total",
            &[("issuer", "op"), ("trigger", trigger)],
        )
    };
    assert_eq!(fetches("scheduled"), 1.0);
    assert_eq!(fetches("unknown_kid"), 0.0);

    op.restart_with_new_keys().await;
    let after = op.client_credentials(API, "orders.read").await;
    assert_ne!(parts(&after).0["kid"], parts(&before).0["kid"]);
    let seen = backend_saw(&get(&gw, "/api/orders", &format!("Bearer {after}")).await);
    assert_eq!(seen["x-forwarded-user"], "svc-secret");
    assert_eq!(fetches("unknown_kid"), 1.0);

    // The old key is gone from the set: its tokens are refused (the verified-token cache was
    // emptied with the new keys), and no second fetch happens within 10 s.
    assert_invalid_token(
        &get(&gw, "/api/orders", &format!("Bearer {before}")).await,
        "signing key is not known",
    );
    assert_eq!(fetches("unknown_kid"), 1.0);
    // Ten seconds later (the gateway's clock), one more fetch is allowed.
    gw.advance(Duration::seconds(11));
    assert_invalid_token(
        &get(&gw, "/api/orders", &format!("Bearer {before}")).await,
        "signing key is not known",
    );
    assert_eq!(fetches("unknown_kid"), 2.0);
}

/// `samlgate verify --token FILE ...`: (exit code, stdout, stderr).
fn verify_token(token: &str, args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token.jwt");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_samlgate"))
        .arg("verify")
        .arg("--token")
        .arg(&file)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn verify_token_names_the_failed_check_and_the_values() {
    if !oauth::available() {
        return;
    }
    let op = OidcProvider::start().await;
    let token = op.client_credentials(API, "orders.read").await;
    let flags = ["--oauth-issuer", op.issuer.as_str(), "--audience", API];

    let (code, stdout, stderr) = verify_token(&token, &flags);
    assert_eq!(code, 0, "{stderr}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["subject"], "svc-secret");
    assert_eq!(out["scopes"], json!(["orders.read"]));

    // Expired: both instants and the skew.
    let exp = parts(&token).1["exp"].as_i64().unwrap();
    let later = time::OffsetDateTime::from_unix_timestamp(exp + 181)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (code, _, stderr) = verify_token(&token, &[&flags[..], &["--now", &later]].concat());
    assert_eq!(code, 1);
    assert!(stderr.starts_with("rejected [expired]"), "{stderr}");
    assert!(stderr.contains(&format!("exp {exp}")), "{stderr}");
    assert!(stderr.contains("clock skew allowed 180s"), "{stderr}");

    // Another audience: both, character for character.
    let (code, _, stderr) = verify_token(
        &token,
        &[
            "--oauth-issuer",
            &op.issuer,
            "--audience",
            "https://api.example.com/",
        ],
    );
    assert_eq!(code, 1);
    assert!(stderr.starts_with("rejected [audience]"), "{stderr}");
    assert!(
        stderr.contains(r#"["https://api.example.com"], ours ["https://api.example.com/"]"#),
        "{stderr}"
    );

    // A scope missing.
    let (code, _, stderr) = verify_token(&token, &[&flags[..], &["--scope", "admin"]].concat());
    assert_eq!(code, 1);
    assert!(stderr.starts_with("rejected [scope]"), "{stderr}");
    assert!(stderr.contains("missing [\"admin\"]"), "{stderr}");

    // An unknown kid: the kids the fetched set has.
    let (header, payload) = parts(&token);
    let mut other = header.clone();
    other["kid"] = json!("gone");
    let signature = token.rsplit('.').next().unwrap();
    let unknown = format!("{}.{}.{signature}", encode(&other), encode(&payload));
    let (code, _, stderr) = verify_token(&unknown, &flags);
    assert_eq!(code, 1);
    assert!(stderr.starts_with("rejected [unknown_key]"), "{stderr}");
    assert!(stderr.contains(header["kid"].as_str().unwrap()), "{stderr}");

    // With the gateway's configuration: its [[oauth]] table and mapping.
    let gw = gateway_for(&op).await;
    let user = op
        .user_token("alice", API, "orders.read", &["Admins"])
        .await;
    let config = gw.config_path.to_str().unwrap();
    let (code, stdout, stderr) = verify_token(&user, &["--config", config]);
    assert_eq!(code, 0, "{stderr}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["operator"]["id"], "alice");
    assert_eq!(out["operator"]["access_group"], "MyOrg:Administrators");
}

/// `/saml/auth` as nginx's `auth_request` calls it, with the client's `Authorization`.
async fn forward_auth(gw: &Gateway, original_uri: &str, authorization: &str) -> Reply {
    Browser::new(&gw.base)
        .get_with(
            "/saml/auth",
            &[
                ("x-original-uri", original_uri),
                ("authorization", authorization),
            ],
        )
        .await
}

#[tokio::test]
async fn forward_auth_decides_bearer_tokens_as_the_proxy_does() {
    if !oauth::available() {
        return;
    }
    let op = OidcProvider::start().await;
    let gw = gateway_for(&op).await;
    let reader = op.client_credentials(API, "orders.read").await;
    let admin = op.client_credentials(API, "orders.read admin").await;

    // A valid token: 200 with its operator's identity headers, for the proxy to pass on.
    let ok = forward_auth(&gw, "/api/orders?page=2", &format!("Bearer {reader}")).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.header("x-forwarded-user"), Some("svc-secret"));
    assert_eq!(
        ok.header("x-forwarded-access-group"),
        Some("MyOrg:RestrictedReadOnly")
    );
    assert_eq!(ok.header("cache-control"), Some("no-store"));

    // Altered under the issuer's signature: 401 invalid_token with its challenge, no login.
    let (header, payload) = parts(&reader);
    let signature = reader.rsplit('.').next().unwrap();
    let mut other = payload.clone();
    other["sub"] = json!("admin");
    let tampered = format!("{}.{}.{signature}", encode(&header), encode(&other));
    let refused = forward_auth(&gw, "/api/orders", &format!("Bearer {tampered}")).await;
    assert_invalid_token(&refused, "signature does not verify");
    assert!(refused.header("x-forwarded-user").is_none());

    // The route rules apply to the original URI, with the token's scopes.
    let short = forward_auth(&gw, "/api/admin/users", &format!("Bearer {reader}")).await;
    assert_eq!(short.status, StatusCode::FORBIDDEN, "{}", short.body);
    assert!(
        short
            .header("www-authenticate")
            .unwrap_or_default()
            .starts_with("Bearer error=\"insufficient_scope\"")
    );
    assert!(short.header("x-forwarded-user").is_none());
    let scoped = forward_auth(&gw, "/api/admin/users", &format!("Bearer {admin}")).await;
    assert_eq!(scoped.status, StatusCode::OK, "{}", scoped.body);
    assert_eq!(scoped.header("x-forwarded-user"), Some("svc-secret"));

    // A path that takes sessions only: 400 invalid_request, never 200 and never a login.
    let browser_path = forward_auth(&gw, "/app", &format!("Bearer {reader}")).await;
    assert_eq!(browser_path.status, StatusCode::BAD_REQUEST);
    assert!(browser_path.header("x-forwarded-user").is_none());

    // The original URI is still read strictly before any token is looked at.
    let unreadable = forward_auth(&gw, "/api/../admin", &format!("Bearer {admin}")).await;
    assert_eq!(unreadable.status, StatusCode::BAD_REQUEST);
    assert!(unreadable.header("x-forwarded-user").is_none());

    // Each answer counted by its result.
    let metrics = Browser::new(&gw.base).get("/metrics").await.body;
    for result in ["ok", "unauthorized", "forbidden", "bad_request"] {
        assert!(
            metrics.contains(&format!(
                "samlgate_forward_auth_total{{result=\"{result}\"}}"
            )),
            "{result}: {metrics}"
        );
    }
}

/// A WebSocket opened with a bearer token is closed once the gateway would refuse the token.
#[tokio::test]
async fn a_websocket_opened_with_a_token_is_closed_when_the_token_expires() {
    use crate::support::websocket::{closes, echoes, open_socket_with};
    if !oauth::available() {
        return;
    }
    let op = OidcProvider::start().await;
    let ws = "[[route]]\npath = \"/ws\"\nauth = [\"bearer\"]\n";
    let gw = gateway_before(&op, gateway::echo_backend().await, ws).await;
    let token = op.client_credentials(API, "orders.read").await;
    let mut socket = open_socket_with(&gw.base, "authorization", &format!("Bearer {token}")).await;
    echoes(&mut socket, "while the token holds").await;
    let exp = parts(&token).1["exp"].as_i64().unwrap();
    // Past `exp` and the default clock skew.
    gw.advance(time::Duration::seconds(
        exp - gw.now().unix_timestamp() + 301,
    ));
    closes(&mut socket).await;
}
