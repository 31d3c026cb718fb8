//! What `samlgate serve` and `samlgate demo` write for an admin: one start line that says what
//! runs (version, configuration, IdPs, backend, store, listeners), an access log when asked for,
//! no library noise, and a demo that stops on SIGTERM and leaves no key behind.

use std::io::{BufRead, BufReader};

use hyper::StatusCode;
use samlgate::saml::issue::ResponseSpec;

use crate::support::free_port;
use crate::support::gateway::*;
use crate::support::raw_http::stop_with_sigterm;
use crate::support::test_idp::IDP;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_line_says_what_runs_and_library_spans_stay_out_of_the_log() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let (config_path, _) = write_config(dir.path(), port, &Setup::default());
    let child = spawn_serve(&config_path, true);
    wait_listening(&[port]).await;
    // A refused login: the gateway logs it from inside the session layer.
    let mut browser = Browser::new(&format!("http://127.0.0.1:{port}"));
    let refused = browser.post_acs("bm90IGEgcmVzcG9uc2U=", None).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let (status, output) = stop_with_sigterm(child).await;
    assert!(status.success(), "{status:?}: {output}");
    let start = output
        .lines()
        .find(|l| l.contains(" listening on "))
        .unwrap_or_else(|| panic!("no start line in {output}"));
    for needle in [
        format!("samlgate {} (commit ", env!("CARGO_PKG_VERSION")),
        format!("listening on 127.0.0.1:{port} for http://127.0.0.1:{port}/"),
        format!("config {}", config_path.display()),
        format!("IdPs: corp ({IDP})"),
        "backend http://127.0.0.1:9".to_string(),
        "sessions in memory".to_string(),
    ] {
        assert!(start.contains(&needle), "{needle:?} not in {start}");
    }
    assert!(output.contains("login refused"), "{output}");
    assert!(
        !output.contains("call:") && !output.contains("call{"),
        "library spans in the log: {output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_names_method_path_status_user_duration_and_request_id() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let (config_path, _) = write_config(
        dir.path(),
        port,
        &Setup {
            server_extra: "access_log = true".into(),
            routes:
                "[[route]]\npath = \"/admin\"\nrequire_access_group = [\"MyOrg:Administrators\"]\n"
                    .into(),
            ..Setup::default()
        },
    );
    let child = spawn_serve(&config_path, true);
    wait_listening(&[port]).await;
    let base = format!("http://127.0.0.1:{port}");
    let mut browser = Browser::new(&base);
    let start = browser
        .get_with("/app?token=secret", &[("x-request-id", "req-42")])
        .await;
    assert_eq!(start.status, StatusCode::FOUND);
    let req = read_redirect_request(start.location());
    let mut spec = ResponseSpec::new(
        IDP,
        SP_ENTITY,
        &format!("{base}/saml/acs"),
        "alice@example.com",
        time::OffsetDateTime::now_utc(),
    );
    spec.in_response_to = Some(req.id.clone());
    let done = browser
        .post_acs(&signed_b64(&spec), req.relay_state.as_deref())
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    // The backend is a closed port: 502, but the user is known.
    let app = browser.get("/app").await;
    assert_eq!(app.status, StatusCode::BAD_GATEWAY);
    let admin = browser.get("/admin/").await;
    assert_eq!(admin.status, StatusCode::FORBIDDEN);
    let (status, output) = stop_with_sigterm(child).await;
    assert!(status.success(), "{status:?}: {output}");
    let first = output
        .lines()
        .find(|l| l.contains("GET /app 302"))
        .unwrap_or_else(|| panic!("no access line for the first request: {output}"));
    assert!(first.contains("request_id=req-42"), "{first}");
    assert!(
        first.contains("user=\"-\"") || first.contains("user=-"),
        "{first}"
    );
    assert!(first.contains("duration_ms="), "{first}");
    assert!(!first.contains("secret"), "the query stays out: {first}");
    assert!(output.contains("POST /saml/acs 303"), "{output}");
    let signed_in = output
        .lines()
        .find(|l| l.contains("GET /app 502"))
        .unwrap_or_else(|| panic!("no access line for the signed-in request: {output}"));
    assert!(signed_in.contains("alice@example.com"), "{signed_in}");
    assert!(signed_in.contains("request_id="), "{signed_in}");
    let denied = output
        .lines()
        .find(|l| l.contains("GET /admin/ 403"))
        .unwrap_or_else(|| panic!("no access line for the denied request: {output}"));
    assert!(denied.contains("alice@example.com"), "{denied}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_access_log_requests_are_not_logged_one_by_one() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let (config_path, _) = write_config(dir.path(), port, &Setup::default());
    let child = spawn_serve(&config_path, true);
    wait_listening(&[port]).await;
    let mut browser = Browser::new(&format!("http://127.0.0.1:{port}"));
    assert_eq!(browser.get("/app").await.status, StatusCode::FOUND);
    let (_, output) = stop_with_sigterm(child).await;
    assert!(!output.contains("GET /app 302"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_stops_on_sigterm_and_removes_its_files() {
    let port = free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_samlgate"))
        .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(dir) = line.trim().strip_prefix("files") {
                let _ = tx.send(dir.trim().to_string());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let dir = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the demo prints where its files are");
    let dir = std::path::PathBuf::from(dir);
    wait_listening(&[port]).await;
    assert!(dir.join("sp.key").exists(), "{}", dir.display());
    let (status, _) = stop_with_sigterm(child).await;
    let printed = reader.join().unwrap();
    assert!(status.success(), "{status:?}: {printed}");
    assert!(!dir.exists(), "{} left behind: {printed}", dir.display());
    assert!(printed.contains("stopped; removed"), "{printed}");
}

/// The start line names the Redis store without the password its URL carries.
#[test]
fn the_start_line_shows_the_redis_store_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_config(
        dir.path(),
        8080,
        &Setup {
            session: "store = \"redis\"\nurl = \"rediss://gw:s3cret@redis.internal:6380/3\"".into(),
            ..Setup::default()
        },
    );
    let loaded = samlgate::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let line = samlgate::cli::serve::start_line(&loaded.config, &path);
    assert!(!line.contains("s3cret"), "{line}");
    assert!(
        line.contains("sessions in redis rediss://redis.internal:6380/3"),
        "{line}"
    );
}
