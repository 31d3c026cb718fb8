//! Login with several IdPs (chooser, `?idp=`) and with an IdP that offers only HTTP-POST.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hyper::StatusCode;

use crate::support;
use crate::support::free_port;
use crate::support::gateway::*;

const POST_ONLY_IDP: &str = "https://post-only.example.net/idp";

fn post_only_metadata() -> String {
    support::test_idp::metadata_xml()
        .replace(support::test_idp::IDP, POST_ONLY_IDP)
        .replace(
            "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://idp.example.org/sso\"",
            "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"https://post-only.example.net/sso\"",
        )
}

fn two_idps() -> Setup {
    Setup {
        files: vec![("second.xml".into(), post_only_metadata())],
        extra_toml:
            "[[idp]]\nname = \"partner\"\nmetadata = \"second.xml\"\nmapping = \"mapping.toml\"\n"
                .into(),
        ..Setup::default()
    }
}

fn input_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).map(|i| i + marker.len()).unwrap();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].replace("&amp;", "&")
}

#[tokio::test]
async fn with_several_idps_an_unauthenticated_browser_gets_a_chooser() {
    let gw = start(two_idps()).await;
    let mut browser = Browser::new(&gw.base);
    let page = browser.get("/app/x?y=1").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("/saml/login?idp=corp&amp;return_to=%2Fapp%2Fx%3Fy%3D1"),
        "{}",
        page.body
    );
    assert!(page.body.contains("/saml/login?idp=partner&amp;"));
    let chosen = browser
        .get("/saml/login?idp=corp&return_to=%2Fapp%2Fx")
        .await;
    assert_eq!(chosen.status, StatusCode::FOUND);
    assert!(
        chosen
            .location()
            .starts_with("https://idp.example.org/sso?")
    );
    let unknown = browser.get("/saml/login?idp=nobody").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_post_only_idp_gets_a_signed_auto_submitting_form() {
    let gw = start(two_idps()).await;
    let mut browser = Browser::new(&gw.base);
    let page = browser
        .get("/saml/login?idp=partner&return_to=%2Freports")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("action=\"https://post-only.example.net/sso\"")
    );
    assert!(page.body.contains("document.forms[0].submit()"));
    let xml =
        String::from_utf8(B64.decode(input_value(&page.body, "SAMLRequest")).unwrap()).unwrap();
    let doc = samlgate::xml::parse(xml.as_bytes(), &samlgate::xml::ParseLimits::default()).unwrap();
    assert!(doc.root().is(samlgate::xml::ns::SAMLP, "AuthnRequest"));
    assert_eq!(
        doc.root().attr("Destination"),
        Some("https://post-only.example.net/sso")
    );
    let sp_key =
        samlgate::crypto::keys::VerificationKey::from_certificate(gw.sp_cert.clone(), "sp")
            .unwrap();
    let verified =
        samlgate::crypto::dsig::verify(&doc, doc.root(), std::slice::from_ref(&sp_key), false);
    assert!(
        verified.is_ok(),
        "the POST AuthnRequest must carry a valid enveloped signature: {verified:?}"
    );

    // The POST-only IdP answers; the login completes for that IdP.
    let request_id = doc.root().attr("ID").unwrap().to_string();
    let mut spec = response_spec(&gw, Some(&request_id), "dana@partner.example", &[]);
    spec.idp_entity_id = POST_ONLY_IDP.to_string();
    let done = browser
        .post_acs(
            &signed_b64(&spec),
            Some(&input_value(&page.body, "RelayState")),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/reports");
    assert_eq!(
        gw.metric("samlgate_logins_total", &[("idp", "partner")]),
        1.0
    );
}

#[tokio::test]
async fn a_response_from_the_other_idp_does_not_complete_a_login_started_with_one() {
    let gw = start(two_idps()).await;
    let mut browser = Browser::new(&gw.base);
    let page = browser.get("/saml/login?idp=partner").await;
    let xml =
        String::from_utf8(B64.decode(input_value(&page.body, "SAMLRequest")).unwrap()).unwrap();
    let doc = samlgate::xml::parse(xml.as_bytes(), &samlgate::xml::ParseLimits::default()).unwrap();
    let request_id = doc.root().attr("ID").unwrap().to_string();
    // Same key, but issued as the corp IdP: the partner login expects the partner's Issuer.
    let spec = response_spec(&gw, Some(&request_id), "dana@partner.example", &[]);
    let done = browser
        .post_acs(
            &signed_b64(&spec),
            Some(&input_value(&page.body, "RelayState")),
        )
        .await;
    assert_eq!(done.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let gw = start(Setup::default()).await;
    let mut browser = Browser::new(&gw.base);
    assert_eq!(browser.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(browser.get("/readyz").await.status, StatusCode::OK);
    let m = browser.get("/metrics").await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(
        m.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    assert!(
        m.body.contains(
            "samlgate_certificate_expiry_timestamp_seconds{owner=\"sp\",use=\"current\"}"
        )
    );
}

#[tokio::test]
async fn an_encrypted_assertion_is_decrypted_with_the_configured_sp_key() {
    use samlgate::crypto::encrypt::{EncryptionOptions, encrypt_assertion};
    use samlgate::saml::issue::SignParts;
    let gw = start(Setup::default()).await;
    let mut browser = Browser::new(&gw.base);
    let start = browser.get("/app").await;
    let req = read_redirect_request(start.location());
    let spec = response_spec(&gw, Some(&req.id), "erin@example.com", &[]);
    let signer = support::test_idp::signer();
    let assertion = signer.signed_assertion(&spec).unwrap();
    let encrypted = encrypt_assertion(
        assertion.as_bytes(),
        &gw.sp_cert,
        &EncryptionOptions::default(),
    )
    .unwrap();
    let response = signer.response(&spec, SignParts::None).unwrap();
    let plain_assertion = spec.assertion_xml();
    assert!(response.contains(&plain_assertion));
    let response = response.replace(&plain_assertion, &encrypted);
    let done = browser
        .post_acs(&B64.encode(response), req.relay_state.as_deref())
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let auth = browser
        .get_with("/saml/auth", &[("x-original-uri", "/app")])
        .await;
    assert_eq!(auth.header("x-forwarded-user"), Some("erin@example.com"));
}

#[tokio::test]
async fn metrics_listen_moves_metrics_off_the_public_listener() {
    let (port, metrics_port) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup {
        server_extra: format!("metrics_listen = \"127.0.0.1:{metrics_port}\""),
        ..Setup::default()
    };
    let (config_path, _) = write_config(dir.path(), port, &setup);
    let mut child = spawn_serve(&config_path, false);
    let mut public = Browser::new(&format!("http://127.0.0.1:{port}"));
    let mut internal = Browser::new(&format!("http://127.0.0.1:{metrics_port}"));
    wait_listening(&[metrics_port, port]).await;
    let metrics = internal.get("/metrics").await;
    let on_public = public.get("/metrics").await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics
            .body
            .contains("samlgate_certificate_expiry_timestamp_seconds")
    );
    // On the public listener /metrics is an ordinary path now: it belongs to the backend,
    // behind a login like any other.
    assert_eq!(on_public.status, StatusCode::FOUND, "{}", on_public.body);
    assert!(!on_public.body.contains("samlgate_"));
}
