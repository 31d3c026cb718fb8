//! `samlgate serve` runs one single-threaded event loop per core (or `[server] workers`), all
//! accepting from one socket, each with its own backend pool (`gateway::event_loops`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::num::NonZeroUsize;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use hyper::StatusCode;
use samlgate::saml::issue::ResponseSpec;
use samlgate::server::event_loops::{self, EventLoops};

use crate::support;
use crate::support::free_port;
use crate::support::gateway::{
    Browser, Setup, read_redirect_request, spawn_serve, wait_listening, write_config,
};
use crate::support::raw_http::stop_with_sigterm;

/// One HTTP/1.1 GET on a kept-alive connection; returns the body.
fn get_on(stream: &mut BufReader<TcpStream>, path: &str) -> String {
    write!(
        stream.get_mut(),
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    .unwrap();
    let mut length = 0usize;
    let mut status = String::new();
    stream.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

fn connect(addr: std::net::SocketAddr) -> BufReader<TcpStream> {
    BufReader::new(TcpStream::connect(addr).unwrap())
}

/// Connections go to the loops in turn, so a burst of them is shared out; while one loop is held
/// busy, a connection given to the other is served. A connection's requests all run on its loop.
#[test]
fn loops_take_connections_in_turn_a_busy_loop_does_not_hold_up_the_others() {
    let (held_tx, held_rx) = mpsc::channel::<usize>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let held_tx = Arc::new(Mutex::new(held_tx));
    let release_rx = Arc::new(Mutex::new(release_rx));
    let router = Router::new()
        .route(
            "/where",
            get(|| async { event_loops::current().to_string() }),
        )
        .route(
            "/hold",
            get(move || {
                let (held_tx, release_rx) = (held_tx.clone(), release_rx.clone());
                async move {
                    let here = event_loops::current();
                    held_tx.lock().unwrap().send(here).unwrap();
                    // Block this loop's only thread, as a long computation would.
                    release_rx.lock().unwrap().recv().unwrap();
                    here.to_string()
                }
            }),
        );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let loops = EventLoops::new(NonZeroUsize::new(2).unwrap()).unwrap();
    assert_eq!(loops.count(), 2);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        loops.serve(listener, router, async move {
            let _ = stop_rx.await;
        })
    });

    let mut holder = connect(addr);
    write!(
        holder.get_mut(),
        "GET /hold HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    .unwrap();
    let busy = held_rx.recv().unwrap();
    assert!(busy < 2);

    let mut other = connect(addr);
    let answers: Vec<String> = (0..3).map(|_| get_on(&mut other, "/where")).collect();
    let free = (1 - busy).to_string();
    assert_eq!(answers, vec![free.clone(), free.clone(), free]);

    release_tx.send(()).unwrap();
    let mut status = String::new();
    holder.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");

    // Four more connections, open at once: two on each loop, alternating.
    let mut burst: Vec<_> = (0..4).map(|_| connect(addr)).collect();
    let loops: Vec<String> = burst.iter_mut().map(|c| get_on(c, "/where")).collect();
    assert_eq!(loops, ["0", "1", "0", "1"]);

    drop((holder, other, burst));
    stop_tx.send(()).unwrap();
    let result = server.join().unwrap();
    assert!(result.is_ok(), "{result:?}");
}

/// Threads that are not event loops (tests, `demo`'s runtime) report loop 0, whose proxy pool
/// they use.
#[test]
fn threads_outside_the_loops_count_as_the_first() {
    assert_eq!(std::thread::spawn(event_loops::current).join().unwrap(), 0);
}

/// The real binary with `workers = 2`: sign in, requests over many connections reach the backend
/// with the identity, and SIGTERM ends it cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samlgate_serve_on_two_loops_signs_in_proxies_and_stops_on_sigterm() {
    let backend = support::gateway::echo_backend().await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup {
        server_extra: "workers = 2\nlog_format = \"json\"".into(),
        backend: Some(backend),
        ..Setup::default()
    };
    let (config_path, _) = write_config(dir.path(), port, &setup);
    let child = spawn_serve(&config_path, true);
    let base = format!("http://127.0.0.1:{port}");
    wait_listening(&[port]).await;

    let mut browser = Browser::new(&base);
    let start = browser.get("/app").await;
    assert_eq!(start.status, StatusCode::FOUND, "{}", start.body);
    let request = read_redirect_request(start.location());
    let mut spec = ResponseSpec::new(
        support::test_idp::IDP,
        support::gateway::SP_ENTITY,
        &format!("{base}/saml/acs"),
        "erin@example.com",
        time::OffsetDateTime::now_utc(),
    );
    spec.in_response_to = Some(request.id);
    spec.attributes = vec![("mail".into(), vec!["erin@example.com".into()])];
    let done = browser
        .post_acs(
            &support::gateway::signed_b64(&spec),
            request.relay_state.as_deref(),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);

    // Sixteen browsers sharing the session, each its own connection, four requests each.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let mut b = Browser::new(&base);
        b.cookies = browser.cookies.clone();
        tasks.push(tokio::spawn(async move {
            let mut users = Vec::new();
            for _ in 0..4 {
                let reply = b.get("/app/x").await;
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
                users.push(reply.body.contains("erin@example.com"));
            }
            users
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), vec![true; 4]);
    }

    let output = stop_with_sigterm(child).await;
    assert!(output.0.success(), "{:?}: {}", output.0, output.1);
    assert!(output.1.contains("\"event_loops\":2"), "{}", output.1);
}

/// The ACS validates off the event loops: while one validation is held where it runs (a stand-in
/// for a slow or hostile Response), the only event loop goes on answering proxied requests and
/// starting logins. With `acs_concurrency = 1` a second ACS post finds no slot and gets 503
/// after a bounded wait; released, the held login completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_acs_validation_leaves_the_event_loop_serving_proxied_requests() {
    let gateway = OneLoop::start("workers = 1\nacs_concurrency = 1").await;
    let (state, base) = (Arc::clone(&gateway.state), gateway.base.clone());
    let (held_tx, held_rx) = mpsc::channel::<String>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (held_tx, release_rx) = (Mutex::new(held_tx), Mutex::new(release_rx));
    let hook = move || {
        let thread = std::thread::current().name().unwrap_or("").to_string();
        held_tx.lock().unwrap().send(thread).unwrap();
        release_rx.lock().unwrap().recv().unwrap();
    };
    assert!(state.acs_work.hook.set(Box::new(hook)).is_ok());

    // A login, its Response posted and held in validation.
    let mut browser = Browser::new(&base);
    let start = browser.get("/app").await;
    assert_eq!(start.status, StatusCode::FOUND, "{}", start.body);
    let request = read_redirect_request(start.location());
    let mut spec = ResponseSpec::new(
        support::test_idp::IDP,
        support::gateway::SP_ENTITY,
        &format!("{base}/saml/acs"),
        "erin@example.com",
        time::OffsetDateTime::now_utc(),
    );
    spec.in_response_to = Some(request.id);
    let form = |response: &str, relay: Option<&str>| {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("SAMLResponse", response);
        if let Some(r) = relay {
            form.append_pair("RelayState", r);
        }
        form.finish()
    };
    let body = form(
        &support::gateway::signed_b64(&spec),
        request.relay_state.as_deref(),
    );
    let held = tokio::spawn(async move {
        let reply = browser
            .send(hyper::Method::POST, "/saml/acs", &[], Some(body))
            .await;
        (reply.status, reply.location().to_string())
    });
    let validating_on = tokio::task::spawn_blocking(move || {
        held_rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the ACS validation started")
    })
    .await
    .unwrap();
    assert_ne!(
        validating_on,
        OneLoop::THREAD,
        "validation runs off the event loop"
    );

    // Meanwhile the one event loop serves: a proxied request, a login start.
    let within = std::time::Duration::from_secs(10);
    let mut other = Browser::new(&base);
    let proxied = tokio::time::timeout(within, other.get("/public/page"))
        .await
        .expect("a proxied request is answered while the ACS validation is held");
    assert_eq!(proxied.status, StatusCode::OK, "{}", proxied.body);
    assert!(proxied.body.contains("What the backend received"));
    let login = tokio::time::timeout(within, other.get("/app"))
        .await
        .unwrap();
    assert_eq!(login.status, StatusCode::FOUND);

    // The one validation slot is taken: another ACS post waits, then gets 503.
    let waited = std::time::Instant::now();
    let busy = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        other.send(
            hyper::Method::POST,
            "/saml/acs",
            &[],
            Some(form("PGdhcmJhZ2U+", None)),
        ),
    )
    .await
    .expect("answered after the bounded wait");
    assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(waited.elapsed() >= samlgate::server::offload::SLOT_WAIT);
    assert_eq!(state.metrics.get("samlgate_acs_busy_total", &[]), 1.0);

    // Released, the held login completes.
    release_tx.send(()).unwrap();
    let (status, location) = held.await.unwrap();
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/app");

    gateway.stop().await;
}

/// A gateway served as `serve` serves it, on one event loop of its own named thread, with a
/// public `/public` route in front of the echo backend.
struct OneLoop {
    state: Arc<samlgate::gateway::AppState>,
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: std::thread::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl OneLoop {
    const THREAD: &str = "test-event-loop";

    async fn start(server_extra: &str) -> OneLoop {
        let backend = support::gateway::echo_backend().await;
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let setup = Setup {
            server_extra: server_extra.into(),
            backend: Some(backend),
            routes: "[[route]]\npath = \"/public\"\npublic = true\n".into(),
            ..Setup::default()
        };
        let (config_path, _) = write_config(dir.path(), port, &setup);
        let config = samlgate::config::load(&config_path).unwrap().config;
        let (state_tx, state_rx) = mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = std::thread::Builder::new()
            .name(Self::THREAD.into())
            .spawn(move || {
                let loops = EventLoops::new(NonZeroUsize::new(1).unwrap()).unwrap();
                let (router, state) = loops
                    .block_on(async {
                        samlgate::gateway::build(config, samlgate::gateway::system_clock())
                    })
                    .unwrap();
                state_tx.send(state).unwrap();
                let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
                loops.serve(listener, router, async move {
                    let _ = stop_rx.await;
                })
            })
            .unwrap();
        let state = state_rx.recv().unwrap();
        wait_listening(&[port]).await;
        OneLoop {
            state,
            base: format!("http://127.0.0.1:{port}"),
            stop,
            server,
            _dir: dir,
        }
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        let server = self.server;
        let result = tokio::task::spawn_blocking(move || server.join().unwrap())
            .await
            .unwrap();
        assert!(result.is_ok(), "{result:?}");
    }
}

/// Signing an AuthnRequest (an RSA private-key operation any visitor can ask for) runs off the
/// event loop: while one is held where it runs, the only loop goes on answering proxied
/// requests; released, the visitor gets the redirect to the IdP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_authn_request_signing_leaves_the_event_loop_serving_proxied_requests() {
    let gateway = OneLoop::start("workers = 1").await;
    let (held_tx, held_rx) = mpsc::channel::<String>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (held_tx, release_rx) = (Mutex::new(held_tx), Mutex::new(release_rx));
    let hook = move || {
        let thread = std::thread::current().name().unwrap_or("").to_string();
        held_tx.lock().unwrap().send(thread).unwrap();
        release_rx.lock().unwrap().recv().unwrap();
    };
    assert!(gateway.state.login_work.hook.set(Box::new(hook)).is_ok());

    let base = gateway.base.clone();
    let held = tokio::spawn(async move { Browser::new(&base).get("/app").await });
    let signing_on = tokio::task::spawn_blocking(move || {
        held_rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the AuthnRequest signing started")
    })
    .await
    .unwrap();
    assert_ne!(
        signing_on,
        OneLoop::THREAD,
        "signing runs off the event loop"
    );

    let proxied = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        Browser::new(&gateway.base).get("/public/page"),
    )
    .await
    .expect("a proxied request is answered while the signing is held");
    assert_eq!(proxied.status, StatusCode::OK, "{}", proxied.body);

    release_tx.send(()).unwrap();
    let start = held.await.unwrap();
    assert_eq!(start.status, StatusCode::FOUND, "{}", start.body);
    assert!(
        start.location().contains("&Signature="),
        "a signed HTTP-Redirect request: {}",
        start.location()
    );
    gateway.stop().await;
}

/// Text logs written to a file or a pipe (a journal, `> samlgate.log`) carry no terminal colour
/// codes, and still say that the gateway listens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_into_a_pipe_have_no_colour_codes() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let (config_path, _) = write_config(dir.path(), port, &Setup::default());
    let child = spawn_serve(&config_path, true);
    wait_listening(&[port]).await;
    let (status, output) = stop_with_sigterm(child).await;
    assert!(status.success(), "{status:?}: {output}");
    assert!(output.contains(" listening on "), "{output}");
    assert!(!output.contains('\u{1b}'), "colour codes in: {output:?}");
}

/// Signing out without a session (an expired cookie, a second click) logs no library warning:
/// the admin's log carries the gateway's own lines, not its dependencies' chatter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_without_a_session_logs_no_library_warning() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let (config_path, _) = write_config(dir.path(), port, &Setup::default());
    let child = spawn_serve(&config_path, true);
    wait_listening(&[port]).await;
    let base = format!("http://127.0.0.1:{port}");
    let mut browser = Browser::new(&base);
    let out = browser.sign_out(&base).await;
    assert!(out.status.is_success(), "{}: {}", out.status, out.body);
    let (status, output) = stop_with_sigterm(child).await;
    assert!(status.success(), "{status:?}: {output}");
    assert!(!output.contains("tower_sessions"), "{output}");
}

/// SIGTERM as soon as the port accepts connections (a supervisor stopping a service it has just
/// started, a script that waits for the port and then stops it) is a clean stop, exit status 0:
/// the signal is listened for before the listener is bound, not from the first poll of the
/// event loop, when it would have met the default action and killed the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_as_soon_as_the_port_accepts_is_a_clean_stop() {
    for _ in 0..5 {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let (config_path, _) = write_config(dir.path(), port, &Setup::default());
        let child = spawn_serve(&config_path, true);
        // Connect in a tight loop, so that the signal follows the bind as closely as it can.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "nothing listens");
            std::thread::yield_now();
        }
        let (status, output) = stop_with_sigterm(child).await;
        assert!(status.success(), "{status:?}: {output}");
    }
}
