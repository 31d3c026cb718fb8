//! Two gateway nodes sharing one private `redis-server`, as behind a load balancer: whatever
//! one node remembers, the other knows; Redis failing means 503, never a crash and never a
//! login without the replay check; both recover by themselves when Redis returns.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hyper::StatusCode;
use samlgate::gateway::{AppState, system_clock};
use samlgate::saml::issue::{ResponseSpec, SignParts};
use samlgate::session::tracking::{LEASE, SETTLE_MARGIN};
use samlgate::store::SessionIndexKey;
use samlgate::store::keys::KeySpace;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower_sessions::session::Id;

use crate::support;
use crate::support::gateway::{
    Browser, SP_ENTITY, Setup, echo_backend, read_redirect_request, write_config,
};
use crate::support::redis::RedisServer;
use crate::support::test_idp::{self, IDP};

const PREFIX: &str = "t:";
const COOKIE: &str = "samlgate_session";

struct Node {
    base: String,
    state: Arc<AppState>,
    server: JoinHandle<()>,
}

impl Node {
    fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    fn metric(&self, name: &'static str, labels: &[(&'static str, &str)]) -> f64 {
        self.state.metrics.get(name, labels)
    }

    /// What a crash looks like to the others: the listener is gone, its connections closed.
    async fn kill(&self) {
        self.server.abort();
        tokio::time::sleep(StdDuration::from_millis(50)).await;
        if let Some(redis) = &self.state.stores.redis {
            redis.quit().await;
        }
        if let Some(tracker) = self.state.sessions.tracker() {
            tracker.quit().await;
        }
    }
}

struct Cluster {
    redis: RedisServer,
    a: Node,
    b: Node,
    /// The public URL both nodes share (the load balancer's).
    public: String,
    _dir: tempfile::TempDir,
}

async fn start_node(config_path: &Path, listener: TcpListener) -> Node {
    let addr = listener.local_addr().unwrap();
    let loaded = samlgate::config::load(config_path).unwrap_or_else(|e| panic!("{e}"));
    let (router, state) = samlgate::gateway::build(loaded.config, system_clock()).unwrap();
    state
        .stores
        .redis
        .as_ref()
        .expect("the Redis store")
        .wait_connected()
        .await
        .unwrap();
    // Sessions are cached only once the tracker is in step with Redis (its first round).
    let tracker = state.sessions.tracker().expect("a session tracker");
    let deadline = Instant::now() + StdDuration::from_secs(15);
    while !tracker.barrier().await {
        assert!(
            Instant::now() < deadline,
            "session tracker not in step in 15 s"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    let server = tokio::spawn(async move {
        let _ = samlgate::server::serve_on(listener, router).await;
    });
    Node {
        base: format!("http://{addr}"),
        state,
        server,
    }
}

/// Two nodes over one configuration (`idp_extra` for the `[[idp]]` table), or `None` when
/// redis-server is not installed.
async fn cluster(idp_extra: &str) -> Option<Cluster> {
    let redis = RedisServer::start()?;
    let la = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lb = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port_a = la.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup {
        idp_extra: idp_extra.to_string(),
        session: format!(
            "store = \"redis\"\nurl = \"{}\"\nkey_prefix = \"{PREFIX}\"\npool_size = 4\ncommand_timeout = \"1s\"\nconnect_timeout = \"1s\"",
            redis.url()
        ),
        backend: Some(echo_backend().await),
        ..Setup::default()
    };
    let (config_path, _): (PathBuf, _) = write_config(dir.path(), port_a, &setup);
    let a = start_node(&config_path, la).await;
    let b = start_node(&config_path, lb).await;
    Some(Cluster {
        redis,
        public: format!("http://127.0.0.1:{port_a}"),
        a,
        b,
        _dir: dir,
    })
}

fn spec(
    public: &str,
    in_response_to: Option<&str>,
    name_id: &str,
    groups: &[String],
) -> ResponseSpec {
    let mut spec = ResponseSpec::new(
        IDP,
        SP_ENTITY,
        &format!("{public}/saml/acs"),
        name_id,
        OffsetDateTime::now_utc(),
    );
    spec.in_response_to = in_response_to.map(str::to_string);
    spec.attributes = vec![
        ("mail".to_string(), vec![name_id.to_string()]),
        ("groups".to_string(), groups.to_vec()),
    ];
    spec
}

/// `Browser::post_acs`, as a future that can move between threads.
async fn post_acs(browser: &mut Browser, response: &str, relay: Option<&str>) -> StatusCode {
    let body = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("SAMLResponse", response);
        if let Some(r) = relay {
            form.append_pair("RelayState", r);
        }
        form.finish()
    };
    browser
        .send(hyper::Method::POST, "/saml/acs", &[], Some(body))
        .await
        .status
}

fn signed(spec: &ResponseSpec) -> String {
    B64.encode(test_idp::signed(spec, SignParts::Both))
}

/// SP-initiated login of `browser` (pointed at some node) for `name_id`; returns the spec used.
async fn login(
    c: &Cluster,
    browser: &mut Browser,
    name_id: &str,
    groups: &[String],
) -> ResponseSpec {
    login_via(&c.public, browser, name_id, groups).await
}

async fn login_via(
    public: &str,
    browser: &mut Browser,
    name_id: &str,
    groups: &[String],
) -> ResponseSpec {
    let start = browser.get("/app/page").await;
    assert_eq!(start.status, StatusCode::FOUND, "{}", start.body);
    let req = read_redirect_request(start.location());
    let spec = spec(public, Some(&req.id), name_id, groups);
    let done = browser
        .post_acs(&signed(&spec), req.relay_state.as_deref())
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/app/page");
    spec
}

/// Who the node says this browser is (forward-auth), or the status when it says nobody.
async fn whoami(browser: &mut Browser) -> Result<String, StatusCode> {
    let r = browser
        .get_with("/saml/auth", &[("x-original-uri", "/app/page")])
        .await;
    match r.status {
        StatusCode::OK => Ok(r.header("x-forwarded-user").unwrap_or("").to_string()),
        other => Err(other),
    }
}

/// Who the backend is told this browser is, through the proxy (the path a cached session
/// takes), or the status when the request does not reach the backend.
async fn backend_sees(browser: &mut Browser) -> Result<String, StatusCode> {
    let r = browser.get("/json").await;
    if r.status != StatusCode::OK {
        return Err(r.status);
    }
    let json: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    Ok(json["identity"]["x-forwarded-user"]
        .as_str()
        .unwrap_or("")
        .to_string())
}

/// Does `node` hold `browser`'s session in its cache of decoded sessions?
fn cached_on(node: &Node, browser: &Browser) -> bool {
    let id: Id = browser.cookies.get(COOKIE).unwrap().parse().unwrap();
    let now = OffsetDateTime::now_utc();
    let idle = node.state.config.session.idle_timeout;
    node.state.sessions.cache().get(&id, now, idle).is_some()
}

/// Wait until `node` answers something other than 503 (after Redis came back).
async fn until_served(node: &Node, browser: &mut Browser) -> Result<String, StatusCode> {
    let deadline = Instant::now() + StdDuration::from_secs(15);
    loop {
        let r = backend_sees(browser).await;
        if r != Err(StatusCode::SERVICE_UNAVAILABLE) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{} still 503 after 15 s",
            node.base
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

/// `browser`'s cookies, now sent to `node`.
fn move_to(browser: &Browser, node: &Node) -> Browser {
    let mut moved = node.browser();
    moved.cookies = browser.cookies.clone();
    moved
}

async fn session_keys(c: &Cluster) -> Vec<String> {
    let out = c
        .redis
        .cli(&["--raw", "KEYS", &format!("{PREFIX}session:*")])
        .unwrap();
    out.lines().map(str::to_string).collect()
}

#[tokio::test]
async fn login_through_node_a_is_a_session_on_node_b() {
    let Some(c) = cluster("").await else { return };
    let mut on_a = c.a.browser();
    let spec = login(&c, &mut on_a, "alice@example.com", &["Staff".into()]).await;
    let mut on_b = move_to(&on_a, &c.b);
    assert_eq!(whoami(&mut on_b).await, Ok("alice@example.com".to_string()));
    assert_eq!(whoami(&mut on_a).await, Ok("alice@example.com".to_string()));

    // Another user's cookie never meets alice's session.
    let mut bob_on_b = c.b.browser();
    login(&c, &mut bob_on_b, "bob@example.com", &[]).await;
    assert_eq!(
        whoami(&mut bob_on_b).await,
        Ok("bob@example.com".to_string())
    );
    assert_eq!(whoami(&mut on_b).await, Ok("alice@example.com".to_string()));

    // The session is indexed under IdP + NameID (+ Format) + SessionIndex for single logout.
    let key = SessionIndexKey {
        idp_entity_id: IDP.to_string(),
        name_id: "alice@example.com".to_string(),
        name_id_format: Some(spec.name_id_format.clone()),
        name_qualifier: None,
        sp_name_qualifier: None,
        session_index: Some(spec.session_index.clone()),
    };
    let indexed = c
        .redis
        .cli(&[
            "--raw",
            "ZRANGE",
            &key.store_key(&KeySpace::new(PREFIX)),
            "0",
            "-1",
        ])
        .unwrap();
    let cookie = on_a.cookies.get(COOKIE).unwrap();
    assert_eq!(indexed, *cookie, "the index names alice's session ID");
}

#[tokio::test]
async fn a_relay_state_created_on_a_completes_on_b() {
    let Some(c) = cluster("").await else { return };
    let mut on_a = c.a.browser();
    let start = on_a.get("/app/reports?q=1").await;
    assert_eq!(start.status, StatusCode::FOUND);
    let req = read_redirect_request(start.location());
    let mut on_b = move_to(&on_a, &c.b);
    let done = on_b
        .post_acs(
            &signed(&spec(&c.public, Some(&req.id), "alice@example.com", &[])),
            req.relay_state.as_deref(),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/app/reports?q=1");
    let mut back_on_a = move_to(&on_b, &c.a);
    assert_eq!(
        whoami(&mut back_on_a).await,
        Ok("alice@example.com".to_string())
    );
}

#[tokio::test]
async fn a_response_consumed_on_a_is_refused_as_a_replay_on_b() {
    let Some(c) = cluster("allow_idp_initiated = true").await else {
        return;
    };
    let response = signed(&spec(&c.public, None, "alice@example.com", &[]));
    let mut first = c.a.browser();
    assert_eq!(
        first.post_acs(&response, None).await.status,
        StatusCode::SEE_OTHER
    );
    let mut second = c.b.browser();
    let replay = second.post_acs(&response, None).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert!(!second.cookies.contains_key(COOKIE));
    assert_eq!(
        c.b.metric(
            "samlgate_rejections_total",
            &[("idp", "corp"), ("kind", "replay")]
        ),
        1.0
    );
}

#[tokio::test]
async fn logout_on_a_ends_the_session_on_b() {
    let Some(c) = cluster("").await else { return };
    let mut on_a = c.a.browser();
    login(&c, &mut on_a, "alice@example.com", &[]).await;
    let stolen_copy = on_a.cookies.clone();
    let mut on_b = move_to(&on_a, &c.b);
    assert!(whoami(&mut on_b).await.is_ok());
    let out = on_a.sign_out(&c.public).await;
    assert_eq!(out.status, StatusCode::OK);
    // Even a copy of the old cookie is worthless on the other node.
    let mut copy_on_b = c.b.browser();
    copy_on_b.cookies = stolen_copy;
    assert_eq!(whoami(&mut copy_on_b).await, Err(StatusCode::UNAUTHORIZED));
    assert!(session_keys(&c).await.is_empty());
}

/// A WebSocket tunnel lasts no longer than its session, whichever node ended it.
#[tokio::test]
async fn logout_on_a_closes_a_tunnel_opened_through_b() {
    use crate::support::websocket::{closes, echoes, open_socket};
    let Some(c) = cluster("").await else { return };
    let mut on_a = c.a.browser();
    login(&c, &mut on_a, "alice@example.com", &[]).await;
    let mut socket = open_socket(&c.b.base, &on_a.cookies).await;
    echoes(&mut socket, "through b").await;
    assert_eq!(on_a.sign_out(&c.public).await.status, StatusCode::OK);
    closes(&mut socket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cached_on_b_ends_there_the_moment_a_logs_it_out() {
    let Some(c) = cluster("").await else { return };
    // No waiting between the logout and the next request: B's cache must already know.
    for round in 0..25 {
        let user = format!("user{round}@example.com");
        let mut on_a = c.a.browser();
        login(&c, &mut on_a, &user, &[]).await;
        let mut on_b = move_to(&on_a, &c.b);
        assert_eq!(backend_sees(&mut on_b).await, Ok(user.clone()));
        assert!(
            cached_on(&c.b, &on_b),
            "round {round}: B caches the session"
        );
        assert_eq!(backend_sees(&mut on_b).await, Ok(user.clone()));
        // Forward-auth (nginx auth_request) answers from the same cache.
        assert_eq!(whoami(&mut on_b).await, Ok(user.clone()));
        assert_eq!(on_a.sign_out(&c.public).await.status, StatusCode::OK);
        let (forward_auth, proxied) = if round % 2 == 0 {
            (whoami(&mut on_b).await, backend_sees(&mut on_b).await)
        } else {
            let proxied = backend_sees(&mut on_b).await;
            (whoami(&mut on_b).await, proxied)
        };
        assert_eq!(
            forward_auth,
            Err(StatusCode::UNAUTHORIZED),
            "round {round}: B's forward-auth vouched for a session A had ended"
        );
        assert_eq!(
            proxied,
            Err(StatusCode::FOUND),
            "round {round}: B served a session A had ended"
        );
    }
}

#[tokio::test]
async fn sessions_cached_on_b_are_forgotten_when_redis_is_flushed_or_restarts_empty() {
    let Some(mut c) = cluster("").await else {
        return;
    };
    let mut on_a = c.a.browser();
    login(&c, &mut on_a, "alice@example.com", &[]).await;
    let mut on_b = move_to(&on_a, &c.b);
    assert_eq!(
        backend_sees(&mut on_b).await,
        Ok("alice@example.com".into())
    );
    assert!(cached_on(&c.b, &on_b));
    assert_eq!(c.redis.cli(&["FLUSHDB"]).as_deref(), Some("OK"));
    // No node deleted these sessions, so none waited out the lease for the others: B may
    // serve them for one lease more, and not after.
    tokio::time::sleep(LEASE + SETTLE_MARGIN).await;
    assert_eq!(backend_sees(&mut on_b).await, Err(StatusCode::FOUND));

    login(&c, &mut on_a, "bob@example.com", &[]).await;
    let mut on_b = move_to(&on_a, &c.b);
    assert_eq!(backend_sees(&mut on_b).await, Ok("bob@example.com".into()));
    assert!(cached_on(&c.b, &on_b));
    c.redis.stop();
    tokio::time::sleep(LEASE + SETTLE_MARGIN).await;
    assert_eq!(
        backend_sees(&mut on_b).await,
        Err(StatusCode::SERVICE_UNAVAILABLE),
        "no Redis: past its lease, the cache alone never vouches for a session"
    );
    c.redis.resume();
    assert_eq!(until_served(&c.b, &mut on_b).await, Err(StatusCode::FOUND));
}

#[tokio::test]
async fn node_a_killed_node_b_keeps_serving_its_sessions() {
    let Some(c) = cluster("").await else { return };
    let mut on_a = c.a.browser();
    login(&c, &mut on_a, "alice@example.com", &[]).await;
    c.a.kill().await;
    assert!(
        tokio::net::TcpStream::connect(c.a.base.trim_start_matches("http://"))
            .await
            .is_err(),
        "node A is gone"
    );
    let mut on_b = move_to(&on_a, &c.b);
    assert_eq!(whoami(&mut on_b).await, Ok("alice@example.com".to_string()));
    // And B completes new logins alone.
    let mut fresh = c.b.browser();
    login(&c, &mut fresh, "bob@example.com", &[]).await;
    assert_eq!(whoami(&mut fresh).await, Ok("bob@example.com".to_string()));
}

#[tokio::test]
async fn redis_down_means_503_never_a_login_and_recovery_without_restart() {
    let Some(mut c) = cluster("allow_idp_initiated = true").await else {
        return;
    };
    let mut alice = c.a.browser();
    login(&c, &mut alice, "alice@example.com", &[]).await;

    c.redis.stop();

    let mut alice_on_b = move_to(&alice, &c.b);
    let t = Instant::now();
    let r = alice_on_b
        .get_with("/saml/auth", &[("x-original-uri", "/app/page")])
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(t.elapsed() < StdDuration::from_secs(5), "{:?}", t.elapsed());
    let page = alice_on_b.get("/app/page").await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page.body.contains("temporarily unavailable"),
        "{}",
        page.body
    );

    // A login starts without Redis (nothing is stored for it), but cannot complete: its
    // AuthnRequest ID could not be made single-use.
    let mut newcomer = c.a.browser();
    let start = newcomer.get("/saml/login?idp=corp").await;
    assert_eq!(start.status, StatusCode::FOUND, "{}", start.body);
    let req = read_redirect_request(start.location());
    let answer = signed(&spec(&c.public, Some(&req.id), "carol@example.com", &[]));
    let refused = newcomer.post_acs(&answer, req.relay_state.as_deref()).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!newcomer.cookies.contains_key(COOKIE));

    // Fail closed: a valid IdP-initiated Response cannot log in without the replay check.
    let response = signed(&spec(&c.public, None, "mallory@example.com", &[]));
    let mut mallory = c.b.browser();
    let refused = mallory.post_acs(&response, None).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!mallory.cookies.contains_key(COOKIE));

    for node in [&c.a, &c.b] {
        let mut probe = node.browser();
        let ready = probe.get("/readyz").await;
        assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(ready.body, "store unavailable (redis)\n");
        assert_eq!(probe.get("/healthz").await.status, StatusCode::OK);
    }

    c.redis.resume();
    for node in [&c.a, &c.b] {
        let deadline = Instant::now() + StdDuration::from_secs(15);
        let mut probe = node.browser();
        while probe.get("/readyz").await.status != StatusCode::OK {
            assert!(
                Instant::now() < deadline,
                "node did not recover within 15 s"
            );
            tokio::time::sleep(StdDuration::from_millis(100)).await;
        }
    }
    // The restarted Redis is empty (no persistence): alice signs in again, on either node.
    let mut alice_again = c.b.browser();
    login(&c, &mut alice_again, "alice@example.com", &[]).await;
    let mut on_a = move_to(&alice_again, &c.a);
    assert_eq!(whoami(&mut on_a).await, Ok("alice@example.com".to_string()));
    // The Response refused while Redis was down was never recorded; it works once now.
    let mut retry = c.a.browser();
    assert_eq!(
        retry.post_acs(&response, None).await.status,
        StatusCode::SEE_OTHER
    );
    let mut replay = c.b.browser();
    assert_eq!(
        replay.post_acs(&response, None).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_response_posted_50_times_across_both_nodes_makes_one_session() {
    let Some(c) = cluster("allow_idp_initiated = true").await else {
        return;
    };
    let response = signed(&spec(&c.public, None, "alice@example.com", &[]));
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let base = if i % 2 == 0 { &c.a.base } else { &c.b.base };
            let mut browser = Browser::new(base);
            let response = response.clone();
            tokio::spawn(async move { post_acs(&mut browser, &response, None).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::SEE_OTHER)
        .count();
    assert_eq!(created, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::SEE_OTHER || *s == StatusCode::BAD_REQUEST),
        "{statuses:?}"
    );
    assert_eq!(session_keys(&c).await.len(), 1);
    let logins = c.a.metric("samlgate_logins_total", &[("idp", "corp")])
        + c.b.metric("samlgate_logins_total", &[("idp", "corp")]);
    assert_eq!(logins, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_relay_state_posted_50_times_across_both_nodes_makes_one_session() {
    let Some(c) = cluster("").await else { return };
    let mut starter = c.a.browser();
    let start = starter.get("/app/page").await;
    let req = read_redirect_request(start.location());
    // Each post a different Response (its own Assertion ID) to the one AuthnRequest: only the
    // request ID, single-use across both nodes, stops the other 49.
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let node = if i % 2 == 0 { &c.a } else { &c.b };
            let mut browser = move_to(&starter, node);
            let response = signed(&spec(&c.public, Some(&req.id), "alice@example.com", &[]));
            let relay = req.relay_state.clone();
            tokio::spawn(async move { post_acs(&mut browser, &response, relay.as_deref()).await })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        if t.await.unwrap() == StatusCode::SEE_OTHER {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    assert_eq!(session_keys(&c).await.len(), 1);
}

#[tokio::test]
async fn a_user_with_150_groups_costs_a_few_kb_in_redis_and_nothing_in_the_cookie() {
    let Some(c) = cluster("").await else { return };
    let groups: Vec<String> = (0..150)
        .map(|i| format!("MyOrg:Department-{i:03}-Readers"))
        .collect();
    let mut browser = c.a.browser();
    login(&c, &mut browser, "alice@example.com", &groups).await;
    let cookie = browser.cookies.get(COOKIE).unwrap();
    assert!(
        cookie.len() <= 32,
        "the cookie holds only the session ID: {cookie}"
    );
    let keys = session_keys(&c).await;
    assert_eq!(keys.len(), 1);
    let bytes: usize = c.redis.cli(&["STRLEN", &keys[0]]).unwrap().parse().unwrap();
    let groups_bytes: usize = groups.iter().map(String::len).sum();
    eprintln!(
        "session record with 150 groups: {bytes} bytes in Redis ({groups_bytes} bytes of group names)"
    );
    assert!(
        bytes >= groups_bytes,
        "the groups are in the record ({bytes} bytes)"
    );
    assert!(bytes < 8 * 1024, "{bytes} bytes");
}

#[tokio::test]
async fn a_response_to_an_authn_request_answered_on_a_is_refused_on_b() {
    let Some(c) = cluster("").await else { return };
    let mut on_a = c.a.browser();
    let start = on_a.get("/app/page").await;
    let req = read_redirect_request(start.location());
    let kept = on_a.cookies.clone();
    let first = signed(&spec(&c.public, Some(&req.id), "alice@example.com", &[]));
    let done = on_a.post_acs(&first, req.relay_state.as_deref()).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);

    // The login cookie as it was, with a fresh Response (a new Assertion ID) to the same
    // AuthnRequest, on the other node.
    let mut on_b = c.b.browser();
    on_b.cookies = kept;
    let again = signed(&spec(&c.public, Some(&req.id), "alice@example.com", &[]));
    let refused = on_b.post_acs(&again, req.relay_state.as_deref()).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(!on_b.cookies.contains_key(COOKIE));
    assert_eq!(
        c.b.metric(
            "samlgate_rejections_total",
            &[("idp", "corp"), ("kind", "request_replay")]
        ),
        1.0
    );
    let answered = c
        .redis
        .cli(&["--raw", "KEYS", &format!("{PREFIX}authnreq:*")])
        .unwrap();
    assert_eq!(
        answered.trim(),
        format!("{PREFIX}authnreq:{}:{},", req.id.len(), req.id),
        "the request ID is kept under its own key space"
    );
}

/// Redis holds nothing for visitors who have not signed in: anonymous requests of every kind,
/// on both nodes, leave its key count exactly where it was.
#[tokio::test]
async fn anonymous_requests_leave_the_redis_key_count_where_it_was() {
    let Some(c) = cluster("allow_idp_initiated = true").await else {
        return;
    };
    let mut alice = c.a.browser();
    login(&c, &mut alice, "alice@example.com", &[]).await;
    let dbsize = || -> u64 { c.redis.cli(&["DBSIZE"]).unwrap().trim().parse().unwrap() };
    let before = dbsize();
    assert!(
        before >= 3,
        "alice's session and index, the replay entries: {before}"
    );

    let mut starter = c.a.browser();
    let started = read_redirect_request(starter.get("/app/page").await.location());
    let spec_for_mallory = spec(&c.public, Some(&started.id), "mallory@example.com", &[]);
    let forged = B64.encode(
        test_idp::signer_with(test_idp::attacker_keys())
            .response(&spec_for_mallory, SignParts::Both)
            .unwrap(),
    );
    const N: usize = 1000;
    for i in 0..N {
        let node = if i % 2 == 0 { &c.a } else { &c.b };
        let mut anonymous = node.browser();
        let status = match i % 7 {
            0 => anonymous.get(&format!("/app/page{i}")).await.status,
            1 => {
                anonymous
                    .cookies
                    .insert(COOKIE.into(), Id::default().to_string());
                anonymous.get("/app/page").await.status
            }
            2 => anonymous.get("/saml/login?idp=corp").await.status,
            3 => {
                anonymous.cookies = starter.cookies.clone();
                post_acs(&mut anonymous, &forged, started.relay_state.as_deref()).await
            }
            4 => post_acs(&mut anonymous, &forged, None).await,
            5 => whoami(&mut anonymous).await.unwrap_err(),
            _ => anonymous.sign_out(&c.public).await.status,
        };
        assert!(
            [
                StatusCode::FOUND,
                StatusCode::BAD_REQUEST,
                StatusCode::UNAUTHORIZED,
                StatusCode::OK
            ]
            .contains(&status),
            "request {i}: {status}"
        );
    }
    assert_eq!(dbsize(), before);
    // The login started among them completes, on the other node.
    let mut on_b = move_to(&starter, &c.b);
    let done = on_b
        .post_acs(
            &signed(&spec(&c.public, Some(&started.id), "bob@example.com", &[])),
            started.relay_state.as_deref(),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(whoami(&mut on_b).await, Ok("bob@example.com".to_string()));
}

/// The once-a-minute touch rewrites the session record; it must keep the record's lifetime the
/// session's own end, not the session layer's default of two weeks, or every session ever
/// touched would linger in Redis for a fortnight.
#[tokio::test]
async fn a_touched_session_expires_in_redis_when_the_session_ends() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let gw = support::gateway::start(Setup {
        session: format!(
            "store = \"redis\"\nurl = \"{}\"\nkey_prefix = \"{PREFIX}\"\nabsolute_timeout = \"8h\"",
            redis.url()
        ),
        backend: Some(echo_backend().await),
        ..Setup::default()
    })
    .await;
    let mut browser = Browser::new(&gw.base);
    let signed_in =
        support::gateway::login(&gw, &mut browser, "/app", "tess@example.com", &[]).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    let ttl = |redis: &RedisServer| {
        let keys = redis
            .cli(&["--raw", "KEYS", &format!("{PREFIX}session:*")])
            .unwrap();
        let key = keys.lines().next().expect("one session key").to_string();
        redis
            .cli(&["--raw", "TTL", &key])
            .unwrap()
            .trim()
            .parse::<i64>()
            .unwrap()
    };
    let eight_hours = 8 * 3600;
    let at_login = ttl(&redis);
    assert!(
        at_login > 0 && at_login <= eight_hours,
        "TTL at login {at_login}"
    );

    // Two minutes on, a request is due for the touch, which saves the record again.
    gw.advance(time::Duration::minutes(2));
    let touched = browser.get("/app").await;
    assert_eq!(touched.status, StatusCode::OK, "{}", touched.body);
    let after_touch = ttl(&redis);
    assert!(
        after_touch > 0 && after_touch <= eight_hours + 180,
        "TTL after the touch {after_touch}s: the session ends within 8 h"
    );
}
