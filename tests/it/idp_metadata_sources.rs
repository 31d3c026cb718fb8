//! IdP metadata that follows the IdP (issue 16), end to end: a metadata server started here
//! (Python's http.server) serves documents signed by Debian's `xmlsec1`; pysaml2 signs the
//! Responses. A rotation A -> A+B -> B is followed with no restart; tampered, unsigned and
//! expired documents never replace the good copy; the server going down leaves logins working
//! on the cached copy, also after a restart; an IdP with no usable metadata is named by
//! /readyz and gets a clear page while the others keep working; Single Logout follows the
//! SingleLogoutService of each new copy (added, moved, removed) without a reload.

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
    login_at(&gw.base, key_cert).await
}

async fn login_at(base: &str, key_cert: &(PathBuf, PathBuf)) -> gateway::Reply {
    let (mut browser, request) = begin_login(base).await;
    answer_login(base, &mut browser, request, key_cert).await
}

/// The browser goes to the IdP: the AuthnRequest it carries.
async fn begin_login(base: &str) -> (Browser, gateway::ReceivedRequest) {
    let mut browser = Browser::new(base);
    let start = browser.get("/saml/login?idp=corp").await;
    assert_eq!(start.status, StatusCode::FOUND, "{}", start.body);
    assert!(start.location().starts_with(SSO), "{}", start.location());
    (browser, read_redirect_request(start.location()))
}

/// The IdP answers `request`, signing with `key_cert`; the browser posts it to the ACS.
async fn answer_login(
    base: &str,
    browser: &mut Browser,
    request: gateway::ReceivedRequest,
    key_cert: &(PathBuf, PathBuf),
) -> gateway::Reply {
    let response = peers::pysaml2_response(&PeerRequest {
        sp_entity_id: SP_ENTITY.into(),
        acs_url: format!("{base}/saml/acs"),
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

    // Rollover: A and B. A login started before the swap and answered after it succeeds.
    let mut in_flight = begin_login(&gw.base).await;
    server.publish("idp.xml", &signed(&keys, &[&keys.a.cert, &keys.b.cert]));
    wait_for_refreshes(&gw, "updated", 2.0).await;
    let reply = answer_login(&gw.base, &mut in_flight.0, in_flight.1, &keys.a_files).await;
    assert_eq!(
        reply.status,
        StatusCode::SEE_OTHER,
        "login in flight during the swap: {}",
        reply.body
    );
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

fn fingerprint(cert: &openssl::x509::X509) -> String {
    let key =
        samlgate::crypto::keys::VerificationKey::from_certificate(cert.clone(), "test").unwrap();
    samlgate::saml::key_set::KeyFact::of(&key).fingerprint
}

/// `samlgate check` with the real binary: (success, stdout, stderr).
fn run_check(config: &Path) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_samlgate"))
        .args(["check", "--config"])
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_fetches_url_sources_and_reports_signature_validity_and_keys() {
    if !peers::require_xmlsec1() {
        return;
    }
    let keys = keys();
    let mut server = MetadataServer::start();
    server.publish("idp.xml", &signed(&keys, &[&keys.a.cert, &keys.b.cert]));
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let (config, _) = gateway::write_config(
        dir.path(),
        crate::support::free_port(),
        &setup(&keys, &server.url("idp.xml"), &cache_dir),
    );
    let (ok, stdout, stderr) = run_check(&config);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("metadata_url {}", server.url("idp.xml"))),
        "{stdout}"
    );
    assert!(
        stdout.contains("signature verified with metadata_signing_cert"),
        "{stdout}"
    );
    assert!(stdout.contains("validUntil 20"), "{stdout}");
    for cert in [&keys.a.cert, &keys.b.cert] {
        assert!(stdout.contains(&fingerprint(cert)), "{stdout}");
    }
    assert!(stdout.contains("not after"), "{stdout}");

    // Signed by someone else: refused, and with no cached copy the IdP would not be ready.
    let intruder = make_key_pair("not the federation");
    let forged = xmlsec1_sign(
        &template(
            &[&keys.a.cert],
            OffsetDateTime::now_utc() + time::Duration::days(1),
        ),
        &intruder,
    );
    server.publish("idp.xml", &forged);
    let (ok, stdout, stderr) = run_check(&config);
    assert!(!ok, "{stdout}\n{stderr}");
    assert!(stderr.contains("signature refused"), "{stderr}");
}

#[test]
fn configuration_refuses_unsafe_or_unsupported_metadata_sources() {
    let dir = tempfile::tempdir().unwrap();
    let problems = |idp_metadata: &str| -> Vec<samlgate::config::Problem> {
        let (path, _) = gateway::write_config(
            dir.path(),
            8080,
            &Setup {
                idp_metadata: Some(idp_metadata.to_string()),
                ..Setup::default()
            },
        );
        match samlgate::config::load(&path) {
            Ok(loaded) => loaded.warnings,
            Err(e) => e.problems,
        }
    };
    let error_on = |problems: &[samlgate::config::Problem], key: &str, words: &str| {
        assert!(
            problems
                .iter()
                .any(|p| p.severity == samlgate::config::Severity::Error
                    && p.key == key
                    && p.message.contains(words)
                    && p.line.is_some()),
            "{key}: {words}: {problems:?}"
        );
    };
    // Plain http to another host with nothing to check the document with: anyone on the path
    // could hand over their own keys.
    let found = problems("metadata_url = \"http://idp.example/metadata.xml\"");
    error_on(&found, "idp[0].metadata_url", "plain http");
    let found = problems("metadata_url = \"ftp://idp.example/metadata.xml\"");
    error_on(&found, "idp[0].metadata_url", "scheme ftp");
    let found =
        problems("metadata_url = \"https://idp.example/metadata.xml\"\nmetadata_refresh = \"1s\"");
    error_on(&found, "idp[0].metadata_refresh", "minimum");
    let found = problems("metadata = \"idp.xml\"\nmdq_url = \"https://mdq.example/\"");
    error_on(&found, "idp[0].mdq_url", "needs entity_id");
    error_on(&found, "idp[0].mdq_url", "needs metadata_signing_cert");
    let found = problems(
        "metadata_url = \"https://idp.example/md.xml\"\nmdq_url = \"https://mdq.example/\"",
    );
    error_on(&found, "idp[0].mdq_url", "not both");
    let found = problems("metadata = \"idp.xml\"\nmetadata_refresh = \"10m\"");
    error_on(&found, "idp[0].metadata_refresh", "only with metadata_url");
    // https without a pinned certificate: accepted, with the recommendation.
    let found = problems("metadata_url = \"https://idp.example/metadata.xml\"");
    assert!(
        found
            .iter()
            .all(|p| p.severity == samlgate::config::Severity::Warning),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.key == "idp[0].metadata_url"
                && p.message.contains("set metadata_signing_cert")),
        "{found:?}"
    );
}

#[tokio::test]
async fn a_fetch_refuses_a_redirect_to_another_scheme_and_a_document_over_the_cap() {
    use samlgate::gateway::idp_sources::fetch::{self, FetchError, Validators};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            let _ = socket
                .write_all(b"HTTP/1.1 302 Found\r\nLocation: https://127.0.0.1:9/idp.xml\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
        }
    });
    let client = fetch::client().unwrap();
    let url = url::Url::parse(&format!("http://{addr}/idp.xml")).unwrap();
    let err = fetch::fetch(&client, &url, &Validators::default(), 1 << 20)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("another scheme"), "{err}");

    let mut server = MetadataServer::start();
    server.publish("big.xml", &"x".repeat(5000));
    let url = url::Url::parse(&server.url("big.xml")).unwrap();
    let err = fetch::fetch(&client, &url, &Validators::default(), 1000)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::TooLarge { limit: 1000, .. }),
        "{err}"
    );
    let fine = fetch::fetch(&client, &url, &Validators::default(), 5000).await;
    assert!(fine.is_ok(), "{fine:?}");
}

/// Metrics of a gateway run as a process: the value of one series (0 when absent).
async fn scraped(base: &str, series: &str) -> f64 {
    let text = Browser::new(base).get("/metrics").await.body;
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_signed_by_a_removed_key_is_refused_with_the_rotation_named_in_the_log() {
    if !ready(peers::require(Peer::Pysaml2)) {
        return;
    }
    let keys = keys();
    let mut server = MetadataServer::start();
    server.publish("idp.xml", &signed(&keys, &[&keys.a.cert]));
    let dir = tempfile::tempdir().unwrap();
    let port = crate::support::free_port();
    let (config, _) = gateway::write_config(
        dir.path(),
        port,
        &setup(&keys, &server.url("idp.xml"), &dir.path().join("cache")),
    );
    let mut child = gateway::spawn_serve(&config, true);
    gateway::wait_listening(&[port]).await;
    let base = format!("http://127.0.0.1:{port}");
    let updated = "samlgate_idp_metadata_refresh_total{idp=\"corp\",result=\"updated\"}";
    let deadline = Instant::now() + Duration::from_secs(90);
    while scraped(&base, updated).await < 1.0 {
        assert!(Instant::now() < deadline, "no first fetch");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.publish("idp.xml", &signed(&keys, &[&keys.b.cert]));
    while scraped(&base, updated).await < 2.0 {
        assert!(Instant::now() < deadline, "no second fetch");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reply = login_at(&base, &keys.a_files).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(
        !reply.body.contains("SHA-256"),
        "the browser gets the generic page"
    );
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let a = fingerprint(&keys.a.cert);
    let b = fingerprint(&keys.b.cert);
    let changed = log
        .lines()
        .find(|l| l.contains("IdP signing keys changed") && !l.contains("samlgate::audit"))
        .unwrap_or_else(|| panic!("no key change line in:\n{log}"));
    assert!(changed.contains(&a) && changed.contains(&b), "{changed}");
    assert!(
        log.contains("event=\"idp_keys_changed\"") || log.contains("idp_keys_changed"),
        "{log}"
    );
    let refusal = log
        .lines()
        .find(|l| l.contains("the IdP's keys changed at"))
        .unwrap_or_else(|| panic!("no rotation hint in:\n{log}"));
    assert!(
        refusal.contains(&format!(
            "this Response was signed by a key that is not in the current metadata: SHA-256 {a}"
        )),
        "{refusal}"
    );
}

#[test]
fn one_idp_is_picked_out_of_a_signed_aggregate_by_entity_id() {
    if !peers::require_xmlsec1() {
        return;
    }
    let keys = keys();
    let mut server = MetadataServer::start();
    let entities: Vec<String> = (0..3)
        .map(|i| {
            entity_descriptor(
                &format!("https://idp{i}.federation.test/idp"),
                &[if i == 1 { &keys.b.cert } else { &keys.a.cert }],
                &format!("https://idp{i}.federation.test/sso"),
            )
        })
        .collect();
    let aggregate = xmlsec1_sign(
        &document(
            "_federation",
            OffsetDateTime::now_utc() + time::Duration::days(3),
            &entities,
        ),
        &keys.federation,
    );
    server.publish("federation.xml", &aggregate);
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let mut with = setup(&keys, &server.url("federation.xml"), &cache_dir);
    with.idp_extra = "entity_id = \"https://idp1.federation.test/idp\"".into();
    let (config, _) = gateway::write_config(dir.path(), crate::support::free_port(), &with);
    let (ok, stdout, stderr) = run_check(&config);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("entityID https://idp1.federation.test/idp"),
        "{stdout}"
    );
    assert!(stdout.contains(&fingerprint(&keys.b.cert)), "{stdout}");
    assert!(!stdout.contains(&fingerprint(&keys.a.cert)), "{stdout}");

    // Without entity_id the aggregate is ambiguous: refused, naming the IdPs.
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = gateway::write_config(
        dir.path(),
        crate::support::free_port(),
        &setup(
            &keys,
            &server.url("federation.xml"),
            &dir.path().join("cache"),
        ),
    );
    let (ok, stdout, stderr) = run_check(&config);
    assert!(!ok, "{stdout}\n{stderr}");
    assert!(stderr.contains("holds 3 IdPs"), "{stderr}");
    assert!(stderr.contains("set entity_id"), "{stderr}");
}

#[test]
fn an_idp_is_asked_of_a_metadata_query_service_by_the_sha1_of_its_entity_id() {
    if !peers::require_xmlsec1() {
        return;
    }
    let keys = keys();
    let mut server = MetadataServer::start();
    let sha1 = openssl::hash::hash(openssl::hash::MessageDigest::sha1(), IDP_ENTITY.as_bytes())
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    // Python's http.server decodes %7Bsha1%7D to the file name "{sha1}HEX".
    server.publish(
        &format!("mdq/entities/{{sha1}}{sha1}"),
        &signed(&keys, &[&keys.b.cert]),
    );
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = gateway::write_config(
        dir.path(),
        crate::support::free_port(),
        &Setup {
            idp_metadata: Some(format!(
                "mdq_url = \"{}\"\nentity_id = \"{IDP_ENTITY}\"\nmetadata_signing_cert = \"{}\"",
                server.url("mdq/"),
                keys.federation_cert.display()
            )),
            ..Setup::default()
        },
    );
    let (ok, stdout, stderr) = run_check(&config);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("/mdq/entities/%7Bsha1%7D{sha1}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("entityID {IDP_ENTITY}")),
        "{stdout}"
    );
    assert!(stdout.contains("signature verified"), "{stdout}");
    assert!(stdout.contains(&fingerprint(&keys.b.cert)), "{stdout}");
}

/// Signed metadata listing key A, with a SingleLogoutService at `slo` when given.
fn signed_with_slo(keys: &Keys, slo: Option<&str>) -> String {
    let until = OffsetDateTime::now_utc() + time::Duration::days(2);
    let mut entity = entity_descriptor(IDP_ENTITY, &[&keys.a.cert], SSO);
    if let Some(slo) = slo {
        entity = entity.replacen(
            "<md:SingleSignOnService",
            &format!(
                "<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{slo}\"/><md:SingleSignOnService"
            ),
            1,
        );
    }
    xmlsec1_sign(&document("_metadata", until, &[entity]), &keys.federation)
}

/// Sign in with key A, then sign out: the answer to the sign-out.
async fn sign_in_and_out(gw: &Gateway, keys: &Keys) -> gateway::Reply {
    let (mut browser, request) = begin_login(&gw.base).await;
    let reply = answer_login(&gw.base, &mut browser, request, &keys.a_files).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    browser.sign_out(&gw.base).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_logout_follows_the_slo_endpoint_of_each_new_copy_without_a_reload() {
    if !ready(peers::require(Peer::Pysaml2)) {
        return;
    }
    const SLO_1: &str = "https://idp.example.com/slo";
    const SLO_2: &str = "https://logout.idp.example.com/saml2/slo";
    let keys = keys();
    let mut server = MetadataServer::start();
    server.publish("idp.xml", &signed_with_slo(&keys, None));
    let cache_dir = keys.dir.path().join("cache");
    // No copy in hand at start (no cache): the IdP's SLO endpoint can only come from a fetch.
    let gw = gateway::start(setup(&keys, &server.url("idp.xml"), &cache_dir)).await;
    assert!(
        gw.state.sp_metadata.contains("SingleLogoutService"),
        "a URL source may bring an SLO endpoint later: the SP metadata offers ours"
    );
    wait_for_refreshes(&gw, "updated", 1.0).await;

    // No SingleLogoutService in the copy in use: signed out of the application only.
    let out = sign_in_and_out(&gw, &keys).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert!(
        out.body
            .contains("still signed in at your identity provider"),
        "{}",
        out.body
    );

    // The IdP publishes one: the next logout goes there, signed, without a reload.
    server.publish("idp.xml", &signed_with_slo(&keys, Some(SLO_1)));
    wait_for_refreshes(&gw, "updated", 2.0).await;
    let out = sign_in_and_out(&gw, &keys).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
    assert!(
        out.location().starts_with(&format!("{SLO_1}?SAMLRequest=")),
        "{}",
        out.location()
    );
    assert!(out.location().contains("&Signature="), "{}", out.location());

    // It moves: the next logout follows.
    server.publish("idp.xml", &signed_with_slo(&keys, Some(SLO_2)));
    wait_for_refreshes(&gw, "updated", 3.0).await;
    let out = sign_in_and_out(&gw, &keys).await;
    assert!(
        out.location().starts_with(&format!("{SLO_2}?SAMLRequest=")),
        "{}",
        out.location()
    );

    // It goes away: application only again.
    server.publish("idp.xml", &signed_with_slo(&keys, None));
    wait_for_refreshes(&gw, "updated", 4.0).await;
    let out = sign_in_and_out(&gw, &keys).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert!(
        out.body
            .contains("still signed in at your identity provider")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_id_to_encrypt_is_never_sent_in_clear_when_the_copy_in_use_has_no_certificate() {
    if !ready(peers::require(Peer::Pysaml2)) {
        return;
    }
    let keys = keys();
    let mut server = MetadataServer::start();
    // An SLO endpoint, and only a signing key: nothing to encrypt the NameID to.
    server.publish(
        "idp.xml",
        &signed_with_slo(&keys, Some("https://idp.example.com/slo")),
    );
    let cache_dir = keys.dir.path().join("cache");
    let mut setup = setup(&keys, &server.url("idp.xml"), &cache_dir);
    setup.idp_extra = "encrypt_logout_name_id = true".into();
    let gw = gateway::start(setup).await;
    wait_for_refreshes(&gw, "updated", 1.0).await;
    let out = sign_in_and_out(&gw, &keys).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert!(out.header("location").is_none());
    assert!(
        out.body
            .contains("still signed in at your identity provider"),
        "{}",
        out.body
    );
}
