//! An `https://` backend started by the test (Python's `http.server` behind `ssl`, with a test
//! CA made by the `openssl` CLI): reached with `backend.ca`, the URL's host sent as SNI; with
//! mutual TLS the client certificate is accepted, and without it (or with a CA the gateway does
//! not trust) the browser gets 502.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use hyper::StatusCode;

use crate::support;
use crate::support::gateway::*;
use crate::support::peers::repo_root;
use crate::support::test_ca::make_ca;

/// `<name>.crt`/`<name>.key` with CN `name`, signed by `ca`.
fn make_cert(dir: &Path, ca: &str, name: &str, ext: &str) {
    crate::support::test_ca::make_cert(dir, ca, name, name, ext);
}

struct Backend(Child);

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Python backend on a free port, requiring a client certificate signed by `client_ca`
/// when given.
fn start_backend(dir: &Path, client_ca: Option<&str>) -> (Backend, u16) {
    let port = support::free_port();
    let mut cmd = Command::new("python3");
    cmd.arg(repo_root().join("tests/interop/tls_backend.py"))
        .arg(port.to_string())
        .arg(dir.join("backend.crt"))
        .arg(dir.join("backend.key"));
    if let Some(ca) = client_ca {
        cmd.arg(dir.join(ca));
    }
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    (Backend(child), port)
}

/// A gateway whose backend is `https://localhost:<port>` with `backend_extra`, the whole site
/// public (no login needed to reach the backend).
async fn gateway(dir: &Path, port: u16, backend_extra: &str) -> Gateway {
    let files = [
        "ca.crt",
        "gateway.crt",
        "gateway.key",
        "rogue.crt",
        "rogue.key",
    ]
    .iter()
    .filter(|f| dir.join(f).exists())
    .map(|f| (f.to_string(), std::fs::read_to_string(dir.join(f)).unwrap()))
    .collect();
    let setup = Setup {
        backend: Some(format!("https://localhost:{port}")),
        backend_extra: backend_extra.into(),
        routes: "[[route]]\npath = \"/\"\npublic = true\n".into(),
        files,
        ..Setup::default()
    };
    let gw = start(setup).await;
    for key in ["gateway.key", "rogue.key"] {
        let path = gw.dir.path().join(key);
        if path.exists() {
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
        }
    }
    gw
}

fn peers_here() -> bool {
    support::require_tool("openssl") && support::require_tool("python3")
}

fn certificates(dir: &Path) {
    make_ca(dir, "ca");
    make_ca(dir, "rogue-ca");
    make_cert(dir, "ca", "backend", "subjectAltName=DNS:localhost\n");
    make_cert(dir, "ca", "gateway", "extendedKeyUsage=clientAuth\n");
    make_cert(dir, "rogue-ca", "rogue", "extendedKeyUsage=clientAuth\n");
}

#[tokio::test]
async fn an_https_backend_is_verified_against_the_configured_ca_with_sni() {
    if !peers_here() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let (_backend, port) = start_backend(dir.path(), None);

    let trusting = gateway(dir.path(), port, "ca = \"ca.crt\"").await;
    let reply = Browser::new(&trusting.base).get("/hello").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, "tls backend; client none; sni localhost");

    // The system's roots do not know the test CA: the handshake fails, the browser gets 502.
    let system_roots = gateway(dir.path(), port, "").await;
    let reply = Browser::new(&system_roots.base).get("/hello").await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert!(
        !reply.body.contains("UnknownIssuer"),
        "no backend detail to the browser"
    );
}

#[tokio::test]
async fn mutual_tls_client_certificate_accepted_and_without_it_502() {
    if !peers_here() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let (_backend, port) = start_backend(dir.path(), Some("ca.crt"));

    let with_cert = gateway(
        dir.path(),
        port,
        "ca = \"ca.crt\"\nclient_cert = \"gateway.crt\"\nclient_key = \"gateway.key\"",
    )
    .await;
    let reply = Browser::new(&with_cert.base).get("/hello").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, "tls backend; client gateway; sni localhost");

    let without = gateway(dir.path(), port, "ca = \"ca.crt\"").await;
    assert_eq!(
        Browser::new(&without.base).get("/hello").await.status,
        StatusCode::BAD_GATEWAY
    );

    // A certificate from a CA the backend does not trust is refused too.
    let rogue = gateway(
        dir.path(),
        port,
        "ca = \"ca.crt\"\nclient_cert = \"rogue.crt\"\nclient_key = \"rogue.key\"",
    )
    .await;
    assert_eq!(
        Browser::new(&rogue.base).get("/hello").await.status,
        StatusCode::BAD_GATEWAY
    );
}

#[test]
fn check_refuses_backend_tls_settings_that_cannot_work() {
    if !support::require_tool("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let problems = |url: &str, extra: &str| {
        let files = ["ca.crt", "gateway.crt", "gateway.key", "rogue.key"]
            .iter()
            .map(|f| {
                (
                    f.to_string(),
                    std::fs::read_to_string(dir.path().join(f)).unwrap(),
                )
            })
            .collect();
        let conf = tempfile::tempdir().unwrap();
        let (path, _) = write_config(
            conf.path(),
            8080,
            &Setup {
                backend: Some(url.into()),
                backend_extra: extra.into(),
                files,
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
    };
    assert_eq!(
        problems(
            "https://localhost:8443",
            "ca = \"ca.crt\"\nclient_cert = \"gateway.crt\"\nclient_key = \"gateway.key\""
        ),
        Vec::<String>::new()
    );
    let plain = problems("http://127.0.0.1:9000", "ca = \"ca.crt\"");
    assert!(
        plain
            .iter()
            .any(|p| p.starts_with("backend.ca: applies to an https:// backend only")),
        "{plain:?}"
    );
    let half = problems("https://localhost:8443", "client_cert = \"gateway.crt\"");
    assert!(
        half.iter()
            .any(|p| p.starts_with("backend.client_cert: client_cert and client_key go together")),
        "{half:?}"
    );
    let wrong = problems(
        "https://localhost:8443",
        "client_cert = \"gateway.crt\"\nclient_key = \"rogue.key\"",
    );
    assert!(
        wrong.iter().any(|p| p.starts_with("backend.client_key:")),
        "{wrong:?}"
    );
    let off = problems("https://localhost:8443", "verify = false");
    assert!(
        off.iter()
            .any(|p| p.starts_with("backend.verify: unknown key")),
        "{off:?}"
    );
}
