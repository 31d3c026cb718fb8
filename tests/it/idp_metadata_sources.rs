//! IdP metadata that follows the IdP (issue 16), end to end: a metadata server started here
//! (Python's http.server) serves documents signed by Debian's `xmlsec1`; pysaml2 signs the
//! Responses. A rotation A -> A+B -> B is followed with no restart; tampered, unsigned and
//! expired documents never replace the good copy; the server going down leaves logins working
//! on the cached copy, also after a restart; an IdP with no usable metadata is named by
//! /readyz and gets a clear page while the others keep working.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hyper::StatusCode;
use time::OffsetDateTime;

use crate::support::gateway::{self, Browser, Gateway, SP_ENTITY, Setup, read_redirect_request};
use crate::support::metadata_server::{
    MetadataServer, document, entity_descriptor, write_pair, xmlsec1_sign,
};
use crate::support::peers::{self, Peer, PeerRequest};
use crate::support::test_idp::{KeyPair, make_key_pair};

const IDP_ENTITY: &str = "https://idp.rotating.test/idp";
const SSO: &str = "https://idp.rotating.test/sso";

/// The keys of the test: the federation's metadata signer and the IdP's keys A and B.
struct Keys {
    dir: tempfile::TempDir,
    federation: KeyPair,
    federation_cert: PathBuf,
    a: KeyPair,
    a_files: (PathBuf, PathBuf),
    b: KeyPair,
    b_files: (PathBuf, PathBuf),
}

fn keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let federation = make_key_pair("test federation metadata signer");
    let (_, federation_cert) = write_pair(dir.path(), "federation", &federation);
    let a = make_key_pair("IdP signing key A");
    let a_files = write_pair(dir.path(), "a", &a);
    let b = make_key_pair("IdP signing key B");
    let b_files = write_pair(dir.path(), "b", &b);
    Keys {
        dir,
        federation,
        federation_cert,
        a,
        a_files,
        b,
        b_files,
    }
}

/// Unsigned metadata (with its signature template) listing `certs`, valid until `until`.
fn template(certs: &[&openssl::x509::X509], until: OffsetDateTime) -> String {
    document(
        "_metadata",
        until,
        &[entity_descriptor(IDP_ENTITY, certs, SSO)],
    )
}

fn signed(keys: &Keys, certs: &[&openssl::x509::X509]) -> String {
    let until = OffsetDateTime::now_utc() + time::Duration::days(2);
    xmlsec1_sign(&template(certs, until), &keys.federation)
}

fn setup(keys: &Keys, url: &str, cache_dir: &Path) -> Setup {
    Setup {
        idp_metadata: Some(format!(
            "metadata_url = \"{url}\"\nmetadata_signing_cert = \"{}\"\nmetadata_refresh = \"5s\"\nmetadata_cache_dir = \"{}\"",
            keys.federation_cert.display(),
            cache_dir.display()
        )),
        ..Setup::default()
    }
}

fn ready(peer_ok: bool) -> bool {
    peer_ok && peers::require_xmlsec1()
}

/// One SP-initiated login at `gw` answered by pysaml2 signing with `key_cert`.
async fn login_signed_by(gw: &Gateway, key_cert: &(PathBuf, PathBuf)) -> gateway::Reply {
    let mut browser = Browser::new(&gw.base);
    let start = browser.get("/saml/login?idp=corp").await;
    assert_eq!(start.status, StatusCode::FOUND, "{}", start.body);
    assert!(start.location().starts_with(SSO), "{}", start.location());
    let request = read_redirect_request(start.location());
    let response = peers::pysaml2_response(&PeerRequest {
        sp_entity_id: SP_ENTITY.into(),
        acs_url: gw.acs_url(),
        in_response_to: Some(request.id.clone()),
        idp_entity_id: IDP_ENTITY.into(),
        idp_key_cert: Some(key_cert.clone()),
        ..PeerRequest::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    browser
        .post_acs(&response.saml_response_b64, request.relay_state.as_deref())
        .await
}

async fn accepted(gw: &Gateway, key_cert: &(PathBuf, PathBuf), what: &str) {
    let reply = login_signed_by(gw, key_cert).await;
    assert_eq!(
        reply.status,
        StatusCode::SEE_OTHER,
        "{what}: {}",
        reply.body
    );
}

async fn refused(gw: &Gateway, key_cert: &(PathBuf, PathBuf), what: &str) {
    let reply = login_signed_by(gw, key_cert).await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "{what}: {}",
        reply.body
    );
}

fn refreshes(gw: &Gateway, result: &str) -> f64 {
    gw.metric(
        "samlgate_idp_metadata_refresh_total",
        &[("idp", "corp"), ("result", result)],
    )
}

/// Wait (generously) until the gateway counted `n` refreshes with `result`.
async fn wait_for_refreshes(gw: &Gateway, result: &str, n: f64) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while refreshes(gw, result) < n {
        assert!(
            Instant::now() < deadline,
            "no {n} refreshes with result {result} within 90 s (have {})",
            refreshes(gw, result)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn keys_changed(gw: &Gateway) -> f64 {
    gw.metric(
        "samlgate_idp_signing_keys_changed_total",
        &[("idp", "corp")],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_is_followed_without_restart_and_bad_documents_never_replace_the_good_one() {
    if !ready(peers::require(Peer::Pysaml2)) {
        return;
    }
    let keys = keys();
    let mut server = MetadataServer::start();
    server.publish("idp.xml", &signed(&keys, &[&keys.a.cert]));
    let cache_dir = keys.dir.path().join("cache");
    let gw = gateway::start(setup(&keys, &server.url("idp.xml"), &cache_dir)).await;

    // No copy before the first fetch (no cache yet): then A alone.
    wait_for_refreshes(&gw, "updated", 1.0).await;
    assert!(
        gw.metric(
            "samlgate_idp_metadata_last_success_timestamp",
            &[("idp", "corp")]
        ) > 0.0
    );
    assert!(
        gw.metric(
            "samlgate_idp_metadata_valid_until_timestamp",
            &[("idp", "corp")]
        ) > 0.0
    );
    accepted(&gw, &keys.a_files, "signed with A, A published").await;
    refused(&gw, &keys.b_files, "signed with B before B is published").await;

    // Rollover: A and B.
    server.publish("idp.xml", &signed(&keys, &[&keys.a.cert, &keys.b.cert]));
    wait_for_refreshes(&gw, "updated", 2.0).await;
    assert_eq!(keys_changed(&gw), 1.0, "B added");
    accepted(&gw, &keys.b_files, "signed with B during the rollover").await;
    accepted(&gw, &keys.a_files, "signed with A during the rollover").await;

    // Done: B alone.
    server.publish("idp.xml", &signed(&keys, &[&keys.b.cert]));
    wait_for_refreshes(&gw, "updated", 3.0).await;
    assert_eq!(keys_changed(&gw), 2.0, "A removed");
    accepted(&gw, &keys.b_files, "signed with B after the rotation").await;
    refused(&gw, &keys.a_files, "signed with A once A is gone").await;
    let good = std::fs::read_to_string(cache_dir.join("corp.xml")).unwrap();

    // A tampered document (A put back after signing), an unsigned one, an expired one: each is
    // refused and B stays the only key.
    let key_a = {
        use base64::Engine;
        format!(
            "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
            base64::engine::general_purpose::STANDARD.encode(keys.a.cert.to_der().unwrap())
        )
    };
    let tampered = signed(&keys, &[&keys.b.cert]).replacen(
        "<md:KeyDescriptor",
        &format!("{key_a}<md:KeyDescriptor"),
        1,
    );
    assert!(
        tampered.matches("<md:KeyDescriptor").count() == 2,
        "{tampered}"
    );
    server.publish("idp.xml", &tampered);
    wait_for_refreshes(&gw, "bad_signature", 1.0).await;
    let unsigned = template(
        &[&keys.a.cert],
        OffsetDateTime::now_utc() + time::Duration::days(1),
    );
    let unsigned = {
        let start = unsigned.find("<ds:Signature").unwrap();
        let end = unsigned.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
        format!("{}{}", &unsigned[..start], &unsigned[end..])
    };
    server.publish("idp.xml", &unsigned);
    wait_for_refreshes(&gw, "unsigned", 1.0).await;
    let expired = xmlsec1_sign(
        &template(
            &[&keys.a.cert],
            OffsetDateTime::now_utc() - time::Duration::hours(1),
        ),
        &keys.federation,
    );
    server.publish("idp.xml", &expired);
    wait_for_refreshes(&gw, "expired", 1.0).await;
    refused(&gw, &keys.a_files, "A offered by refused documents").await;
    accepted(&gw, &keys.b_files, "B still in use").await;
    assert_eq!(keys_changed(&gw), 2.0);
    assert_eq!(
        std::fs::read_to_string(cache_dir.join("corp.xml")).unwrap(),
        good,
        "refused documents never reach the last-known-good copy"
    );

    // The server goes down: logins go on with the copy in use, and after a restart of the
    // gateway with the cached copy.
    server.stop();
    wait_for_refreshes(&gw, "fetch_failed", 1.0).await;
    accepted(&gw, &keys.b_files, "server down").await;
    drop(gw);
    let restarted = gateway::start(setup(&keys, &server.url("idp.xml"), &cache_dir)).await;
    let readyz = Browser::new(&restarted.base).get("/readyz").await;
    assert_eq!(readyz.status, StatusCode::OK, "{}", readyz.body);
    assert_eq!(readyz.body, "ready\n");
    accepted(&restarted, &keys.b_files, "restarted on the cached copy").await;
    refused(&restarted, &keys.a_files, "restarted: A still gone").await;
}

#[tokio::test]
async fn an_idp_without_usable_metadata_is_named_by_readyz_and_the_others_keep_working() {
    if !peers::require_xmlsec1() {
        return;
    }
    let keys = keys();
    let dead = format!("http://127.0.0.1:{}/idp.xml", crate::support::free_port());
    let cache_dir = keys.dir.path().join("partner-cache");
    let gw = gateway::start(Setup {
        extra_toml: format!(
            "[[idp]]\nname = \"partner\"\nmetadata_url = \"{dead}\"\nmetadata_signing_cert = \"{}\"\nmetadata_cache_dir = \"{}\"\nmapping = \"mapping.toml\"\n",
            keys.federation_cert.display(),
            cache_dir.display()
        ),
        ..Setup::default()
    })
    .await;
    let mut browser = Browser::new(&gw.base);
    let readyz = browser.get("/readyz").await;
    assert_eq!(
        readyz.status,
        StatusCode::OK,
        "one IdP down does not take the node out"
    );
    assert!(
        readyz
            .body
            .contains("idp partner not ready: no metadata yet"),
        "{}",
        readyz.body
    );
    assert!(!readyz.body.contains("corp"), "{}", readyz.body);
    let page = browser.get("/saml/login?idp=partner").await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.body.contains("Sign-in unavailable"), "{}", page.body);
    let reply = gateway::login(
        &gw,
        &mut Browser::new(&gw.base),
        "/saml/login?idp=corp",
        "alice",
        &[],
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::SEE_OTHER,
        "corp keeps working: {}",
        reply.body
    );
    assert_eq!(gw.metric("samlgate_idp_ready", &[("idp", "partner")]), 0.0);
    assert_eq!(gw.metric("samlgate_idp_ready", &[("idp", "corp")]), 1.0);

    // An expired cached copy is never used either.
    std::fs::create_dir_all(&cache_dir).unwrap();
    let expired = xmlsec1_sign(
        &template(
            &[&keys.a.cert],
            OffsetDateTime::now_utc() - time::Duration::minutes(1),
        ),
        &keys.federation,
    );
    std::fs::write(cache_dir.join("partner.xml"), expired).unwrap();
    let loaded = samlgate::config::load(&gw.config_path).expect("starts without the expired copy");
    let partner = loaded
        .config
        .idps
        .iter()
        .find(|i| i.name == "partner")
        .unwrap();
    assert!(
        partner.metadata.is_none(),
        "the expired cached copy is not used"
    );
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.message.contains("expired")),
        "{:?}",
        loaded.warnings
    );
}
