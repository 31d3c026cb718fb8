//! SimpleSAMLphp 1.19 (Debian) as a real third-party IdP with a login form, for one test:
//! configured by `scripts/simplesamlphp setup` in a temporary directory, served by PHP's
//! built-in server on a free loopback port, killed when dropped.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The test users of tests/simplesamlphp/authsources.php.
pub const ADMIN_USER: (&str, &str) = ("student", "studentpass");
pub const STAFF_USER: (&str, &str) = ("employee", "employeepass");

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/simplesamlphp")
}

/// Why SimpleSAMLphp cannot run here, if it cannot (`scripts/simplesamlphp check`).
pub fn available() -> Result<(), String> {
    let out = Command::new(script())
        .arg("check")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script().display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

pub struct SimpleSamlPhp {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// The IdP metadata it serves at /saml2/idp/metadata.php.
    pub metadata_xml: String,
    child: Child,
}

impl Drop for SimpleSamlPhp {
    fn drop(&mut self) {
        // PHP's server forks workers into its process group (started with process_group(0)).
        super::browser::kill_group(&mut self.child);
    }
}

impl SimpleSamlPhp {
    /// Set up and start an IdP on a free port; returns once it serves its metadata.
    pub fn start() -> SimpleSamlPhp {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = crate::support::free_port();
        run_script(&["setup", &dir.path().to_string_lossy(), &port.to_string()]);
        let log = std::fs::File::create(dir.path().join("log/php-server.log")).expect("log file");
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(script())
                .args(["run", &dir.path().to_string_lossy()])
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log handle"))
                .stderr(log)
                .process_group(0)
                .spawn()
                .expect("spawn scripts/simplesamlphp run")
        };
        let mut idp = SimpleSamlPhp {
            dir,
            port,
            metadata_xml: String::new(),
            child,
        };
        let start = Instant::now();
        loop {
            match http_get(port, "/saml2/idp/metadata.php") {
                Ok((200, body)) => {
                    idp.metadata_xml = body;
                    return idp;
                }
                Ok((status, body)) if start.elapsed() > Duration::from_secs(20) => {
                    panic!(
                        "SimpleSAMLphp metadata: HTTP {status}\n{body}\n{}",
                        idp.logs()
                    )
                }
                Err(e) if start.elapsed() > Duration::from_secs(20) => {
                    panic!("SimpleSAMLphp did not come up: {e}\n{}", idp.logs())
                }
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its entityID (SimpleSAMLphp's default: the metadata URL).
    pub fn entity_id(&self) -> String {
        format!("{}/saml2/idp/metadata.php", self.base_url())
    }

    /// Register an SP from its metadata XML, with extra saml20-sp-remote settings (a JSON
    /// object). SimpleSAMLphp reads its metadata on every request: no restart.
    pub fn add_sp(&self, sp_metadata_xml: &str, options_json: &str) {
        let file = self.dir.path().join(format!(
            "sp-{}.xml",
            std::fs::read_dir(self.dir.path())
                .map(|d| d.count())
                .unwrap_or(0)
        ));
        std::fs::write(&file, sp_metadata_xml).expect("write SP metadata");
        run_script(&[
            "add-sp",
            &self.dir.path().to_string_lossy(),
            &file.to_string_lossy(),
            options_json,
        ]);
    }

    /// IdP-initiated login for an SP (SimpleSAMLphp's `spentityid` parameter).
    pub fn idp_initiated_url(&self, sp_entity_id: &str) -> String {
        format!(
            "{}/saml2/idp/SSOService.php?spentityid={}",
            self.base_url(),
            url::form_urlencoded::byte_serialize(sp_entity_id.as_bytes()).collect::<String>()
        )
    }

    /// Its PHP server log and SimpleSAMLphp log, for failure messages.
    pub fn logs(&self) -> String {
        let read = |name: &str| {
            std::fs::read_to_string(self.dir.path().join("log").join(name)).unwrap_or_default()
        };
        let ssp = read("simplesamlphp.log");
        // The SimpleSAMLphp log is verbose (DEBUG, every SAML message): its tail is enough.
        let tail: Vec<&str> = ssp.lines().rev().take(60).collect();
        format!(
            "--- php server log ---\n{}\n--- simplesamlphp.log (last lines) ---\n{}",
            read("php-server.log"),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }
}

fn run_script(args: &[&str]) {
    let out = Command::new(script())
        .args(args)
        .output()
        .expect("run scripts/simplesamlphp");
    assert!(
        out.status.success(),
        "scripts/simplesamlphp {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A plain HTTP/1.0 GET on loopback: status and body.
pub fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP header end")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line in {head}"))?;
    Ok((status, body.to_string()))
}
