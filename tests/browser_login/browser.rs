//! A real browser for tests: Debian's `chromium`, headless, driven over WebDriver (fantoccini)
//! through a `chromedriver` that the test starts on a free loopback port and stops at the end.
//!
//! Every step can be saved as a PNG under `build/browser/<test>/` so a failed login can be
//! looked at afterwards.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The flags every test browser runs with: no sandbox (containers), no GPU, and nothing that
/// reaches the network on its own (updates, sync, QUIC probes), so the only traffic is the test's.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--window-size=1100,900",
];

/// How long a page may take to reach the state a test waits for.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(20);

/// Why the browser cannot run here, if it cannot.
pub fn available() -> Result<(), String> {
    for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        if !Path::new(path).exists() {
            return Err(format!(
                "{path} not found (Debian package {package}; scripts/install-test-deps)"
            ));
        }
    }
    Ok(())
}

/// Kill a child and everything in the process group it leads (it was started with
/// `process_group(0)`, so the group id is its pid and holds only what it spawned).
pub fn kill_group(child: &mut Child) {
    let pgid = child.id();
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// Wait until something accepts TCP connections on `port`.
pub fn wait_for_port(port: u16, timeout: Duration) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "nothing listens on 127.0.0.1:{port} after {timeout:?}"
    ))
}

/// The chromedriver process; killed with its group when dropped.
struct Chromedriver {
    child: Child,
    port: u16,
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// A headless chromium session with a fresh profile.
pub struct Browser {
    pub client: Client,
    driver: Chromedriver,
    _profile: tempfile::TempDir,
    shots: PathBuf,
    step: AtomicUsize,
}

impl Browser {
    /// Start chromedriver on a free port and open a chromium session. Screenshots go to
    /// `build/browser/<test_name>/` (emptied first).
    pub async fn start(test_name: &str) -> Browser {
        let port = crate::support::free_port();
        let shots = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("build/browser")
            .join(test_name);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).expect("create build/browser/<test>");
        let log = std::fs::File::create(shots.join("chromedriver.log")).expect("chromedriver log");
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log handle"))
                .stderr(log)
                .process_group(0)
                .spawn()
                .expect("spawn chromedriver")
        };
        let driver = Chromedriver { child, port };
        wait_for_port(port, Duration::from_secs(20)).expect("chromedriver did not start");

        let profile = tempfile::tempdir().expect("profile dir");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "chrome".into());
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": CHROMIUM, "args": args }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("open a chromium session through chromedriver");
        Browser {
            client,
            driver,
            _profile: profile,
            shots,
            step: AtomicUsize::new(0),
        }
    }

    /// End the session (chromedriver then stops chromium), then chromedriver itself.
    pub async fn close(self) {
        let _ = self.client.close().await;
        drop(self.driver);
    }

    /// Save the page as `NN-<name>.png`; returns the file.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let n = self.step.fetch_add(1, Ordering::SeqCst) + 1;
        let path = self.shots.join(format!("{n:02}-{name}.png"));
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    }

    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("current url")
            .to_string()
    }

    /// The visible text of the page (what a person would read); empty while the browser is
    /// between two pages (no body yet, or the old one gone), so that the waits poll again
    /// instead of failing on a page caught mid-navigation.
    pub async fn text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Type `value` into the input matched by `css`.
    pub async fn fill(&self, css: &str, value: &str) {
        let found = self
            .client
            .wait()
            .at_most(PAGE_TIMEOUT)
            .for_element(Locator::Css(css))
            .await;
        let field = match found {
            Ok(field) => field,
            Err(e) => panic!("no {css} on {}: {e}", self.url().await),
        };
        field.clear().await.expect("clear field");
        field.send_keys(value).await.expect("type into field");
    }

    pub async fn click(&self, css: &str) {
        let element = match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no {css} on {}: {e}", self.url().await),
        };
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Wait until the page's URL starts with `prefix` and the document has loaded.
    pub async fn wait_for_url(&self, prefix: &str) -> String {
        let start = Instant::now();
        loop {
            let url = self.url().await;
            if url.starts_with(prefix) && self.loaded().await {
                return url;
            }
            if start.elapsed() > PAGE_TIMEOUT {
                let text = self.text().await;
                panic!(
                    "still on {url} after {PAGE_TIMEOUT:?}, waiting for {prefix}; page says:\n{text}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait until the page's text contains `needle`; returns the text.
    pub async fn wait_for_text(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            if start.elapsed() > PAGE_TIMEOUT {
                let url = self.url().await;
                panic!("{url} never showed {needle:?} in {PAGE_TIMEOUT:?}; page says:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn loaded(&self) -> bool {
        matches!(
            self.client.execute("return document.readyState", vec![]).await,
            Ok(serde_json::Value::String(s)) if s == "complete"
        )
    }
}
