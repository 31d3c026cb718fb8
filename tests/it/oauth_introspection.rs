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

/// A certificate for `cn` signed by `ca` (itself when `None`: the CA), with the extensions a
/// TLS peer checks: a CA, a server for 127.0.0.1, or a client.
fn certificate(
    cn: &str,
    key: &PKey<openssl::pkey::Private>,
    ca: Option<(&openssl::x509::X509, &PKey<openssl::pkey::Private>)>,
    role: &str,
) -> openssl::x509::X509 {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::x509::extension::{
        BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    };
    use openssl::x509::{X509, X509NameBuilder};
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let serial: u32 = rand::random();
    b.set_serial_number(&BigNum::from_u32(serial).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(ca.map_or(&name, |(c, _)| c.subject_name()))
        .unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    match role {
        "ca" => {
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            b.append_extension(KeyUsage::new().critical().key_cert_sign().build().unwrap())
                .unwrap();
        }
        "server" => {
            b.append_extension(BasicConstraints::new().build().unwrap())
                .unwrap();
            b.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap())
                .unwrap();
            let san = SubjectAlternativeName::new()
                .ip("127.0.0.1")
                .build(&b.x509v3_context(ca.map(|(c, _)| c.as_ref()), None))
                .unwrap();
            b.append_extension(san).unwrap();
        }
        _ => {
            b.append_extension(BasicConstraints::new().build().unwrap())
                .unwrap();
            b.append_extension(ExtendedKeyUsage::new().client_auth().build().unwrap())
                .unwrap();
        }
    }
    b.sign(ca.map_or(key, |(_, k)| k), MessageDigest::sha256())
        .unwrap();
    b.build()
}

fn pem_key(key: &PKey<openssl::pkey::Private>) -> String {
    String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap()
}

fn pem_cert(cert: &openssl::x509::X509) -> String {
    String::from_utf8(cert.to_pem().unwrap()).unwrap()
}

#[tokio::test]
async fn tls_client_auth_authenticates_the_gateway_with_its_certificate() {
    if !oauth::available() {
        return;
    }
    let new_key = || PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let (ca_key, server_key, client_key, stranger_key) =
        (new_key(), new_key(), new_key(), new_key());
    let ca = certificate("samlgate test CA", &ca_key, None, "ca");
    let server = certificate("127.0.0.1", &server_key, Some((&ca, &ca_key)), "server");
    let client = certificate("gw-mtls", &client_key, Some((&ca, &ca_key)), "client");
    // The right name, from a CA the issuer does not trust.
    let stranger = certificate("gw-mtls", &stranger_key, None, "client");
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let mtls_port = crate::support::free_port();
    let op = OidcProvider::start_with(&[
        ("MTLS_PORT", mtls_port.to_string()),
        ("MTLS_KEY", write("server.key", pem_key(&server_key))),
        ("MTLS_CERT", write("server.crt", pem_cert(&server))),
        ("MTLS_CA", write("ca.crt", pem_cert(&ca))),
    ])
    .await;
    let token = op.user_token("dave", OPAQUE, "orders.read", &[]).await;
    let start = |cert: &openssl::x509::X509, key: &PKey<openssl::pkey::Private>| {
        let issuer = op.issuer.clone();
        let files = vec![
            ("client.crt".to_string(), pem_cert(cert)),
            ("client.key".to_string(), pem_key(key)),
            ("ca.crt".to_string(), pem_cert(&ca)),
        ];
        async move {
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
introspection_endpoint = "https://127.0.0.1:{mtls_port}/token/introspection"
client_id = "gw-mtls"
client_auth = "tls_client_auth"
client_cert = "client.crt"
client_key = "client.key"
introspection_ca = "ca.crt"
"#
                ),
                ..Setup::default()
            })
            .await
        }
    };
    let gw = start(&client, &client_key).await;
    assert_eq!(user_of(&get(&gw, &token).await).0, "dave");
    assert_eq!(calls(&gw, "active"), 1.0);

    let gw = start(&stranger, &stranger_key).await;
    let reply = get(&gw, &token).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(calls(&gw, "error"), 1.0);
}
