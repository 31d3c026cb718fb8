//! The OAuth authorization server the bearer-token tests talk to: `oidc-provider` from the npm
//! registry (installed into build/oauth/node_modules by scripts/install-test-deps), started on
//! a free loopback port by `tests/oauth/server.mjs`; and a backend that answers every path with
//! the headers it received, as JSON.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::extract::Request;

use crate::support;
use crate::support::peers::repo_root;

/// A running oidc-provider.
pub struct OidcProvider {
    pub port: u16,
    pub issuer: String,
    child: Child,
    http: reqwest::Client,
    env: Vec<(String, String)>,
}

/// Is node there, with oidc-provider installed? (`false`: skip, or fail under CI.)
pub fn available() -> bool {
    if !support::require_tool("node") {
        return false;
    }
    let installed = repo_root()
        .join("build/oauth/node_modules/oidc-provider")
        .is_dir();
    support::require(
        "oidc-provider",
        if installed {
            Ok(())
        } else {
            Err(
                "build/oauth/node_modules has no oidc-provider (run scripts/install-test-deps)"
                    .into(),
            )
        },
    )
}

fn spawn(port: u16, env: &[(String, String)]) -> Child {
    Command::new("node")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .arg(repo_root().join("tests/oauth/server.mjs"))
        .arg(port.to_string())
        .current_dir(repo_root().join("tests/oauth"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node tests/oauth/server.mjs")
}

impl OidcProvider {
    /// Start one on a free port and wait until it answers.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// [`start`], with these environment variables (`GATEWAY_CLIENT_JWK`: see server.mjs).
    /// The provider picks its own free port and names it on its first line of output.
    pub async fn start_with(env: &[(&str, String)]) -> Self {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let mut child = spawn(0, &env);
        let issuer = first_word(&mut child).await;
        let port = issuer
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {issuer:?}"));
        let mut op = OidcProvider {
            port,
            issuer,
            child,
            http: reqwest::Client::new(),
            env,
        };
        op.wait_ready().await;
        op
    }

    /// Stop it and start it again on the same port: new signing keys with new kids (a key
    /// rotation, as the issuer's clients see it).
    pub async fn restart_with_new_keys(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(self.port, &self.env);
        let issuer = first_word(&mut self.child).await;
        assert_eq!(issuer, self.issuer, "restarted on another port");
        self.wait_ready().await;
    }

    async fn wait_ready(&mut self) {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = self.http.get(&url).send().await
                && r.status().is_success()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "oidc-provider exited before answering ({status}); run node tests/oauth/server.mjs PORT to see why"
                );
            }
            assert!(
                Instant::now() < deadline,
                "oidc-provider did not answer {url} within 120 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// An access token of client `svc-secret` (client_secret_basic) for `resource`.
    pub async fn client_credentials(&self, resource: &str, scope: &str) -> String {
        let reply: serde_json::Value = self
            .http
            .post(format!("{}/token", self.issuer))
            .basic_auth("svc-secret", Some("svc-secret-password"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", resource),
                ("scope", scope),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        reply["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access_token: {reply}"))
            .to_owned()
    }

    /// An access token for user `sub` of client `svc-secret`, issued by the provider's own
    /// token model (see server.mjs).
    pub async fn user_token(
        &self,
        sub: &str,
        resource: &str,
        scope: &str,
        groups: &[&str],
    ) -> String {
        let reply: serde_json::Value = self
            .http
            .post(format!("{}/test/mint", self.issuer))
            .query(&[
                ("sub", sub),
                ("client_id", "svc-secret"),
                ("resource", resource),
                ("scope", scope),
                ("groups", &groups.join(",")),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        reply["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access_token: {reply}"))
            .to_owned()
    }

    /// The provider's published key set.
    pub async fn jwks(&self) -> serde_json::Value {
        self.http
            .get(format!("{}/jwks", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// The first word of the provider's first line of output (its issuer URL), waiting up to 120 s
/// (node starts slowly on a loaded machine); the rest of its output is read and dropped.
async fn first_word(child: &mut Child) -> String {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("piped stdout");
    // What node says on stderr (its warnings, a stack trace), kept to name the cause if no
    // address comes; the rest of it is read and dropped.
    let said = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    if let Some(stderr) = child.stderr.take() {
        let said = said.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut said = said.lock().unwrap();
                if said.len() < 4096 {
                    said.push_str(&line);
                    said.push('\n');
                }
            }
        });
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let _ = tx.send(first);
        for _ in lines {}
    });
    let line = match tokio::time::timeout(Duration::from_secs(120), rx).await {
        Ok(line) => line.unwrap_or_default(),
        Err(_) => panic!(
            "oidc-provider said nothing on stdout within 120 s (process: {:?}); on stderr:\n{}",
            child.try_wait(),
            said.lock().unwrap()
        ),
    };
    match line.split_whitespace().next() {
        Some(word) => word.to_owned(),
        None => panic!(
            "oidc-provider exited without naming its address ({:?}); on stderr:\n{}",
            child.try_wait(),
            said.lock().unwrap()
        ),
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A backend answering every path with `{"path": ..., "headers": {name: value}}`.
pub async fn header_echo() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|req: Request| async move {
        let headers: serde_json::Map<String, serde_json::Value> = req
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned().into(),
                )
            })
            .collect();
        axum::Json(serde_json::json!({"path": req.uri().path(), "headers": headers}))
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}
