//! TLS termination on the listener, against Python's `ssl` and curl: TLS 1.3 and 1.2 with ALPN
//! `http/1.1`, TLS 1.0 and 1.1 refused by the gateway, a client asking for another name gets the
//! gateway's certificate (and its own name check fails), the certificate reloaded on SIGHUP and
//! when its files change while a kept-alive connection stays up, `check` reporting the
//! certificate and refusing a key that is not its own, and the plain listener that only
//! redirects.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support;
use crate::support::gateway::*;
use crate::support::peers::repo_root;
use crate::support::test_ca;

/// A test CA (`ca.crt`) in `dir`.
fn make_ca(dir: &Path) {
    test_ca::make_ca(dir, "ca");
}

/// `<name>.crt` and `<name>.key` for localhost and 127.0.0.1, signed by the CA in `dir`.
fn make_server_cert(dir: &Path, name: &str) {
    test_ca::make_cert(
        dir,
        "ca",
        name,
        "localhost",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    );
}

fn peers_here() -> bool {
    support::require_tool("openssl")
        && support::require_tool("python3")
        && support::require_tool("curl")
}

struct Served {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn ca(&self) -> String {
        self.dir.path().join("ca.crt").display().to_string()
    }

    fn probe(&self, sni: &str, max_version: Option<&str>) -> Value {
        let mut cmd = Command::new("python3");
        cmd.arg(repo_root().join("tests/interop/tls_client.py"))
            .args(["probe", &self.port.to_string(), &self.ca(), sni]);
        if let Some(v) = max_version {
            cmd.arg(v);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

/// `samlgate serve` with TLS from `server.crt`/`server.key` (made here) and `server_extra`.
async fn serve_tls(server_extra: &str, wait_ports: &[u16]) -> Served {
    let dir = tempfile::tempdir().unwrap();
    make_ca(dir.path());
    make_server_cert(dir.path(), "server");
    let port = support::free_port();
    let setup = Setup {
        public_url: Some(format!("https://localhost:{port}")),
        server_extra: format!(
            "tls_cert = \"server.crt\"\ntls_key = \"server.key\"\n{server_extra}"
        ),
        ..Setup::default()
    };
    let (config, _) = write_config(dir.path(), port, &setup);
    let child = spawn_serve(&config, false);
    let mut ports = vec![port];
    ports.extend_from_slice(wait_ports);
    wait_listening(&ports).await;
    Served { child, port, dir }
}

fn sha256_of_cert(path: &Path) -> String {
    let pem = std::fs::read(path).unwrap();
    let der = openssl::x509::X509::from_pem(&pem)
        .unwrap()
        .to_der()
        .unwrap();
    openssl::sha::sha256(&der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn tls_1_3_and_1_2_with_http_1_1_are_served_and_1_0_and_1_1_refused() {
    if !peers_here() {
        return;
    }
    let served = serve_tls("", &[]).await;
    let modern = served.probe("localhost", None);
    assert_eq!(modern["ok"], true, "{modern}");
    assert_eq!(modern["version"], "TLSv1.3");
    assert_eq!(modern["alpn"], "http/1.1", "h2 offered, http/1.1 chosen");
    assert_eq!(modern["status"], 200);
    assert_eq!(
        modern["cert_sha256"],
        sha256_of_cert(&served.dir.path().join("server.crt"))
    );
    let tls12 = served.probe("localhost", Some("TLSv1_2"));
    assert_eq!(
        (&tls12["ok"], &tls12["version"]),
        (&Value::from(true), &Value::from("TLSv1.2")),
        "{tls12}"
    );
    for old in ["TLSv1_1", "TLSv1"] {
        let refused = served.probe("localhost", Some(old));
        assert_eq!(refused["ok"], false, "{old}: {refused}");
        // An alert from the gateway (rustls answers handshake_failure), not the client
        // declining to offer the version (NO_PROTOCOLS_AVAILABLE).
        let error = refused["error"].as_str().unwrap();
        assert!(error.contains("_ALERT_"), "{old}: {error}");
    }
    // Another name: the gateway still presents its certificate, and the client's name check fails.
    let other = served.probe("other.example.com", None);
    assert_eq!(other["ok"], false);
    assert!(
        other["error"]
            .as_str()
            .unwrap()
            .contains("Hostname mismatch"),
        "{other}"
    );

    // curl, with the test CA: 1.3 and 1.2 served, at most 1.1 refused.
    let curl = |args: &[&str]| {
        Command::new("curl")
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{http_version}",
                "--cacert",
            ])
            .arg(served.ca())
            .args(args)
            .arg(format!("https://localhost:{}/healthz", served.port))
            .output()
            .unwrap()
    };
    for version in ["--tlsv1.3", "--tlsv1.2"] {
        let out = curl(&[version]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "200 1.1", "{version}");
    }
    let old = curl(&[
        "--tlsv1.0",
        "--tls-max",
        "1.1",
        "--ciphers",
        "DEFAULT:@SECLEVEL=0",
    ]);
    assert!(!old.status.success());
    assert!(
        String::from_utf8_lossy(&old.stderr).contains("alert"),
        "{}",
        String::from_utf8_lossy(&old.stderr)
    );
}

/// Poll new handshakes until the certificate served is `want` (30 s at most).
async fn wait_for_certificate(served: &Served, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let probe = served.probe("localhost", None);
        if probe["cert_sha256"] == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still serving the old certificate: {probe}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Replace `server.crt`/`server.key` with a new pair; keep their modification times when
/// `keep_mtime` (so that only a signal can tell the gateway). Returns the new certificate's hash.
fn renew(dir: &Path, keep_mtime: bool) -> String {
    let times = |name: &str| {
        std::fs::metadata(dir.join(name))
            .unwrap()
            .modified()
            .unwrap()
    };
    let (crt_time, key_time) = (times("server.crt"), times("server.key"));
    make_server_cert(dir, "renewed");
    for (from, to, time) in [
        ("renewed.crt", "server.crt", crt_time),
        ("renewed.key", "server.key", key_time),
    ] {
        std::fs::rename(dir.join(from), dir.join(to)).unwrap();
        if keep_mtime {
            std::fs::File::options()
                .write(true)
                .open(dir.join(to))
                .unwrap()
                .set_modified(time)
                .unwrap();
        }
    }
    sha256_of_cert(&dir.join("server.crt"))
}

#[tokio::test]
async fn sighup_reloads_the_certificate_while_a_kept_alive_connection_stays_up() {
    if !peers_here() {
        return;
    }
    let served = serve_tls("", &[]).await;
    let old = sha256_of_cert(&served.dir.path().join("server.crt"));
    let mut kept = Command::new("python3")
        .arg(repo_root().join("tests/interop/tls_client.py"))
        .args(["keepalive", &served.port.to_string(), &served.ca()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(kept.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(
        (first["status"].as_i64(), first["cert_sha256"].as_str()),
        (Some(200), Some(old.as_str()))
    );

    // Same modification times: only the signal can make the gateway notice.
    let new = renew(served.dir.path(), true);
    assert_ne!(new, old);
    let status = Command::new("kill")
        .args(["-HUP", &served.pid()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for_certificate(&served, &new).await;

    // The connection opened before the reload still answers, on the same socket and session.
    writeln!(kept.stdin.as_mut().unwrap()).unwrap();
    let second: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(second["status"], 200, "{second}");
    assert_eq!(second["local_port"], first["local_port"]);
    assert_eq!(second["cert_sha256"], Value::from(old));
    assert!(kept.wait().unwrap().success());
}

#[tokio::test]
async fn new_files_are_picked_up_without_a_signal() {
    if !peers_here() {
        return;
    }
    let served = serve_tls("", &[]).await;
    let new = renew(served.dir.path(), false);
    wait_for_certificate(&served, &new).await;
}

/// A configuration reload replaces the TLS acceptor; the old acceptor's certificate watcher must
/// end with it rather than run (and reload on every SIGHUP) for the life of the process.
#[tokio::test(start_paused = true)]
async fn the_certificate_watcher_ends_once_its_acceptor_is_gone() {
    if !support::require_tool("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_ca(dir.path());
    make_server_cert(dir.path(), "server");
    let files = samlgate::config::TlsFiles {
        cert: dir.path().join("server.crt"),
        key: dir.path().join("server.key"),
        names: vec!["localhost".into()],
        not_after: String::new(),
    };
    let (acceptor, slot) = samlgate::server::tls::acceptor(&files).unwrap();
    let watcher = tokio::spawn(samlgate::server::tls::reload::watch(
        std::sync::Arc::downgrade(&slot),
    ));
    // Time is paused: each poll interval passes at once while the runtime is idle.
    for _ in 0..3 {
        tokio::time::sleep(samlgate::server::tls::reload::POLL_INTERVAL).await;
        assert!(!watcher.is_finished(), "the acceptor is still in use");
    }
    drop(slot);
    drop(acceptor);
    tokio::time::timeout(samlgate::server::tls::reload::POLL_INTERVAL * 2, watcher)
        .await
        .expect("the watcher still runs after its acceptor was dropped")
        .unwrap();
}

#[tokio::test]
async fn check_reports_the_certificate_and_refuses_a_key_that_is_not_its_own() {
    if !peers_here() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_ca(dir.path());
    make_server_cert(dir.path(), "server");
    make_server_cert(dir.path(), "other");
    let check_at = |key: &str, public_url: &str| {
        let setup = Setup {
            server_extra: format!("tls_cert = \"server.crt\"\ntls_key = \"{key}\"\n"),
            public_url: Some(public_url.to_string()),
            ..Setup::default()
        };
        let (config, _) = write_config(dir.path(), 8443, &setup);
        Command::new(env!("CARGO_BIN_EXE_samlgate"))
            .args(["check", "--config"])
            .arg(config)
            .output()
            .unwrap()
    };
    let check = |key: &str| check_at(key, "https://localhost:8443");
    let ok = check("server.key");
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        stdout.contains("for localhost, 127.0.0.1, valid until"),
        "{stdout}"
    );
    let wrong = check("other.key");
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains("server.tls_key") && stderr.contains("is not the key of the certificate"),
        "{stderr}"
    );
    // A TLS listener behind an http:// public URL: refused, naming the key and its line (4).
    let plain = check_at("server.key", "http://localhost:8443");
    assert!(!plain.status.success());
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(
        stderr.contains("samlgate.toml:4: server.public_url")
            && stderr.contains("tls_cert makes the listener speak HTTPS"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_plain_listener_only_redirects_to_the_public_url() {
    if !peers_here() {
        return;
    }
    let plain = support::free_port();
    let served = serve_tls(
        &format!("redirect_http_listen = \"127.0.0.1:{plain}\"\n"),
        &[plain],
    )
    .await;
    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
            "-H",
            "Host: evil.example.com",
        ])
        .arg(format!("http://127.0.0.1:{plain}/app/page?x=1"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("308 https://localhost:{}/app/page?x=1", served.port)
    );
}
