//! Reloading the configuration on SIGHUP, through the real binary: a good configuration is
//! swapped in for the next requests while the session made before keeps working; a broken one
//! is refused with its errors in the log, and the running configuration keeps serving.

use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::StatusCode;
use samlgate::saml::issue::ResponseSpec;

use crate::support::gateway::{
    self, Browser, SP_ENTITY, Setup, read_redirect_request, signed_b64, spawn_serve, wait_listening,
};
use crate::support::test_idp::IDP;

/// Everything the child prints, collected as it comes.
fn collect(child: &mut std::process::Child) -> Arc<Mutex<String>> {
    let log = Arc::new(Mutex::new(String::new()));
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let mut l = log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
    }
    log
}

fn hang_up(child: &std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

async fn wait_until<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "not within 30 s: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_swaps_in_a_good_configuration_and_refuses_a_broken_one_sessions_survive() {
    let backend = gateway::echo_backend().await;
    let dir = tempfile::tempdir().unwrap();
    let port = crate::support::free_port();
    let setup = Setup {
        backend: Some(backend.clone()),
        ..Setup::default()
    };
    let (config, _) = gateway::write_config(dir.path(), port, &setup);
    let original = std::fs::read_to_string(&config).unwrap();
    let mut child = spawn_serve(&config, true);
    let log = collect(&mut child);
    wait_listening(&[port]).await;
    let base = format!("http://127.0.0.1:{port}");

    // A session before the reload.
    let mut browser = Browser::new(&base);
    let start = browser.get("/app").await;
    assert_eq!(start.status, StatusCode::FOUND, "{}", start.body);
    let request = read_redirect_request(start.location());
    let mut spec = ResponseSpec::new(
        IDP,
        SP_ENTITY,
        &format!("{base}/saml/acs"),
        "alice@example.org",
        time::OffsetDateTime::now_utc(),
    );
    spec.in_response_to = Some(request.id.clone());
    let signed_in = browser
        .post_acs(&signed_b64(&spec), request.relay_state.as_deref())
        .await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    assert_eq!(browser.get("/app").await.status, StatusCode::OK);

    // A good configuration: a second IdP, so a login without a choice shows the chooser.
    std::fs::write(
        &config,
        format!("{original}\n[[idp]]\nname = \"second\"\nmetadata = \"idp.xml\"\nmapping = \"mapping.toml\"\n"),
    )
    .unwrap();
    hang_up(&child);
    wait_until("the second IdP is offered", || {
        let base = base.clone();
        async move {
            let page = Browser::new(&base).get("/saml/login").await;
            page.status == StatusCode::OK && page.body.contains("second")
        }
    })
    .await;
    assert_eq!(
        browser.get("/app").await.status,
        StatusCode::OK,
        "the session made before the reload still works"
    );
    assert!(log.lock().unwrap().contains("configuration reloaded"));

    // A broken configuration: refused with its error, the running one keeps serving.
    std::fs::write(
        &config,
        format!("{original}\n[[idp]]\nname = \"third\"\nmetadata = \"idp.xml\"\nmaping = \"mapping.toml\"\n"),
    )
    .unwrap();
    hang_up(&child);
    wait_until("the refusal is logged", || {
        let log = log.clone();
        async move { log.lock().unwrap().contains("configuration reload refused") }
    })
    .await;
    let refusal = log
        .lock()
        .unwrap()
        .lines()
        .skip_while(|l| !l.contains("configuration reload refused"))
        .take(6)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        refusal.contains("maping"),
        "the unknown key is named: {refusal}"
    );
    let page = Browser::new(&base).get("/saml/login").await;
    assert!(
        page.body.contains("second") && !page.body.contains("third"),
        "{}",
        page.body
    );
    assert_eq!(browser.get("/app").await.status, StatusCode::OK);

    child.kill().unwrap();
    let _ = child.wait();
}
