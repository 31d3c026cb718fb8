//! The signed identity token, verified by PyJWT (a JOSE library nobody here wrote, pinned in
//! build/venv) against the gateway's `/.well-known/jwks.json`: accepted as sent on a proxied
//! request and on a forward-auth answer; refused when tampered with, for another audience, or
//! expired; a client-sent token never reaches the backend; a key rollover through `next_key`
//! keeps a backend that fetched the JWK Set before it verifying.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::StatusCode;
use serde_json::{Value, json};
use time::Duration;

use crate::support;
use crate::support::gateway::*;
use crate::support::peers::repo_root;
use crate::support::test_idp::IDP;

const AUDIENCE: &str = "https://app.example.com";
const HEADER: &str = "x-forwarded-identity-token";

fn python() -> Option<std::path::PathBuf> {
    let python = repo_root().join("build/venv/bin/python");
    let status = Command::new(&python)
        .args(["-c", "import jwt, cryptography"])
        .status()
        .map_err(|e| format!("{}: {e}", python.display()))
        .and_then(|s| {
            s.success()
                .then_some(())
                .ok_or_else(|| "PyJWT is not importable from build/venv".to_string())
        });
    support::require("PyJWT in build/venv (scripts/install-test-deps)", status).then_some(python)
}

/// A private key made by the openssl CLI: `ec` (P-256) or `rsa` (2048 bits).
fn openssl_key(dir: &Path, name: &str, kind: &str) -> String {
    let path = dir.join(name);
    let opts: &[&str] = match kind {
        "ec" => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        _ => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    };
    let out = Command::new("openssl")
        .arg("genpkey")
        .args(opts)
        .arg("-out")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    path.display().to_string()
}

fn setup(backend: &str, token_toml: &str) -> Setup {
    Setup {
        backend: Some(backend.to_string()),
        extra_toml: format!(
            "[identity_token]\nenabled = true\naudience = \"{AUDIENCE}\"\n{token_toml}"
        ),
        ..Setup::default()
    }
}

/// PyJWT's verdict on `token`: `Ok(claims)` or `Err(exception class)`.
fn verify(
    python: &Path,
    jwks: &Value,
    token: &str,
    audience: &str,
    algs: &[&str],
    verify_exp: bool,
) -> Result<Value, String> {
    let mut child = Command::new(python)
        .arg(repo_root().join("tests/interop/jwt_verify.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let query = json!({
        "jwks": jwks, "token": token, "audience": audience, "issuer": SP_ENTITY,
        "algorithms": algs, "verify_exp": verify_exp,
    });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(query.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "jwt_verify.py failed");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    match (answer.get("ok"), answer.get("refused")) {
        (Some(claims), _) => Ok(claims.clone()),
        (_, Some(kind)) => Err(kind.as_str().unwrap().to_owned()),
        _ => panic!("unexpected answer {answer}"),
    }
}

async fn jwks(browser: &mut Browser) -> Value {
    let reply = browser.get("/.well-known/jwks.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("content-type"),
        Some("application/jwk-set+json")
    );
    serde_json::from_str(&reply.body).unwrap()
}

/// Every value the backend received under the token header (any case, `_` form).
async fn tokens_at_backend(browser: &mut Browser, extra: &[(&str, &str)]) -> Vec<String> {
    let reply = browser.get_with("/json", extra).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let echoed: Value = serde_json::from_str(&reply.body).unwrap();
    echoed["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pair| pair[0].as_str().unwrap().replace('_', "-") == HEADER)
        .map(|pair| pair[1].as_str().unwrap().to_owned())
        .collect()
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn pyjwt_accepts_the_token_and_refuses_tampered_foreign_and_expired_ones() {
    let Some(python) = python() else { return };
    if !support::require_tool("openssl") {
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let a = openssl_key(keys.path(), "a.pem", "ec");
    let b = openssl_key(keys.path(), "b.pem", "ec");
    let backend = echo_backend().await;
    let gw = start(setup(
        &backend,
        &format!("key = \"{a}\"\nnext_key = \"{b}\"\n"),
    ))
    .await;
    let mut browser = Browser::new(&gw.base);
    let reply = login(&gw, &mut browser, "/json", "alice@example.com", &["Admins"]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let jwks = jwks(&mut browser).await;
    assert_eq!(kids(&jwks).len(), 2, "current and next key: {jwks}");

    // Forged copies sent by the client (every spelling) are gone; ours is the only one.
    let forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.";
    let tokens = tokens_at_backend(
        &mut browser,
        &[(HEADER, forged), ("X_Forwarded_Identity_Token", forged)],
    )
    .await;
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    let token = tokens[0].clone();
    assert_ne!(token, forged);

    let claims = verify(&python, &jwks, &token, AUDIENCE, &["ES256"], true).unwrap();
    assert_eq!(claims["sub"], "alice@example.com");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["name"], "Alice Example");
    assert_eq!(claims["groups"], json!(["Admins"]));
    assert_eq!(claims["access_group"], "MyOrg:Administrators");
    assert_eq!(claims["idp"], IDP);
    assert_eq!(claims["iss"], SP_ENTITY);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        60
    );

    // Signed once per session: the next request carries the same token.
    assert_eq!(
        tokens_at_backend(&mut browser, &[]).await,
        vec![token.clone()]
    );

    // Claims changed under the same signature.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut forged_claims = claims.clone();
    forged_claims["access_group"] = json!("MyOrg:Root");
    parts[1] = URL_SAFE_NO_PAD.encode(forged_claims.to_string());
    let tampered = parts.join(".");
    assert_eq!(
        verify(&python, &jwks, &tampered, AUDIENCE, &["ES256"], true),
        Err("InvalidSignatureError".into())
    );
    // The same token presented to another application.
    assert_eq!(
        verify(
            &python,
            &jwks,
            &token,
            "https://other.example.com",
            &["ES256"],
            true
        ),
        Err("InvalidAudienceError".into())
    );
    // alg confusion: a verifier pinned to RS256 refuses it.
    assert!(verify(&python, &jwks, &token, AUDIENCE, &["RS256"], true).is_err());

    // Forward-auth answers carry a token too.
    let auth = browser
        .get_with("/saml/auth", &[("x-original-uri", "/app")])
        .await;
    assert_eq!(auth.status, StatusCode::OK);
    let from_auth = auth
        .header(HEADER)
        .expect("token on the forward-auth answer");
    assert_eq!(
        verify(&python, &jwks, from_auth, AUDIENCE, &["ES256"], true).unwrap()["sub"],
        "alice@example.com"
    );
}

#[tokio::test]
async fn an_expired_rs256_token_is_refused_by_pyjwt() {
    let Some(python) = python() else { return };
    if !support::require_tool("openssl") {
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let r = openssl_key(keys.path(), "r.pem", "rsa");
    let backend = echo_backend().await;
    let gw = start(setup(
        &backend,
        &format!("key = \"{r}\"\nalgorithm = \"RS256\"\n"),
    ))
    .await;
    // The gateway lives an hour in the past: its tokens expired long before PyJWT reads them.
    gw.advance(Duration::hours(-1));
    let mut browser = Browser::new(&gw.base);
    login(&gw, &mut browser, "/json", "bob@example.com", &[]).await;
    let jwks = jwks(&mut browser).await;
    let tokens = tokens_at_backend(&mut browser, &[]).await;
    assert_eq!(tokens.len(), 1);
    // Signature and claims are sound (checked with the expiry left out)...
    let claims = verify(&python, &jwks, &tokens[0], AUDIENCE, &["RS256"], false).unwrap();
    assert_eq!(claims["sub"], "bob@example.com");
    assert_eq!(claims["groups"], json!([]));
    // ...and the expired token is refused.
    assert_eq!(
        verify(&python, &jwks, &tokens[0], AUDIENCE, &["RS256"], true),
        Err("ExpiredSignatureError".into())
    );
}

#[tokio::test]
async fn after_a_rollover_a_backend_verifies_with_the_jwks_it_fetched_before() {
    let Some(python) = python() else { return };
    if !support::require_tool("openssl") {
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        openssl_key(keys.path(), "a.pem", "ec"),
        openssl_key(keys.path(), "b.pem", "ec"),
        openssl_key(keys.path(), "c.pem", "ec"),
    );
    let backend = echo_backend().await;
    let before = start(setup(
        &backend,
        &format!("key = \"{a}\"\nnext_key = \"{b}\"\n"),
    ))
    .await;
    let jwks_before = jwks(&mut Browser::new(&before.base)).await;

    // The rollover: b becomes the key, c is announced.
    let after = start(setup(
        &backend,
        &format!("key = \"{b}\"\nnext_key = \"{c}\"\n"),
    ))
    .await;
    let mut browser = Browser::new(&after.base);
    login(&after, &mut browser, "/json", "carol@example.com", &[]).await;
    let jwks_after = jwks(&mut browser).await;
    assert_eq!(
        kids(&jwks_after)[0],
        kids(&jwks_before)[1],
        "the next key became the key"
    );
    let token = tokens_at_backend(&mut browser, &[]).await.remove(0);
    assert_eq!(
        verify(&python, &jwks_before, &token, AUDIENCE, &["ES256"], true).unwrap()["sub"],
        "carol@example.com"
    );
    // A JWK Set without the new key does not verify it.
    let only_a = json!({"keys": [jwks_before["keys"][0]]});
    assert!(verify(&python, &only_a, &token, AUDIENCE, &["ES256"], true).is_err());
}

/// `check`'s reading of an `[identity_token]` section: every problem, with its key.
fn problems(token_toml: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_config(
        dir.path(),
        8080,
        &Setup {
            extra_toml: format!("[identity_token]\n{token_toml}"),
            ..Setup::default()
        },
    );
    match samlgate::config::load(&path) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect(),
    }
}

#[test]
fn check_refuses_an_identity_token_it_could_not_make_or_that_would_clash() {
    if !support::require_tool("openssl") {
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let ec = openssl_key(keys.path(), "ec.pem", "ec");
    let rsa = openssl_key(keys.path(), "rsa.pem", "rsa");
    let missing = problems("enabled = true");
    assert!(
        missing
            .iter()
            .any(|p| p.starts_with("identity_token.key: required")),
        "{missing:?}"
    );
    assert!(
        missing
            .iter()
            .any(|p| p.starts_with("identity_token.audience: required")),
        "{missing:?}"
    );
    let wrong_type = problems(&format!(
        "enabled = true\naudience = \"a\"\nkey = \"{rsa}\""
    ));
    assert!(
        wrong_type
            .iter()
            .any(|p| p.starts_with("identity_token.key:") && p.contains("cannot sign ES256")),
        "{wrong_type:?}"
    );
    let clash = problems(&format!(
        "enabled = true\naudience = \"a\"\nkey = \"{ec}\"\nheader = \"X_Forwarded_User\""
    ));
    assert!(
        clash
            .iter()
            .any(|p| p.starts_with("identity_token.header:")),
        "{clash:?}"
    );
    let same = problems(&format!(
        "enabled = true\naudience = \"a\"\nkey = \"{ec}\"\nnext_key = \"{ec}\""
    ));
    assert!(
        same.iter()
            .any(|p| p.starts_with("identity_token.next_key:")),
        "{same:?}"
    );
    let long = problems(&format!(
        "enabled = true\naudience = \"a\"\nkey = \"{ec}\"\nlifetime = \"2h\""
    ));
    assert!(
        long.iter()
            .any(|p| p.starts_with("identity_token.lifetime:")),
        "{long:?}"
    );
    let unknown = problems("enabled = true\nverify = false");
    assert!(
        unknown
            .iter()
            .any(|p| p.starts_with("identity_token.verify: unknown key")),
        "{unknown:?}"
    );
    assert_eq!(
        problems(&format!("enabled = true\naudience = \"a\"\nkey = \"{ec}\"")),
        Vec::<String>::new()
    );
}

/// An API client's bearer token (issue 19) gets the identity token too: PyJWT verifies it with
/// the same JWK Set, its subject is the token's mapped operator and its `idp` the token's
/// issuer; a second request with the same access token carries the same identity token (signed
/// once, cached with the verified access token).
#[tokio::test]
async fn a_bearer_request_carries_an_identity_token_pyjwt_verifies() {
    use crate::support::oauth::{self, OidcProvider};
    let Some(python) = python() else { return };
    if !support::require_tool("openssl") || !oauth::available() {
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let a = openssl_key(keys.path(), "a.pem", "ec");
    let op = OidcProvider::start().await;
    let backend = oauth::header_echo().await;
    let mut setup = setup(&backend, &format!("key = \"{a}\"\n"));
    setup.extra_toml.push_str(&format!(
        "\n[[oauth]]\nname = \"op\"\nissuer = \"{}\"\naudience = \"https://api.example.com\"\nmapping = \"mapping.toml\"\n",
        op.issuer
    ));
    let gw = start(setup).await;
    let access = op
        .client_credentials("https://api.example.com", "orders.read")
        .await;
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let reply = Browser::new(&gw.base)
            .get_with(
                "/api/orders",
                &[("authorization", &format!("Bearer {access}"))],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let echoed: Value = serde_json::from_str(&reply.body).unwrap();
        let token = echoed["headers"][HEADER].as_str().unwrap().to_owned();
        tokens.push(token);
    }
    assert_eq!(tokens[0], tokens[1], "signed once, then cached");
    let jwks = jwks(&mut Browser::new(&gw.base)).await;
    let claims = verify(&python, &jwks, &tokens[0], AUDIENCE, &["ES256"], true).unwrap();
    assert_eq!(claims["sub"], "svc-secret");
    assert_eq!(claims["idp"], op.issuer.as_str());
    assert_eq!(claims["access_group"], "MyOrg:RestrictedReadOnly");
}
