//! A private `redis-server` per test: a free port, no persistence, stopped and started again
//! at will (fault tests), killed on drop.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support;

pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

/// Is `redis-server` installed? Under CI=true its absence is a failure, not a skip.
pub fn available() -> bool {
    support::require_tool("redis-server")
}

impl RedisServer {
    /// Start one on a free port; `None` (test skipped) when redis-server is missing.
    pub fn start() -> Option<RedisServer> {
        if !available() {
            return None;
        }
        let mut server = RedisServer {
            port: support::free_port(),
            child: None,
        };
        server.resume();
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Start (again) on the same port and wait until it answers.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.cli(&["PING"]).as_deref() == Some("PONG") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server on port {} did not answer PING", self.port);
    }

    /// Kill it (SIGKILL: what a crash looks like to the clients).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Run `redis-cli` against it; stdout trimmed, `None` on failure.
    pub fn cli(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
