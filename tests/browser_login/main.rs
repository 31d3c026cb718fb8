//! Logins in a real browser against a real third-party IdP with a login form: Debian's
//! chromium (headless, driven over WebDriver) and SimpleSAMLphp 1.19 served by PHP on loopback.
//!
//! - `browser_logs_in_through_simplesamlphp_and_out_again`: the whole login through the
//!   gateway (in this process, in front of the echo backend), logout, and the access rules;
//! - `simplesamlphp_login_form_yields_responses_samlgate_verifies`: SimpleSAMLphp's signed,
//!   encrypted and unsigned Responses posted by the browser to a tiny ACS stub running
//!   `samlgate::saml::response::validate`, then each first-login misconfiguration replayed on
//!   them (docs/connecting-your-idp.md quotes the messages).
//!
//! Every process is started by the test on a free port and stopped at its end; each step is
//! saved as a PNG under build/browser/<test>/.
//!
//! Needs `scripts/install-test-deps` (chromium, chromium-driver, php-cli, simplesamlphp);
//! without them each test prints why and skips (fails under CI=true).

//!
//! A binary of its own: the first test installs a global tracing subscriber (samlgate=debug),
//! which would reach every test sharing its process.

mod browser;
mod simplesamlphp;
#[path = "../it/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path, State};
use axum::response::Html;
use axum::routing::post;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};
use samlgate::crypto::keys::{DecryptionKey, VerificationKey};
use samlgate::saml::metadata::parse_idp_metadata;
use samlgate::saml::policy::{ExpectedRequest, IdpPolicy, SpIdentity};
use samlgate::saml::response::validate;
use samlgate::saml::{Rejection, VerifiedAssertion};
use time::OffsetDateTime;

use browser::Browser;
use simplesamlphp::{ADMIN_USER, STAFF_USER, SimpleSamlPhp};

/// Whether the browser and the IdP can run; prints why not (and fails under CI=true).
fn peers_present(test: &str) -> bool {
    let missing: Vec<String> = [browser::available(), simplesamlphp::available()]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = missing.join("; ");
    support::require(test, Err(why))
}

/// A fresh RSA key pair with a self-signed certificate, PEM.
fn key_pair(cn: &str) -> (Vec<u8>, X509) {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(7).unwrap())
        .unwrap();
    let serial = openssl::bn::BigNum::from_u32(1)
        .unwrap()
        .to_asn1_integer()
        .unwrap();
    b.set_serial_number(&serial).unwrap();
    b.sign(&key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    (key.private_key_to_pem_pkcs8().unwrap(), b.build())
}

fn cert_base64(cert: &X509) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(cert.to_der().unwrap())
}

/// SP metadata as an admin would hand it to the IdP: entityID, one HTTP-POST ACS, the SP
/// certificate for signing and encryption.
fn sp_metadata(entity_id: &str, acs_url: &str, cert: &X509) -> String {
    let c = cert_base64(cert);
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">
  <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs_url}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"#
    )
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What the ACS stub received for one SP, and what samlgate's pipeline made of it.
struct Captured {
    saml_response: String,
    result: Result<VerifiedAssertion, Rejection>,
}

/// A tiny ACS: `POST /acs/{sp}` runs `samlgate::saml::response::validate` for that SP and
/// shows the outcome, so the browser's last page says what samlgate decided.
struct AcsStub {
    idp: IdpPolicy,
    sps: HashMap<String, SpIdentity>,
    captured: Mutex<HashMap<String, Captured>>,
}

async fn acs(
    State(stub): State<Arc<AcsStub>>,
    Path(sp): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Html<String> {
    let Some(identity) = stub.sps.get(&sp) else {
        return Html(format!("unknown SP {}", html_escape(&sp)));
    };
    let Some(saml_response) = form.get("SAMLResponse").cloned() else {
        return Html("no SAMLResponse in the form".into());
    };
    let result = validate(
        saml_response.as_bytes(),
        &stub.idp,
        identity,
        ExpectedRequest::Unsolicited,
        OffsetDateTime::now_utc(),
    );
    let page = match &result {
        Ok(v) => {
            let attrs: String = v
                .claims
                .attributes
                .iter()
                .map(|a| {
                    format!(
                        "<li>{}: {}</li>",
                        html_escape(&a.name),
                        html_escape(&a.values.join(", "))
                    )
                })
                .collect();
            format!(
                "<h1>samlgate verified the Response</h1><p>NameID: {}</p><p>signed: response={} assertion={}; encrypted={}</p><ul>{attrs}</ul>",
                html_escape(&v.claims.name_id.value),
                v.signed.response,
                v.signed.assertion,
                v.was_encrypted
            )
        }
        Err(e) => format!(
            "<h1>samlgate refused the Response</h1><p>{}: {}</p>",
            e.kind(),
            html_escape(&e.to_string())
        ),
    };
    stub.captured.lock().unwrap().insert(
        sp,
        Captured {
            saml_response,
            result,
        },
    );
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>ACS stub</title>{page}"
    ))
}

fn values<'a>(v: &'a VerifiedAssertion, name: &'a str) -> Vec<&'a str> {
    v.claims.values(name).collect()
}

/// SimpleSAMLphp's login form, then its signed Responses through samlgate's ACS pipeline:
/// a signed one verifies with the identity the IdP holds (UTF-8 display name intact), an
/// encrypted one decrypts and verifies, an unsigned one is refused as unsigned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simplesamlphp_login_form_yields_responses_samlgate_verifies() {
    const TEST: &str = "simplesamlphp_login_form_yields_responses_samlgate_verifies";
    if !peers_present(TEST) {
        return;
    }
    let idp = SimpleSamlPhp::start();
    let metadata = parse_idp_metadata(idp.metadata_xml.as_bytes(), "SimpleSAMLphp", None)
        .unwrap_or_else(|e| panic!("{e}\n{}", idp.metadata_xml));
    assert_eq!(metadata.entity_id, idp.entity_id());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let acs_base = format!("http://{}", listener.local_addr().unwrap());
    let (sp_key, sp_cert) = key_pair("samlgate browser test SP");
    let decryption_key = DecryptionKey::from_pem(&sp_key, "test SP key").unwrap();
    // One SP entity per way SimpleSAMLphp can answer, each with its own ACS path.
    let variants = [
        ("signed", r#"{"simplesaml.nameidattribute": "uid"}"#),
        (
            "encrypted",
            r#"{"simplesaml.nameidattribute": "uid", "assertion.encryption": true}"#,
        ),
        (
            "unsigned",
            r#"{"simplesaml.nameidattribute": "uid", "saml20.sign.response": false, "saml20.sign.assertion": false}"#,
        ),
    ];
    let mut sps = HashMap::new();
    for (name, options) in variants {
        let entity_id = format!("{acs_base}/sp/{name}");
        let acs_url = format!("{acs_base}/acs/{name}");
        idp.add_sp(&sp_metadata(&entity_id, &acs_url, &sp_cert), options);
        sps.insert(
            name.to_string(),
            SpIdentity {
                entity_id,
                acs_url,
                decryption_keys: vec![decryption_key.clone()],
            },
        );
    }
    let stub = Arc::new(AcsStub {
        idp: IdpPolicy::new(metadata.entity_id.clone(), metadata.signing_keys.clone()),
        sps,
        captured: Mutex::new(HashMap::new()),
    });
    let app = axum::Router::new()
        .route("/acs/{sp}", post(acs))
        .with_state(stub.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let b = Browser::start(TEST).await;
    // IdP-initiated: SimpleSAMLphp asks for the password first.
    b.goto(&idp.idp_initiated_url(&format!("{acs_base}/sp/signed")))
        .await;
    b.wait_for_url(&format!(
        "{}/module.php/core/loginuserpass.php",
        idp.base_url()
    ))
    .await;
    b.wait_for_text("Enter your username and password").await;
    b.screenshot("idp-login-form").await;
    b.fill("#username", ADMIN_USER.0).await;
    b.fill("#password", ADMIN_USER.1).await;
    b.screenshot("credentials-typed").await;
    b.click("#submit_button").await;
    // The IdP's auto-submitting form posts the Response to the ACS stub.
    b.wait_for_url(&format!("{acs_base}/acs/signed")).await;
    let page = b.wait_for_text("samlgate").await;
    b.screenshot("acs-signed").await;
    assert!(
        page.contains("samlgate verified the Response") && page.contains("José Müller"),
        "ACS page: {page}\n{}",
        idp.logs()
    );
    // The IdP session now exists: the next SPs get their Response without a form.
    for name in ["encrypted", "unsigned"] {
        b.goto(&idp.idp_initiated_url(&format!("{acs_base}/sp/{name}")))
            .await;
        b.wait_for_url(&format!("{acs_base}/acs/{name}")).await;
        b.wait_for_text("samlgate").await;
        b.screenshot(&format!("acs-{name}")).await;
    }
    b.close().await;

    let captured = stub.captured.lock().unwrap();
    let signed = match &captured["signed"].result {
        Ok(v) => v,
        Err(e) => panic!("signed Response refused: {e}\n{}", idp.logs()),
    };
    assert_eq!(signed.claims.idp_entity_id, idp.entity_id());
    assert_eq!(signed.claims.name_id.value, "student");
    assert_eq!(values(signed, "mail"), ["student@example.org"]);
    assert_eq!(values(signed, "displayName"), ["José Müller"]);
    assert_eq!(values(signed, "groups"), ["Admins", "Students"]);
    assert!(signed.signed.response && signed.signed.assertion);
    assert!(!signed.was_encrypted);
    assert!(signed.in_response_to.is_none());

    let encrypted = match &captured["encrypted"].result {
        Ok(v) => v,
        Err(e) => panic!("encrypted Response refused: {e}\n{}", idp.logs()),
    };
    assert!(encrypted.was_encrypted, "SimpleSAMLphp did not encrypt");
    assert!(encrypted.signed.assertion);
    assert_eq!(encrypted.claims.name_id.value, "student");
    assert_eq!(values(encrypted, "displayName"), ["José Müller"]);

    match &captured["unsigned"].result {
        Err(e) => assert_eq!(e.kind(), "unsigned", "{e}"),
        Ok(v) => panic!("an unsigned Response was accepted: {v:?}"),
    }

    refuses_each_misconfiguration(
        &captured["signed"].saml_response,
        &captured["encrypted"].saml_response,
        &stub.idp,
        &stub.sps["signed"],
        &stub.sps["encrypted"],
    );
}

/// The first-login mistakes an admin makes, replayed on SimpleSAMLphp's real Responses:
/// each is refused with the check that names it (docs/connecting-your-idp.md quotes these).
fn refuses_each_misconfiguration(
    signed_b64: &str,
    encrypted_b64: &str,
    idp: &IdpPolicy,
    sp: &SpIdentity,
    encrypted_sp: &SpIdentity,
) {
    let now = OffsetDateTime::now_utc();
    let check = |what: &str,
                 b64: &str,
                 idp: &IdpPolicy,
                 sp: &SpIdentity,
                 now: OffsetDateTime,
                 kind: &str| {
        match validate(b64.as_bytes(), idp, sp, ExpectedRequest::Unsolicited, now) {
            Ok(_) => panic!("{what}: accepted"),
            Err(e) => {
                println!("{what}: [{}] {e}", e.kind());
                assert_eq!(e.kind(), kind, "{what}: {e}");
            }
        }
    };

    // The SP entityID entered at the IdP differs from samlgate's [sp] entity_id.
    let other_entity = SpIdentity {
        entity_id: "https://app.example.com/saml/metadata".into(),
        ..sp.clone()
    };
    check(
        "SP entityID differs",
        signed_b64,
        idp,
        &other_entity,
        now,
        "audience_mismatch",
    );

    // The ACS URL entered at the IdP differs from samlgate's public_url + /saml/acs.
    let other_acs = SpIdentity {
        acs_url: "https://app.example.com/saml/acs".into(),
        ..sp.clone()
    };
    check(
        "ACS URL differs",
        signed_b64,
        idp,
        &other_acs,
        now,
        "destination_mismatch",
    );

    // samlgate's clock runs ahead of the IdP's by more than the assertion lifetime + skew.
    // SimpleSAMLphp's assertions live 5 minutes: 10 minutes later the bearer confirmation
    // has expired (even with the 180 s skew), though the Response is not yet too old.
    check(
        "clock 10 minutes ahead",
        signed_b64,
        idp,
        sp,
        now + time::Duration::minutes(10),
        "expired",
    );
    check(
        "clock 15 minutes ahead",
        signed_b64,
        idp,
        sp,
        now + time::Duration::minutes(15),
        "issued_too_long_ago",
    );
    check(
        "clock 10 minutes behind",
        signed_b64,
        idp,
        sp,
        now - time::Duration::minutes(10),
        "issued_in_future",
    );

    // The metadata samlgate holds carries another certificate (the IdP rolled its key).
    let (_, stale_cert) = key_pair("an old IdP certificate");
    let stale = IdpPolicy::new(
        idp.entity_id.clone(),
        vec![VerificationKey::from_certificate(stale_cert, "stale metadata").unwrap()],
    );
    let e = validate(
        signed_b64.as_bytes(),
        &stale,
        sp,
        ExpectedRequest::Unsolicited,
        now,
    )
    .expect_err("a Response signed by a key the metadata does not hold was accepted");
    println!("IdP certificate rolled: [{}] {e}", e.kind());
    assert_eq!(e.category(), "signature", "{e}");

    // samlgate was given another IdP's metadata (or the IdP's entityID changed).
    let other_idp = IdpPolicy {
        entity_id: "https://idp.example.org/idp/shibboleth".into(),
        ..idp.clone()
    };
    check(
        "IdP entityID differs",
        signed_b64,
        &other_idp,
        sp,
        now,
        "issuer_mismatch",
    );

    // The IdP encrypts to a certificate whose key samlgate no longer has.
    let (other_key, _) = key_pair("a key the IdP does not know");
    let wrong_key = SpIdentity {
        decryption_keys: vec![DecryptionKey::from_pem(&other_key, "wrong SP key").unwrap()],
        ..encrypted_sp.clone()
    };
    check(
        "SP key not the one the IdP encrypts to",
        encrypted_b64,
        idp,
        &wrong_key,
        now,
        "decryption_failed",
    );
}

/// The mapping the gateway applies to SimpleSAMLphp's users: NameID (uid) is the operator,
/// `Admins` are administrators, everyone else is read-only.
const MAPPING: &str = r#"
[operator]
id = "NameID"

[attributes]
email = "mail"
name = "displayName"

[access]
groups = ["groups"]
default = "MyOrg:RestrictedReadOnly"

[[access.rule]]
group = "Admins"
access_group = "MyOrg:Administrators"
"#;

/// A gateway in this process on a free port, in front of the echo backend, trusting `idp`.
struct Gateway {
    base: String,
    state: Arc<samlgate::gateway::AppState>,
    _dir: tempfile::TempDir,
}

async fn start_gateway(idp: &SimpleSamlPhp) -> Gateway {
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let echo_addr = echo.local_addr().unwrap();
    tokio::spawn(samlgate::demo::echo::serve_echo(echo));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (sp_key, sp_cert) = key_pair("samlgate browser test SP");
    std::fs::write(dir.path().join("sp.key"), sp_key).unwrap();
    std::fs::write(dir.path().join("sp.crt"), sp_cert.to_pem().unwrap()).unwrap();
    std::fs::write(dir.path().join("idp.xml"), &idp.metadata_xml).unwrap();
    std::fs::write(dir.path().join("mapping.toml"), MAPPING).unwrap();
    let config = format!(
        r#"
[server]
listen = "{listen}"
public_url = "{base}"

[sp]
entity_id = "{base}/saml/metadata"
key = "sp.key"
cert = "sp.crt"

[[idp]]
name = "simplesamlphp"
metadata = "idp.xml"
mapping = "mapping.toml"

[backend]
url = "http://{echo_addr}"

[[route]]
path = "/admin"
require_access_group = ["MyOrg:Administrators"]
"#,
        listen = listener.local_addr().unwrap(),
    );
    let path = dir.path().join("samlgate.toml");
    std::fs::write(&path, config).unwrap();
    let loaded = samlgate::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let (router, state) =
        samlgate::gateway::build(loaded.config, samlgate::gateway::system_clock()).unwrap();
    tokio::spawn(async move { samlgate::server::serve_on(listener, router).await });
    Gateway {
        base,
        state,
        _dir: dir,
    }
}

/// The identity rows of the echo backend's page: header name -> decoded value. Every value as
/// sent must be ASCII (the header contract encodes the rest).
async fn identity_headers(b: &Browser) -> HashMap<String, String> {
    let rows = b
        .client
        .execute(
            "return Array.from(document.querySelectorAll('tr.identity'))
                 .map(r => [r.cells[0].innerText, r.cells[1].innerText, r.cells[2].innerText]);",
            vec![],
        )
        .await
        .expect("read the echo page");
    serde_json::from_value::<Vec<(String, String, String)>>(rows)
        .expect("rows of [name, as sent, decoded]")
        .into_iter()
        .map(|(name, sent, decoded)| {
            assert!(sent.is_ascii(), "{name} was sent as non-ASCII: {sent:?}");
            (name.to_ascii_lowercase(), decoded)
        })
        .collect()
}

/// The whole login in a browser: a protected page sends the browser to SimpleSAMLphp's login
/// form, the IdP posts back through samlgate's ACS, and the echo backend shows the mapped
/// identity headers (UTF-8 name decoded); the Sign out button ends the session and, by Single
/// Logout, the IdP's (opening `/saml/logout` alone ends nothing), so the IdP asks for the
/// password again; signing out at the IdP ends the sessions of two gateways; and a user without
/// `Admins` gets the default access group and is kept out of /admin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_logs_in_through_simplesamlphp_and_out_again() {
    const TEST: &str = "browser_logs_in_through_simplesamlphp_and_out_again";
    if !peers_present(TEST) {
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter("samlgate=debug")
        .with_test_writer()
        .try_init();
    let idp = SimpleSamlPhp::start();
    let gw = start_gateway(&idp).await;
    // The admin's step: hand samlgate's SP metadata to the IdP.
    let port = gw.state.config.server.listen.port();
    let (status, sp_metadata) =
        tokio::task::spawn_blocking(move || simplesamlphp::http_get(port, "/saml/metadata"))
            .await
            .unwrap()
            .expect("GET /saml/metadata");
    assert_eq!(status, 200, "{sp_metadata}");
    // samlgate acts only on signed logout messages: SimpleSAMLphp signs them for this SP.
    idp.add_sp(
        &sp_metadata,
        r#"{"simplesaml.nameidattribute": "uid", "sign.logout": true}"#,
    );
    let metric = |name: &'static str| gw.state.metrics.get(name, &[("idp", "simplesamlphp")]);
    let login_form = format!("{}/module.php/core/loginuserpass.php", idp.base_url());
    let app = format!("{}/app/hello?lang=de", gw.base);

    let b = Browser::start(TEST).await;
    // 1. A protected page without a session: to the IdP's login form.
    b.goto(&app).await;
    b.wait_for_url(&login_form).await;
    b.wait_for_text("Enter your username and password").await;
    b.screenshot("idp-login-form").await;
    b.fill("#username", ADMIN_USER.0).await;
    b.fill("#password", ADMIN_USER.1).await;
    b.screenshot("credentials-typed").await;
    b.click("#submit_button").await;

    // 2. Back through the ACS to the page first asked for, with the identity headers.
    b.wait_for_url(&app).await;
    b.wait_for_text("What the backend received").await;
    let ids = identity_headers(&b).await;
    // Wide enough for the long cookie and accept values, so the decoded column shows.
    b.client.set_window_size(2000, 900).await.expect("resize");
    b.client
        .execute(
            "document.querySelector('tr.identity').scrollIntoView()",
            vec![],
        )
        .await
        .expect("scroll to the identity headers");
    b.screenshot("backend-sees-identity").await;
    b.client.set_window_size(1100, 900).await.expect("resize");
    assert_eq!(
        ids.get("x-forwarded-user").map(String::as_str),
        Some("student"),
        "{ids:?}"
    );
    assert_eq!(
        ids.get("x-forwarded-email").map(String::as_str),
        Some("student@example.org"),
        "{ids:?}"
    );
    assert_eq!(
        ids.get("x-forwarded-name").map(String::as_str),
        Some("José Müller"),
        "{ids:?}"
    );
    assert_eq!(
        ids.get("x-forwarded-access-group").map(String::as_str),
        Some("MyOrg:Administrators"),
        "{ids:?}"
    );
    let groups = ids.get("x-forwarded-groups").cloned().unwrap_or_default();
    assert!(
        groups.contains("Admins") && groups.contains("Students"),
        "{ids:?}"
    );
    assert_eq!(metric("samlgate_logins_total"), 1.0);

    b.goto(&format!("{}/admin/", gw.base)).await;
    b.wait_for_text("What the backend received").await;

    // 3. Logout with the Sign out button of the page (a same-origin POST): the session is
    // gone, and Single Logout takes the browser to SimpleSAMLphp (whose metadata offers a
    // SingleLogoutService) with a signed LogoutRequest; its signed LogoutResponse comes back to
    // /saml/slo, and the final page says the IdP session ended too.
    b.click("#sign-out").await;
    let page = b.wait_for_text("signed out").await;
    b.screenshot("signed-out-everywhere").await;
    assert!(
        page.contains("and of your identity provider"),
        "{page}\n{}",
        idp.logs()
    );
    assert_eq!(
        gw.state.metrics.get("samlgate_logouts_total", &[]),
        1.0,
        "the button's POST carried the browser's own Origin"
    );
    assert_eq!(
        gw.state.metrics.get(
            "samlgate_single_logouts_total",
            &[("idp", "simplesamlphp"), ("started_by", "sp")]
        ),
        1.0
    );
    // ... so the protected page goes to the IdP again, which asks for the password again.
    b.goto(&app).await;
    b.wait_for_url(&login_form).await;
    b.wait_for_text("Enter your username and password").await;
    b.screenshot("idp-login-form-after-single-logout").await;
    b.fill("#username", ADMIN_USER.0).await;
    b.fill("#password", ADMIN_USER.1).await;
    b.click("#submit_button").await;
    b.wait_for_url(&app).await;
    b.wait_for_text("What the backend received").await;
    assert_eq!(metric("samlgate_logins_total"), 2.0);

    // 4. Opening /saml/logout ends nothing by itself: it shows the button.
    b.goto(&format!("{}/saml/logout", gw.base)).await;
    b.wait_for_text("Sign out of this application?").await;
    b.screenshot("sign-out-page").await;
    b.goto(&app).await;
    b.wait_for_text("What the backend received").await;
    assert_eq!(
        metric("samlgate_logins_total"),
        2.0,
        "still the same session"
    );

    // 4b. The other direction: a second gateway (another SP at the same IdP) signs the browser
    // in without a form (the IdP session), then the user signs out at SimpleSAMLphp. It sends
    // each SP a signed LogoutRequest through the browser; both gateways end their sessions and
    // answer, and SimpleSAMLphp returns to where it was asked to.
    let gw2 = start_gateway(&idp).await;
    let port2 = gw2.state.config.server.listen.port();
    let (status, sp2_metadata) =
        tokio::task::spawn_blocking(move || simplesamlphp::http_get(port2, "/saml/metadata"))
            .await
            .unwrap()
            .expect("GET /saml/metadata");
    assert_eq!(status, 200, "{sp2_metadata}");
    idp.add_sp(
        &sp2_metadata,
        r#"{"simplesaml.nameidattribute": "uid", "sign.logout": true}"#,
    );
    let app2 = format!("{}/app/second", gw2.base);
    b.goto(&app2).await;
    b.wait_for_url(&app2).await;
    b.wait_for_text("What the backend received").await;
    b.screenshot("second-sp-signed-in").await;
    let done = format!("{}/healthz", gw.base);
    let return_to: String = url::form_urlencoded::byte_serialize(done.as_bytes()).collect();
    b.goto(&format!(
        "{}/saml2/idp/SingleLogoutService.php?ReturnTo={return_to}",
        idp.base_url()
    ))
    .await;
    b.wait_for_url(&done).await;
    let idp_started = [("idp", "simplesamlphp"), ("started_by", "idp")];
    for (name, g) in [("first", &gw), ("second", &gw2)] {
        assert_eq!(
            g.state
                .metrics
                .get("samlgate_single_logouts_total", &idp_started),
            1.0,
            "the {name} gateway was not asked to sign out\n{}",
            idp.logs()
        );
    }
    // Both gateways' sessions are gone and so is the IdP's: the password is asked again.
    b.goto(&app2).await;
    b.wait_for_url(&login_form).await;
    b.goto(&app).await;
    b.wait_for_url(&login_form).await;
    b.wait_for_text("Enter your username and password").await;
    b.screenshot("idp-login-form-after-logout").await;

    // 5. Someone without Admins: the mapping's default access group, and /admin refused.
    b.fill("#username", STAFF_USER.0).await;
    b.fill("#password", STAFF_USER.1).await;
    b.click("#submit_button").await;
    b.wait_for_url(&app).await;
    b.wait_for_text("What the backend received").await;
    let ids = identity_headers(&b).await;
    assert_eq!(
        ids.get("x-forwarded-user").map(String::as_str),
        Some("employee"),
        "{ids:?}"
    );
    assert_eq!(
        ids.get("x-forwarded-access-group").map(String::as_str),
        Some("MyOrg:RestrictedReadOnly"),
        "{ids:?}"
    );
    b.goto(&format!("{}/admin/", gw.base)).await;
    let page = b.wait_for_text("Access denied").await;
    b.screenshot("admin-refused").await;
    assert!(page.contains("does not have access"), "{page}");
    assert!(page.contains("signed in as employee"), "{page}");
    assert!(
        page.contains("needs the access group MyOrg:Administrators"),
        "{page}"
    );
    assert!(page.contains("Yours is MyOrg:RestrictedReadOnly"), "{page}");
    // Its button signs out, so another account can sign in.
    b.click("#switch-user").await;
    b.wait_for_text("signed out").await;
    b.close().await;
}
