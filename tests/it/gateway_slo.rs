//! Single Logout through a running gateway: the IdP's LogoutRequest at `/saml/slo` (both
//! bindings) ends that user's sessions and is answered with a signed LogoutResponse (checked
//! here with OpenSSL directly, not with samlgate's verifier); the security rules (unsigned or
//! wrongly signed ends nothing, another IdP's user ends nothing, a replay ends nothing, RelayState
//! never sends the browser off-site); sign-out at the gateway taking a LogoutRequest to the IdP
//! and the IdP's answer bound to that browser; an IdP without SLO; two nodes on one Redis.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hyper::{Method, StatusCode};
use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use openssl::x509::X509;
use samlgate::gateway::{AppState, system_clock};
use samlgate::saml::NameId;
use samlgate::saml::issue::{ResponseSpec, SignParts};
use samlgate::saml::logout::binding::{InboundKind, SigningKey, encode, redirect_url};
use samlgate::saml::logout::{LogoutRequest, LogoutResponse, LogoutStatus, Outbound};
use samlgate::saml::metadata::Binding;
use time::{Duration, OffsetDateTime};
use tokio::net::TcpListener;

use crate::support::gateway::{
    Browser, Gateway, SP_ENTITY, Setup, echo_backend, query_param, read_redirect_request, start,
    write_config,
};
use crate::support::redis::RedisServer;
use crate::support::test_idp::{self, IDP, KeyPair};

pub const IDP_SLO_REDIRECT: &str = "https://idp.example.org/slo/redirect";
pub const IDP_SLO_POST: &str = "https://idp.example.org/slo/post";
const UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
const OTHER_IDP: &str = "https://other-idp.example.net/saml";

/// IdP metadata for `entity_id` signed by `keys`, with SLO endpoints for both bindings.
pub fn metadata_with_slo(entity_id: &str, keys: &KeyPair) -> String {
    let cert = B64.encode(keys.cert.to_der().unwrap());
    format!(
        concat!(
            "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" ",
            "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{idp}\">",
            "<md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">",
            "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}",
            "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
            "<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" ",
            "Location=\"{redirect}\"/>",
            "<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" ",
            "Location=\"{post}\"/>",
            "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" ",
            "Location=\"https://idp.example.org/sso\"/>",
            "</md:IDPSSODescriptor></md:EntityDescriptor>"
        ),
        idp = entity_id,
        cert = cert,
        redirect = IDP_SLO_REDIRECT,
        post = IDP_SLO_POST,
    )
}

fn slo_setup() -> Setup {
    Setup {
        files: vec![(
            "idp.xml".into(),
            metadata_with_slo(IDP, test_idp::idp_keys()),
        )],
        ..Setup::default()
    }
}

/// A second IdP, "other", whose signing key is the test's attacker key.
fn two_idp_setup() -> Setup {
    let mut setup = slo_setup();
    setup.files.push((
        "other.xml".into(),
        metadata_with_slo(OTHER_IDP, test_idp::attacker_keys()),
    ));
    setup.extra_toml =
        "[[idp]]\nname = \"other\"\nmetadata = \"other.xml\"\nmapping = \"mapping.toml\"\n".into();
    setup
}

/// SP-initiated login; returns the Response spec the IdP answered with.
async fn login(
    gw_now: OffsetDateTime,
    public: &str,
    browser: &mut Browser,
    name_id: &str,
) -> ResponseSpec {
    let start = browser.get("/saml/login?idp=corp&return_to=/app").await;
    assert_eq!(start.status, StatusCode::FOUND, "{}", start.body);
    let req = read_redirect_request(start.location());
    let mut spec = ResponseSpec::new(
        IDP,
        SP_ENTITY,
        &format!("{public}/saml/acs"),
        name_id,
        gw_now,
    );
    spec.in_response_to = Some(req.id.clone());
    spec.attributes = vec![("mail".to_string(), vec![name_id.to_string()])];
    let done = browser
        .post_acs(
            &B64.encode(test_idp::signed(&spec, SignParts::Both)),
            req.relay_state.as_deref(),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    spec
}

/// Who forward-auth says this browser is, or the status when nobody.
async fn whoami(browser: &mut Browser) -> Result<String, StatusCode> {
    let r = browser
        .get_with("/saml/auth", &[("x-original-uri", "/app")])
        .await;
    match r.status {
        StatusCode::OK => Ok(r.header("x-forwarded-user").unwrap_or("").to_string()),
        other => Err(other),
    }
}

/// The IdP's LogoutRequest for `name_id` (Format unspecified, as the test IdP asserts it).
fn logout_request(
    issuer: &str,
    destination: &str,
    name_id: &str,
    session_index: Option<&str>,
    now: OffsetDateTime,
) -> LogoutRequest {
    LogoutRequest {
        id: samlgate::saml::request::new_request_id(),
        issue_instant: now,
        destination: destination.to_string(),
        issuer: issuer.to_string(),
        not_on_or_after: Some(now + Duration::minutes(5)),
        name_id: NameId {
            value: name_id.to_string(),
            format: Some(UNSPECIFIED.to_string()),
            name_qualifier: None,
            sp_name_qualifier: None,
        },
        session_index: session_index.map(str::to_string),
        encrypted_id: None,
    }
}

/// The IdP's signed LogoutRequest for `name_id`, by HTTP-Redirect, from a browser without a
/// session (the IdP's front channel); the gateway's answer.
async fn idp_logs_out(gw: &Gateway, name_id: &str) -> crate::support::gateway::Reply {
    let request = logout_request(
        IDP,
        &format!("{}/saml/slo", gw.base),
        name_id,
        None,
        gw.now(),
    );
    Browser::new(&gw.base)
        .get(&redirect_path(
            &request.to_xml(),
            None,
            Some(test_idp::idp_keys()),
        ))
        .await
}

/// `/saml/slo?...` for an HTTP-Redirect LogoutRequest, signed by `keys` when given.
fn redirect_path(xml: &str, relay: Option<&str>, keys: Option<&KeyPair>) -> String {
    let url = redirect_url(
        "http://gateway/saml/slo",
        InboundKind::Request,
        xml,
        relay,
        keys.map(|k| &*k.key),
    )
    .unwrap();
    format!("/saml/slo?{}", url.split_once('?').unwrap().1)
}

/// The form body for an HTTP-POST LogoutRequest, enveloped-signed by `keys` when given.
fn post_body(xml: &str, relay: Option<&str>, keys: Option<&KeyPair>) -> String {
    let signing = keys.map(|k| SigningKey {
        key: &k.key,
        certificate: Some(&k.cert),
    });
    let Outbound::Post(page) = encode(
        &Binding::HttpPost,
        "http://gateway/saml/slo",
        InboundKind::Request,
        xml,
        relay,
        signing,
    )
    .unwrap() else {
        panic!("POST gave a redirect")
    };
    form_of(&page)
}

/// The hidden fields of an auto-submitting form page, as a form body.
fn form_of(page: &str) -> String {
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    for name in ["SAMLRequest", "SAMLResponse", "RelayState"] {
        let marker = format!("name=\"{name}\" value=\"");
        if let Some((_, rest)) = page.split_once(&marker) {
            let value = rest.split_once('"').unwrap().0;
            body.append_pair(name, &html_unescape(value));
        }
    }
    body.finish()
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn form_field(body: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Check an HTTP-Redirect message's query-string signature with OpenSSL and `cert` (the
/// gateway's SP certificate), over the raw query up to `&Signature=`; returns the inflated XML.
fn verified_redirect_xml(location: &str, param: &str, cert: &X509) -> String {
    let query = location.split_once('?').unwrap().1;
    let (signed, signature) = query.split_once("&Signature=").expect("signed");
    assert!(signed.starts_with(&format!("{param}=")), "{signed}");
    assert_eq!(
        query_param(location, "SigAlg").as_deref(),
        Some("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    );
    let signature = B64
        .decode(
            url::form_urlencoded::parse(format!("s={signature}").as_bytes())
                .next()
                .unwrap()
                .1
                .as_bytes(),
        )
        .unwrap();
    let public = cert.public_key().unwrap();
    let mut verifier = Verifier::new(MessageDigest::sha256(), &public).unwrap();
    verifier.update(signed.as_bytes()).unwrap();
    assert!(
        verifier.verify(&signature).unwrap(),
        "signature does not verify"
    );
    let deflated = B64.decode(query_param(location, param).unwrap()).unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice())
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

fn attr<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let marker = format!(" {name}=\"");
    let (_, rest) = xml.split_once(&marker)?;
    rest.split_once('"').map(|(v, _)| v)
}

#[tokio::test]
async fn an_idp_logout_request_by_redirect_ends_that_users_sessions_and_is_answered_signed() {
    let gw = start(slo_setup()).await;
    let mut alice = Browser::new(&gw.base);
    let mut alice_elsewhere = Browser::new(&gw.base);
    let mut bob = Browser::new(&gw.base);
    login(gw.now(), &gw.base, &mut alice, "alice@example.com").await;
    login(
        gw.now(),
        &gw.base,
        &mut alice_elsewhere,
        "alice@example.com",
    )
    .await;
    login(gw.now(), &gw.base, &mut bob, "bob@example.com").await;
    assert_eq!(whoami(&mut alice).await, Ok("alice@example.com".into()));

    let request = logout_request(
        IDP,
        &format!("{}/saml/slo", gw.base),
        "alice@example.com",
        None,
        gw.now(),
    );
    let relay = "idp-state/with?odd=chars&x=1";
    let mut idp_side = Browser::new(&gw.base);
    let answer = idp_side
        .get(&redirect_path(
            &request.to_xml(),
            Some(relay),
            Some(test_idp::idp_keys()),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let location = answer.location().to_string();
    assert!(
        location.starts_with(&format!("{IDP_SLO_REDIRECT}?SAMLResponse=")),
        "{location}"
    );
    assert_eq!(query_param(&location, "RelayState").as_deref(), Some(relay));
    let xml = verified_redirect_xml(&location, "SAMLResponse", &gw.sp_cert);
    assert_eq!(attr(&xml, "InResponseTo"), Some(request.id.as_str()));
    assert_eq!(attr(&xml, "Destination"), Some(IDP_SLO_REDIRECT));
    assert!(
        xml.contains("urn:oasis:names:tc:SAML:2.0:status:Success"),
        "{xml}"
    );
    assert!(
        xml.contains(&format!(">{SP_ENTITY}</saml:Issuer>")),
        "{xml}"
    );

    // Both of alice's sessions are gone; bob's is not.
    assert_eq!(whoami(&mut alice).await, Err(StatusCode::UNAUTHORIZED));
    assert_eq!(
        whoami(&mut alice_elsewhere).await,
        Err(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(whoami(&mut bob).await, Ok("bob@example.com".into()));
    assert_eq!(
        gw.metric(
            "samlgate_single_logouts_total",
            &[("idp", "corp"), ("started_by", "idp")]
        ),
        1.0
    );
}

/// A WebSocket tunnel lasts no longer than its session, ended by the IdP too.
#[tokio::test]
async fn an_idp_logout_request_closes_that_users_websocket() {
    use crate::support::websocket::{closes, echoes, open_socket};
    let gw = start(Setup {
        backend: Some(echo_backend().await),
        ..slo_setup()
    })
    .await;
    let mut alice = Browser::new(&gw.base);
    login(gw.now(), &gw.base, &mut alice, "alice@example.com").await;
    let mut socket = open_socket(&gw.base, &alice.cookies).await;
    echoes(&mut socket, "before the IdP's logout").await;
    let answer = idp_logs_out(&gw, "alice@example.com").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    closes(&mut socket).await;
}

#[tokio::test]
async fn a_session_index_ends_only_that_login() {
    let gw = start(slo_setup()).await;
    let mut first = Browser::new(&gw.base);
    let mut second = Browser::new(&gw.base);
    let spec = login(gw.now(), &gw.base, &mut first, "alice@example.com").await;
    login(gw.now(), &gw.base, &mut second, "alice@example.com").await;
    let request = logout_request(
        IDP,
        &format!("{}/saml/slo", gw.base),
        "alice@example.com",
        Some(&spec.session_index),
        gw.now(),
    );
    let answer = Browser::new(&gw.base)
        .get(&redirect_path(
            &request.to_xml(),
            None,
            Some(test_idp::idp_keys()),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(whoami(&mut first).await, Err(StatusCode::UNAUTHORIZED));
    assert_eq!(whoami(&mut second).await, Ok("alice@example.com".into()));
}

#[tokio::test]
async fn an_idp_logout_request_by_post_is_answered_by_post() {
    let gw = start(slo_setup()).await;
    let mut alice = Browser::new(&gw.base);
    login(gw.now(), &gw.base, &mut alice, "alice@example.com").await;
    let request = logout_request(
        IDP,
        &format!("{}/saml/slo", gw.base),
        "alice@example.com",
        None,
        gw.now(),
    );
    let answer = Browser::new(&gw.base)
        .send(
            Method::POST,
            "/saml/slo",
            &[],
            Some(post_body(
                &request.to_xml(),
                Some("rs-1"),
                Some(test_idp::idp_keys()),
            )),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(
        answer.body.contains(&format!("action=\"{IDP_SLO_POST}\"")),
        "{}",
        answer.body
    );
    let form = form_of(&answer.body);
    assert_eq!(form_field(&form, "RelayState").as_deref(), Some("rs-1"));
    let xml = String::from_utf8(
        B64.decode(form_field(&form, "SAMLResponse").unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(attr(&xml, "InResponseTo"), Some(request.id.as_str()));
    assert!(
        xml.contains("<ds:Signature"),
        "the LogoutResponse is signed: {xml}"
    );
    // Its enveloped signature verifies with xmlsec1 when installed (an outside verifier).
    if let Some(xmlsec1) = crate::support::find_tool("xmlsec1") {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.xml"), &xml).unwrap();
        std::fs::write(dir.path().join("sp.pem"), gw.sp_cert.to_pem().unwrap()).unwrap();
        let out = std::process::Command::new(xmlsec1)
            .args([
                "--verify",
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse",
                "--pubkey-cert-pem",
            ])
            .arg(dir.path().join("sp.pem"))
            .arg(dir.path().join("r.xml"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(whoami(&mut alice).await, Err(StatusCode::UNAUTHORIZED));
}

#[tokio::test]
async fn unsigned_or_wrongly_signed_or_tampered_logout_requests_end_nothing() {
    let gw = start(slo_setup()).await;
    let mut alice = Browser::new(&gw.base);
    login(gw.now(), &gw.base, &mut alice, "alice@example.com").await;
    let slo = format!("{}/saml/slo", gw.base);
    let xml = logout_request(IDP, &slo, "alice@example.com", None, gw.now()).to_xml();
    let signed = redirect_path(&xml, Some("r"), Some(test_idp::idp_keys()));
    let attempts = [
        (
            "unsigned redirect",
            Method::GET,
            redirect_path(&xml, None, None),
            None,
        ),
        (
            "redirect signed by another key",
            Method::GET,
            redirect_path(&xml, None, Some(test_idp::attacker_keys())),
            None,
        ),
        (
            "redirect with RelayState changed after signing",
            Method::GET,
            signed.replace("RelayState=r", "RelayState=evil"),
            None,
        ),
        (
            "unsigned post",
            Method::POST,
            "/saml/slo".into(),
            Some(post_body(&xml, None, None)),
        ),
        (
            "post signed by another key",
            Method::POST,
            "/saml/slo".into(),
            Some(post_body(&xml, None, Some(test_idp::attacker_keys()))),
        ),
        (
            "post for another SP (Destination)",
            Method::POST,
            "/saml/slo".into(),
            Some(post_body(
                &logout_request(
                    IDP,
                    "https://other-sp.example/slo",
                    "alice@example.com",
                    None,
                    gw.now(),
                )
                .to_xml(),
                None,
                Some(test_idp::idp_keys()),
            )),
        ),
        (
            "expired",
            Method::GET,
            redirect_path(
                &logout_request(
                    IDP,
                    &slo,
                    "alice@example.com",
                    None,
                    gw.now() - Duration::hours(2),
                )
                .to_xml(),
                None,
                Some(test_idp::idp_keys()),
            ),
            None,
        ),
    ];
    for (what, method, path, body) in attempts {
        let r = Browser::new(&gw.base).send(method, &path, &[], body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.body);
        assert!(r.header("location").is_none(), "{what}");
        assert_eq!(
            whoami(&mut alice).await,
            Ok("alice@example.com".into()),
            "{what} ended the session"
        );
    }
    // Counted under the IdP the requests claim to come from (a configured one).
    assert_eq!(
        gw.metric(
            "samlgate_logout_rejections_total",
            &[("idp", "corp"), ("kind", "unsigned")]
        ),
        2.0
    );
}

#[tokio::test]
async fn another_idps_logout_request_cannot_end_this_idps_user() {
    let gw = start(two_idp_setup()).await;
    let mut alice = Browser::new(&gw.base);
    login(gw.now(), &gw.base, &mut alice, "alice@example.com").await;
    let slo = format!("{}/saml/slo", gw.base);
    // The other IdP, correctly signed with its own key, names alice: its own alice, not ours.
    let from_other = logout_request(OTHER_IDP, &slo, "alice@example.com", None, gw.now());
    let r = Browser::new(&gw.base)
        .get(&redirect_path(
            &from_other.to_xml(),
            None,
            Some(test_idp::attacker_keys()),
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(whoami(&mut alice).await, Ok("alice@example.com".into()));
    // The other IdP's key, claiming to be corp: the signature fails.
    let forged = logout_request(IDP, &slo, "alice@example.com", None, gw.now());
    let r = Browser::new(&gw.base)
        .get(&redirect_path(
            &forged.to_xml(),
            None,
            Some(test_idp::attacker_keys()),
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(whoami(&mut alice).await, Ok("alice@example.com".into()));
}

#[tokio::test]
async fn a_replayed_logout_request_ends_nothing() {
    let gw = start(slo_setup()).await;
    let mut alice = Browser::new(&gw.base);
    login(gw.now(), &gw.base, &mut alice, "alice@example.com").await;
    let request = logout_request(
        IDP,
        &format!("{}/saml/slo", gw.base),
        "alice@example.com",
        None,
        gw.now(),
    );
    let path = redirect_path(&request.to_xml(), None, Some(test_idp::idp_keys()));
    assert_eq!(
        Browser::new(&gw.base).get(&path).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(whoami(&mut alice).await, Err(StatusCode::UNAUTHORIZED));
    // Alice signs in again; the same request, captured and replayed, must not end it.
    let mut again = Browser::new(&gw.base);
    login(gw.now(), &gw.base, &mut again, "alice@example.com").await;
    let replay = Browser::new(&gw.base).get(&path).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{}", replay.body);
    assert_eq!(whoami(&mut again).await, Ok("alice@example.com".into()));
    assert_eq!(
        gw.metric(
            "samlgate_logout_rejections_total",
            &[("idp", "corp"), ("kind", "replay")]
        ),
        1.0
    );
}

#[tokio::test]
async fn relay_state_never_sends_the_browser_off_site() {
    let gw = start(slo_setup()).await;
    let mut alice = Browser::new(&gw.base);
    login(gw.now(), &gw.base, &mut alice, "alice@example.com").await;
    // IdP-initiated: RelayState is the IdP's; it goes back to the IdP's own SLO endpoint as a
    // parameter, never as where the browser goes.
    let request = logout_request(
        IDP,
        &format!("{}/saml/slo", gw.base),
        "alice@example.com",
        None,
        gw.now(),
    );
    let r = Browser::new(&gw.base)
        .get(&redirect_path(
            &request.to_xml(),
            Some("https://evil.example/"),
            Some(test_idp::idp_keys()),
        ))
        .await;
    assert!(
        r.location().starts_with(IDP_SLO_REDIRECT),
        "{}",
        r.location()
    );
    assert_eq!(
        query_param(r.location(), "RelayState").as_deref(),
        Some("https://evil.example/")
    );

    // SP-initiated: the IdP's answer carries a RelayState; the final page never redirects.
    login(gw.now(), &gw.base, &mut alice, "alice@example.com").await;
    let out = alice.sign_out(&gw.base).await;
    let sent = verified_redirect_xml(out.location(), "SAMLRequest", &gw.sp_cert);
    let request_id = attr(&sent, "ID").unwrap().to_string();
    let answer = idp_logout_response(&gw, &request_id, LogoutStatus::Success);
    let url = redirect_url(
        "http://gateway/saml/slo",
        InboundKind::Response,
        &answer.to_xml(),
        Some("https://evil.example/"),
        Some(&test_idp::idp_keys().key),
    )
    .unwrap();
    let done = alice
        .get(&format!("/saml/slo?{}", url.split_once('?').unwrap().1))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.header("location").is_none());
    assert!(!done.body.contains("evil.example"));
}

fn idp_logout_response(gw: &Gateway, request_id: &str, status: LogoutStatus) -> LogoutResponse {
    LogoutResponse {
        id: samlgate::saml::request::new_request_id(),
        issue_instant: gw.now(),
        destination: format!("{}/saml/slo", gw.base),
        in_response_to: request_id.to_string(),
        issuer: IDP.to_string(),
        status,
    }
}

fn response_path(response: &LogoutResponse, keys: &KeyPair) -> String {
    let url = redirect_url(
        "http://gateway/saml/slo",
        InboundKind::Response,
        &response.to_xml(),
        None,
        Some(&keys.key),
    )
    .unwrap();
    format!("/saml/slo?{}", url.split_once('?').unwrap().1)
}

#[tokio::test]
async fn signing_out_takes_a_signed_logout_request_to_the_idp_and_its_answer_is_bound_to_this_browser()
 {
    let gw = start(slo_setup()).await;
    let mut alice = Browser::new(&gw.base);
    let spec = login(gw.now(), &gw.base, &mut alice, "alice@example.com").await;
    let out = alice.sign_out(&gw.base).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
    assert!(
        out.location()
            .starts_with(&format!("{IDP_SLO_REDIRECT}?SAMLRequest="))
    );
    let sent = verified_redirect_xml(out.location(), "SAMLRequest", &gw.sp_cert);
    assert_eq!(attr(&sent, "Destination"), Some(IDP_SLO_REDIRECT));
    assert!(
        sent.contains(&format!(
            r#"<saml:NameID Format="{UNSPECIFIED}">alice@example.com</saml:NameID>"#
        )),
        "{sent}"
    );
    assert!(
        sent.contains(&format!(
            "<samlp:SessionIndex>{}</samlp:SessionIndex>",
            spec.session_index
        )),
        "{sent}"
    );
    // The local session ended at once.
    assert_eq!(whoami(&mut alice).await, Err(StatusCode::UNAUTHORIZED));
    let request_id = attr(&sent, "ID").unwrap().to_string();

    // Another browser bringing the IdP's answer is refused (it did not sign out).
    let answer = idp_logout_response(&gw, &request_id, LogoutStatus::Success);
    let stranger = Browser::new(&gw.base)
        .get(&response_path(&answer, test_idp::idp_keys()))
        .await;
    assert_eq!(
        stranger.status,
        StatusCode::BAD_REQUEST,
        "{}",
        stranger.body
    );

    // An answer to another request, in alice's browser, is refused.
    let wrong = idp_logout_response(&gw, "_not-what-we-sent", LogoutStatus::Success);
    let mut alice_copy = Browser::new(&gw.base);
    alice_copy.cookies = alice.cookies.clone();
    let r = alice_copy
        .get(&response_path(&wrong, test_idp::idp_keys()))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // An answer signed by another key is refused.
    let mut alice_copy = Browser::new(&gw.base);
    alice_copy.cookies = alice.cookies.clone();
    let r = alice_copy
        .get(&response_path(&answer, test_idp::attacker_keys()))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);

    // The real answer, in alice's browser: the page says the IdP session ended too.
    let done = alice
        .get(&response_path(&answer, test_idp::idp_keys()))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(
        done.body.contains("and of your identity provider"),
        "{}",
        done.body
    );
    assert!(
        !alice.cookies.contains_key("samlgate_logout"),
        "the logout cookie is cleared"
    );
}

#[tokio::test]
async fn an_idp_that_does_not_end_its_session_is_said_so() {
    let gw = start(slo_setup()).await;
    let mut alice = Browser::new(&gw.base);
    login(gw.now(), &gw.base, &mut alice, "alice@example.com").await;
    let out = alice.sign_out(&gw.base).await;
    let sent = verified_redirect_xml(out.location(), "SAMLRequest", &gw.sp_cert);
    let answer = idp_logout_response(&gw, attr(&sent, "ID").unwrap(), LogoutStatus::PartialLogout);
    let done = alice
        .get(&response_path(&answer, test_idp::idp_keys()))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("did not confirm"), "{}", done.body);
}

#[tokio::test]
async fn without_slo_the_page_says_the_idp_session_is_still_open() {
    // The test IdP's own metadata has no SingleLogoutService.
    let gw = start(Setup::default()).await;
    let mut alice = Browser::new(&gw.base);
    login(gw.now(), &gw.base, &mut alice, "alice@example.com").await;
    let out = alice.sign_out(&gw.base).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert!(
        out.body
            .contains("still signed in at your identity provider"),
        "{}",
        out.body
    );
    assert_eq!(whoami(&mut alice).await, Err(StatusCode::UNAUTHORIZED));
    // slo = false turns it off even when the metadata offers it.
    let mut setup = slo_setup();
    setup.idp_extra = "slo = false".into();
    let gw = start(setup).await;
    let mut alice = Browser::new(&gw.base);
    login(gw.now(), &gw.base, &mut alice, "alice@example.com").await;
    let out = alice.sign_out(&gw.base).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert!(
        out.body
            .contains("still signed in at your identity provider")
    );
    assert!(!gw.state.sp_metadata.contains("SingleLogoutService"));
    // ... and the IdP's LogoutRequests are not acted on.
    let mut alice = Browser::new(&gw.base);
    login(gw.now(), &gw.base, &mut alice, "alice@example.com").await;
    let r = idp_logs_out(&gw, "alice@example.com").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(whoami(&mut alice).await, Ok("alice@example.com".into()));
}

#[tokio::test]
async fn unsigned_logout_requests_go_out_when_the_admin_says_so() {
    let mut setup = slo_setup();
    setup.idp_extra = "sign_logout_requests = false".into();
    let gw = start(setup).await;
    let mut alice = Browser::new(&gw.base);
    login(gw.now(), &gw.base, &mut alice, "alice@example.com").await;
    let out = alice.sign_out(&gw.base).await;
    assert!(out.location().starts_with(IDP_SLO_REDIRECT));
    assert!(query_param(out.location(), "Signature").is_none());
    assert!(query_param(out.location(), "SigAlg").is_none());
}

#[tokio::test]
async fn sp_metadata_advertises_single_logout_for_both_bindings() {
    let gw = start(slo_setup()).await;
    let meta = Browser::new(&gw.base).get("/saml/metadata").await.body;
    for binding in ["HTTP-Redirect", "HTTP-POST"] {
        let want = format!(
            r#"<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:{binding}" Location="{}/saml/slo"/>"#,
            gw.base
        );
        assert!(meta.contains(&want), "{binding}: {meta}");
    }
}

#[test]
fn slo_true_without_an_slo_endpoint_is_a_config_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup {
        idp_extra: "slo = true".into(),
        ..Setup::default()
    };
    let (path, _) = write_config(dir.path(), 8080, &setup);
    let e = samlgate::config::load(&path)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("idp[0].slo"), "{e}");
    assert!(e.contains("no SingleLogoutService"), "{e}");
}

// ---- two nodes on one Redis ---------------------------------------------------------------

struct Node {
    base: String,
    state: Arc<AppState>,
}

async fn node(config: &std::path::Path, listener: TcpListener) -> Node {
    let addr = listener.local_addr().unwrap();
    let loaded = samlgate::config::load(config).unwrap_or_else(|e| panic!("{e}"));
    let (router, state) = samlgate::gateway::build(loaded.config, system_clock()).unwrap();
    state
        .stores
        .redis
        .as_ref()
        .unwrap()
        .wait_connected()
        .await
        .unwrap();
    let tracker = state.sessions.tracker().expect("a session tracker");
    let deadline = Instant::now() + StdDuration::from_secs(15);
    while !tracker.barrier().await {
        assert!(Instant::now() < deadline, "tracker not in step in 15 s");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    tokio::spawn(async move {
        let _ = samlgate::server::serve_on(listener, router).await;
    });
    Node {
        base: format!("http://{addr}"),
        state,
    }
}

/// Who the backend is told this browser is, through the proxy (the cached path).
async fn backend_sees(browser: &mut Browser) -> Result<String, StatusCode> {
    let r = browser.get("/json").await;
    if r.status != StatusCode::OK {
        return Err(r.status);
    }
    let json: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    Ok(json["identity"]["x-forwarded-user"]
        .as_str()
        .unwrap_or("")
        .to_string())
}

#[tokio::test]
async fn an_idp_logout_at_node_a_ends_the_session_node_b_serves_on_its_next_request() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let la = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lb = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port_a = la.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut setup = slo_setup();
    setup.session = format!(
        "store = \"redis\"\nurl = \"{}\"\nkey_prefix = \"slo:\"\npool_size = 4\ncommand_timeout = \"1s\"\nconnect_timeout = \"1s\"",
        redis.url()
    );
    setup.backend = Some(echo_backend().await);
    let (config, _): (PathBuf, _) = write_config(dir.path(), port_a, &setup);
    let a = node(&config, la).await;
    let b = node(&config, lb).await;
    let public = format!("http://127.0.0.1:{port_a}");
    let sp_cert = X509::from_pem(&std::fs::read(dir.path().join("sp.crt")).unwrap()).unwrap();

    for round in 0..10 {
        let user = format!("user{round}@example.com");
        let mut on_a = Browser::new(&a.base);
        login(OffsetDateTime::now_utc(), &public, &mut on_a, &user).await;
        let mut on_b = Browser::new(&b.base);
        on_b.cookies = on_a.cookies.clone();
        assert_eq!(
            backend_sees(&mut on_b).await,
            Ok(user.clone()),
            "round {round}"
        );
        // B now holds the session in its cache.
        assert_eq!(
            backend_sees(&mut on_b).await,
            Ok(user.clone()),
            "round {round}"
        );
        assert!(!b.state.sessions.cache().is_empty());

        // The IdP's LogoutRequest arrives at A (by either binding).
        let request = logout_request(
            IDP,
            &format!("{public}/saml/slo"),
            &user,
            None,
            OffsetDateTime::now_utc(),
        );
        let answer = if round % 2 == 0 {
            Browser::new(&a.base)
                .get(&redirect_path(
                    &request.to_xml(),
                    None,
                    Some(test_idp::idp_keys()),
                ))
                .await
        } else {
            Browser::new(&a.base)
                .send(
                    Method::POST,
                    "/saml/slo",
                    &[],
                    Some(post_body(
                        &request.to_xml(),
                        None,
                        Some(test_idp::idp_keys()),
                    )),
                )
                .await
        };
        assert!(
            answer.status == StatusCode::SEE_OTHER || answer.status == StatusCode::OK,
            "round {round}: {}",
            answer.body
        );
        if answer.status == StatusCode::SEE_OTHER {
            let xml = verified_redirect_xml(answer.location(), "SAMLResponse", &sp_cert);
            assert!(xml.contains("status:Success"), "{xml}");
        }
        // B's very next request: no session.
        assert_eq!(
            backend_sees(&mut on_b).await,
            Err(StatusCode::FOUND),
            "round {round}: B served a session the IdP ended at A"
        );
    }
    // A replay arriving at B after A acted on it ends nothing.
    let user = "replayed@example.com";
    let request = logout_request(
        IDP,
        &format!("{public}/saml/slo"),
        user,
        None,
        OffsetDateTime::now_utc(),
    );
    let path = redirect_path(&request.to_xml(), None, Some(test_idp::idp_keys()));
    let mut first = Browser::new(&a.base);
    login(OffsetDateTime::now_utc(), &public, &mut first, user).await;
    assert_eq!(
        Browser::new(&a.base).get(&path).await.status,
        StatusCode::SEE_OTHER
    );
    let mut again = Browser::new(&b.base);
    login(OffsetDateTime::now_utc(), &public, &mut again, user).await;
    assert_eq!(
        Browser::new(&b.base).get(&path).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(backend_sees(&mut again).await, Ok(user.to_string()));
}

// ---- the SOAP back channel ----------------------------------------------------------------

/// A LogoutRequest in a SOAP envelope, its enveloped signature by `keys` when given.
fn soap_request(request: &LogoutRequest, keys: Option<&KeyPair>) -> String {
    let xml = request.to_xml();
    let xml = match keys {
        Some(k) => samlgate::saml::request::sign_for_post(&xml, &k.key, Some(&k.cert)).unwrap(),
        None => xml,
    };
    samlgate::saml::logout::binding::soap_envelope(&xml)
}

async fn post_soap(gw: &Gateway, envelope: String) -> crate::support::gateway::Reply {
    Browser::new(&gw.base)
        .send(
            Method::POST,
            "/saml/slo/soap",
            &[("content-type", "text/xml")],
            Some(envelope),
        )
        .await
}

#[tokio::test]
async fn the_soap_back_channel_ends_sessions_and_answers_a_signed_logout_response() {
    let gw = start(slo_setup()).await;
    let mut alice = Browser::new(&gw.base);
    login(gw.now(), &gw.base, &mut alice, "alice@example.com").await;
    let soap_url = format!("{}/saml/slo/soap", gw.base);

    // Unsigned, or for the front-channel URL: a SOAP Fault, nothing ended.
    let unsigned = logout_request(IDP, &soap_url, "alice@example.com", None, gw.now());
    let r = post_soap(&gw, soap_request(&unsigned, None)).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
    assert!(
        r.body.contains("<faultcode>SOAP-ENV:Client</faultcode>"),
        "{}",
        r.body
    );
    let misaddressed = logout_request(
        IDP,
        &format!("{}/saml/slo", gw.base),
        "alice@example.com",
        None,
        gw.now(),
    );
    let r = post_soap(&gw, soap_request(&misaddressed, Some(test_idp::idp_keys()))).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
    let forged = logout_request(IDP, &soap_url, "alice@example.com", None, gw.now());
    let r = post_soap(&gw, soap_request(&forged, Some(test_idp::attacker_keys()))).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
    assert_eq!(whoami(&mut alice).await, Ok("alice@example.com".into()));

    let request = logout_request(IDP, &soap_url, "alice@example.com", None, gw.now());
    let envelope = soap_request(&request, Some(test_idp::idp_keys()));
    let r = post_soap(&gw, envelope.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/xml; charset=utf-8"));
    assert!(r.body.starts_with("<SOAP-ENV:Envelope"), "{}", r.body);
    assert_eq!(attr(&r.body, "InResponseTo"), Some(request.id.as_str()));
    assert!(r.body.contains("status:Success"), "{}", r.body);
    assert_eq!(whoami(&mut alice).await, Err(StatusCode::UNAUTHORIZED));
    // The LogoutResponse inside verifies with xmlsec1 and the SP certificate.
    if let Some(xmlsec1) = crate::support::find_tool("xmlsec1") {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.xml"), &r.body).unwrap();
        std::fs::write(dir.path().join("sp.pem"), gw.sp_cert.to_pem().unwrap()).unwrap();
        let out = std::process::Command::new(xmlsec1)
            .args([
                "--verify",
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse",
                "--pubkey-cert-pem",
            ])
            .arg(dir.path().join("sp.pem"))
            .arg(dir.path().join("r.xml"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Replayed: a fault, and a new session of alice stays.
    let mut again = Browser::new(&gw.base);
    login(gw.now(), &gw.base, &mut again, "alice@example.com").await;
    let r = post_soap(&gw, envelope).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
    assert_eq!(whoami(&mut again).await, Ok("alice@example.com".into()));
    // The SP metadata names the SOAP endpoint.
    assert!(gw.state.sp_metadata.contains(&format!(
        r#"Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="{soap_url}""#
    )));
}

#[tokio::test]
async fn the_name_id_goes_encrypted_when_the_admin_says_so() {
    let keys = test_idp::idp_keys();
    let cert = B64.encode(keys.cert.to_der().unwrap());
    let with_encryption = metadata_with_slo(IDP, keys).replace(
        "<md:SingleLogoutService",
        &format!(
            "<md:KeyDescriptor use=\"encryption\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleLogoutService"
        ),
    );
    // Only the first replacement must hold the KeyDescriptor (schema order: keys first).
    let with_encryption = {
        let (head, tail) = with_encryption.split_once("</md:KeyDescriptor>").unwrap();
        let (first, rest) = tail.split_once("</md:KeyDescriptor>").unwrap();
        format!(
            "{head}</md:KeyDescriptor>{first}</md:KeyDescriptor>{}",
            rest.replace(&format!("<md:KeyDescriptor use=\"encryption\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"), "")
        )
    };
    let setup = Setup {
        files: vec![("idp.xml".into(), with_encryption)],
        idp_extra: "encrypt_logout_name_id = true".into(),
        ..Setup::default()
    };
    let gw = start(setup).await;
    let mut alice = Browser::new(&gw.base);
    login(gw.now(), &gw.base, &mut alice, "alice@example.com").await;
    let out = alice.sign_out(&gw.base).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
    let sent = verified_redirect_xml(out.location(), "SAMLRequest", &gw.sp_cert);
    assert!(sent.contains("<saml:EncryptedID"), "{sent}");
    assert!(
        !sent.contains("alice@example.com"),
        "the NameID is not in clear: {sent}"
    );
    // xmlsec1, with the IdP's private key, finds the NameID inside.
    if crate::support::find_tool("xmlsec1").is_some() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("request.xml");
        std::fs::write(&file, &sent).unwrap();
        let key = dir.path().join("idp.key");
        std::fs::write(&key, keys.key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        let plain = crate::support::peers::xmlsec1_decrypt(&file, &key).unwrap();
        let plain = String::from_utf8(plain).unwrap();
        assert!(
            plain.contains(&format!(
                r#"Format="{UNSPECIFIED}">alice@example.com</saml:NameID>"#
            )),
            "{plain}"
        );
    }
}

#[test]
fn encrypt_logout_name_id_without_an_encryption_certificate_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup {
        idp_extra: "encrypt_logout_name_id = true".into(),
        ..slo_setup()
    };
    let (path, _) = write_config(dir.path(), 8080, &setup);
    let e = samlgate::config::load(&path)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("idp[0].encrypt_logout_name_id"), "{e}");
}
