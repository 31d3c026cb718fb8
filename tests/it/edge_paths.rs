//! One reading of the request path, held against real servers that read paths differently.
//!
//! The gateway (route `/admin` for the Administrators access group, `/healthcheck` public) sits
//! in front of: Debian's nginx with a case-sensitive `location /admin/` and, on a second port,
//! a case-insensitive `location ~* ^/admin(/|$)`; Python's http.server serving a folder with an
//! `admin/` directory; a backend that reads paths as servlet containers do (`;params` dropped
//! from each segment); and one that reads them as IIS does (case-insensitive, `\` for `/`,
//! trailing dots and spaces dropped). Every protected location answers a marker. Hundreds of
//! path variants (`tests/edge_paths/corpus.txt` and a grammar below) are sent as raw bytes over
//! TCP, since HTTP clients normalize paths themselves, with no session and as a signed-in user
//! without the group: no backend may ever answer the marker. Controls show that a user with the
//! group does reach every protected location, and that a public path needs no session.
//!
//! Then one test per class of path the gateway refuses, through the gateway alone.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use futures_util::StreamExt;
use hyper::StatusCode;

use crate::support::gateway::*;
use crate::support::{free_port, require_tool};

/// What every protected location answers.
const MARKER: &str = "PROTECTED-LOCATION-7f3a";

const ROUTES: &str = r#"
[[route]]
path = "/admin"
require_access_group = ["MyOrg:Administrators"]

[[route]]
path = "/healthcheck"
public = true
"#;

fn edge_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("edge_paths")
}

/// A child process killed when dropped.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `tests/edge_paths/backend.py MODE ARGS...`, once it says which port it listens on.
fn python_backend(args: &[&str]) -> (Peer, SocketAddr) {
    let mut child = Command::new("python3")
        .arg(edge_dir().join("backend.py"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start python3");
    let stdout = child.stdout.take().unwrap();
    let peer = Peer(child);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    let port: u16 = line
        .strip_prefix("PORT ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("backend.py {args:?} said {line:?}"));
    (peer, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Debian's nginx with two servers: a case-sensitive `location /admin/` and a
/// case-insensitive `location ~* ^/admin(/|$)`, each answering the marker.
fn nginx_backends(dir: &Path) -> (Peer, SocketAddr, SocketAddr) {
    let (sensitive, insensitive) = (free_port(), free_port());
    let d = dir.display();
    let conf = format!(
        r#"
daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    default_type text/plain;
    server {{
        listen 127.0.0.1:{sensitive};
        location /admin/ {{ return 200 "{MARKER} nginx-cs $uri\n"; }}
        location = /healthcheck {{ return 200 "healthy\n"; }}
        location / {{ return 200 "ordinary nginx-cs $uri\n"; }}
    }}
    server {{
        listen 127.0.0.1:{insensitive};
        location ~* ^/admin(/|$) {{ return 200 "{MARKER} nginx-ci $uri\n"; }}
        location = /healthcheck {{ return 200 "healthy\n"; }}
        location / {{ return 200 "ordinary nginx-ci $uri\n"; }}
    }}
}}
"#
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    (
        Peer(child),
        SocketAddr::from(([127, 0, 0, 1], sensitive)),
        SocketAddr::from(([127, 0, 0, 1], insensitive)),
    )
}

/// The folder http.server serves: the protected tree, a public file, an ordinary page.
fn site(dir: &Path) {
    let admin = dir.join("admin");
    std::fs::create_dir_all(admin.join("users")).unwrap();
    std::fs::create_dir_all(admin.join("x")).unwrap();
    for page in [
        "index.html",
        "users/index.html",
        "x/index.html",
        "secret.txt",
    ] {
        std::fs::write(admin.join(page), format!("{MARKER} files\n")).unwrap();
    }
    std::fs::write(dir.join("healthcheck"), "healthy\n").unwrap();
    std::fs::write(dir.join("index.html"), "ordinary files\n").unwrap();
}

/// A raw GET of `target`, carrying `cookie` if any.
async fn get_as(addr: SocketAddr, target: &[u8], cookie: Option<&str>) -> RawReply {
    match cookie {
        Some(cookie) => raw_get(addr, target, &[("Cookie", cookie)]).await,
        None => raw_get(addr, target, &[]).await,
    }
}

/// `corpus.txt`: one target per line, `\xHH` for byte HH.
fn corpus_file() -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(edge_dir().join("corpus.txt")).unwrap();
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let bytes = line.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                let escape = bytes.get(i..i + 4).filter(|e| e.starts_with(b"\\x"));
                match escape
                    .and_then(|e| u8::from_str_radix(std::str::from_utf8(&e[2..]).ok()?, 16).ok())
                {
                    Some(byte) => {
                        out.push(byte);
                        i += 4;
                    }
                    None => {
                        out.push(bytes[i]);
                        i += 1;
                    }
                }
            }
            out
        })
        .collect()
}

/// Paths built from ways into `/admin`: what comes before the protected name, the name's
/// spellings, and what follows it.
fn corpus_generated() -> Vec<Vec<u8>> {
    const BEFORE: &[&str] = &[
        "",
        "/healthcheck/..",
        "/healthcheck/..;",
        "/healthcheck;x",
        "/;x",
        "/",
        "/%2e%2e",
    ];
    const NAME: &[&str] = &[
        "admin",
        "ADMIN",
        "aDmIn",
        "%61dmin",
        "%41DMIN",
        "admin;x=1",
        "admin.",
        "ADMIN%20",
        "admin%3F",
        "admin%2F",
        "%2561dmin",
        "admin%00",
    ];
    const AFTER: &[&str] = &["", "/", "/users/", "/x/..;/", "/x\\..\\"];
    let mut out = Vec::new();
    for before in BEFORE {
        for name in NAME {
            for after in AFTER {
                out.push(format!("{before}/{name}{after}").into_bytes());
            }
        }
    }
    out
}

/// A gateway in front of `backend`, with a viewer (no group) and an administrator signed in.
struct Front {
    name: &'static str,
    gw: Gateway,
    viewer: String,
    admin: String,
}

fn cookie_of(browser: &Browser) -> String {
    let value = browser
        .cookies
        .get("samlgate_session")
        .expect("session cookie");
    format!("samlgate_session={value}")
}

async fn front(name: &'static str, backend: SocketAddr) -> Front {
    let gw = start(Setup {
        backend: Some(format!("http://{backend}")),
        routes: ROUTES.into(),
        ..Setup::default()
    })
    .await;
    let mut viewer = Browser::new(&gw.base);
    let done = login(&gw, &mut viewer, "/", "viewer@example.com", &["Staff"]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let mut admin = Browser::new(&gw.base);
    let done = login(&gw, &mut admin, "/", "admin@example.com", &["Admins"]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    Front {
        name,
        viewer: cookie_of(&viewer),
        admin: cookie_of(&admin),
        gw,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_path_variant_reaches_a_protected_location_without_the_group() {
    if !require_tool("nginx") || !require_tool("python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let nginx_dir = dir.path().join("nginx");
    let files_dir = dir.path().join("site");
    std::fs::create_dir_all(&nginx_dir).unwrap();
    site(&files_dir);
    let (_nginx, nginx_cs, nginx_ci) = nginx_backends(&nginx_dir);
    let (_files, files) = python_backend(&["files", files_dir.to_str().unwrap()]);
    let (_servlet, servlet) = python_backend(&["servlet"]);
    let (_windows, windows) = python_backend(&["windows"]);
    wait_listening(&[nginx_cs.port(), nginx_ci.port()]).await;
    let fronts = vec![
        front("nginx location /admin/", nginx_cs).await,
        front("nginx location ~* ^/admin", nginx_ci).await,
        front("python http.server", files).await,
        front("servlet reading", servlet).await,
        front("windows reading", windows).await,
    ];

    // Controls: with the group, every protected location is reached (so a missing marker
    // below means the gateway kept it out, not that the backend has none); a public path needs
    // no session.
    for (f, target) in fronts.iter().zip([
        "/admin/x",
        "/ADMIN/x",
        "/admin/users/",
        "/admin;jsessionid=1/x",
        "/ADMIN./x",
    ]) {
        let reply = get_as(f.gw.addr, target.as_bytes(), Some(&f.admin)).await;
        assert!(
            reply.text.contains(MARKER),
            "{}: admin {target}: {}",
            f.name,
            reply.text
        );
        let public = get_as(f.gw.addr, b"/healthcheck", None).await;
        assert_eq!(public.status, 200, "{}: {}", f.name, public.text);
        assert!(
            public.text.contains("healthy"),
            "{}: {}",
            f.name,
            public.text
        );
    }

    let corpus: Vec<Vec<u8>> = corpus_file()
        .into_iter()
        .chain(corpus_generated())
        .collect();
    assert!(corpus.len() >= 400, "{} variants", corpus.len());
    let mut outcomes: BTreeMap<(&str, &str, u16), usize> = BTreeMap::new();
    let mut leaks = Vec::new();
    for f in &fronts {
        let who = [("anonymous", None), ("viewer", Some(f.viewer.as_str()))];
        let requests = corpus.iter().flat_map(|target| {
            who.iter()
                .map(move |(user, cookie)| (target, *user, *cookie))
        });
        let mut replies =
            futures_util::stream::iter(requests.map(|(target, user, cookie)| async move {
                (target, user, get_as(f.gw.addr, target, cookie).await)
            }))
            .buffer_unordered(8);
        while let Some((target, user, reply)) = replies.next().await {
            *outcomes.entry((f.name, user, reply.status)).or_default() += 1;
            if reply.text.contains(MARKER) {
                leaks.push(format!(
                    "{} as {user}: {} -> {}",
                    f.name,
                    shown(target),
                    reply.text
                ));
            }
        }
    }
    for ((backend, user, status), count) in &outcomes {
        eprintln!("{backend:28} {user:9} {status}: {count}");
    }
    assert!(
        leaks.is_empty(),
        "{} leak(s):\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    // The corpus was not simply refused wholesale: requests the rules allow did reach every
    // backend (an answer the gateway does not give itself).
    for f in &fronts {
        let reached: usize = outcomes
            .iter()
            .filter(|((name, _, status), _)| {
                *name == f.name && !matches!(status, 0 | 302 | 400 | 401 | 403)
            })
            .map(|(_, n)| n)
            .sum();
        assert!(reached > 20, "{}: {outcomes:?}", f.name);
    }
}

// ----- One class at a time, through the gateway alone -----

/// A gateway with the test routes in front of a backend that answers the path it received.
async fn gateway_with_path_backend() -> (Gateway, Browser) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new()
        .fallback(|uri: axum::http::Uri| async move { format!("backend got {uri}") });
    tokio::spawn(async move { axum::serve(listener, router).await });
    let gw = start(Setup {
        backend: Some(format!("http://{addr}")),
        routes: ROUTES.into(),
        ..Setup::default()
    })
    .await;
    let mut viewer = Browser::new(&gw.base);
    login(&gw, &mut viewer, "/", "viewer@example.com", &["Staff"]).await;
    (gw, viewer)
}

/// Every target is answered 400 with the generic page, signed in or not, and counted under
/// `reason`; the backend never sees it.
async fn assert_refused(targets: &[&[u8]], reason: &str) {
    let (gw, viewer) = gateway_with_path_backend().await;
    let cookie = cookie_of(&viewer);
    let before = gw.metric("samlgate_requests_refused_total", &[("reason", reason)]);
    for target in targets {
        for cookie in [None, Some(cookie.as_str())] {
            let reply = get_as(gw.addr, target, cookie).await;
            assert_eq!(reply.status, 400, "{}: {}", shown(target), reply.text);
            assert!(!reply.text.contains("backend got"), "{}", reply.text);
            assert!(reply.text.contains("Bad request"), "{}", reply.text);
        }
    }
    let counted = gw.metric("samlgate_requests_refused_total", &[("reason", reason)]) - before;
    assert_eq!(counted, (targets.len() * 2) as f64, "{reason}");
}

#[tokio::test]
async fn refuses_dot_segment_with_params() {
    assert_refused(
        &[
            b"/admin/..;/",
            b"/admin/..;/healthcheck",
            b"/healthcheck/..;/admin/",
            b"/x/.;y/",
        ],
        "dot_segment_params",
    )
    .await;
}

#[tokio::test]
async fn refuses_dot_segments() {
    assert_refused(&[b"/x/../admin/", b"/./admin", b"/admin/.."], "dot_segment").await;
}

#[tokio::test]
async fn refuses_backslashes() {
    assert_refused(
        &[b"/admin/x\\..\\..\\", b"/healthcheck\\..\\admin"],
        "backslash",
    )
    .await;
}

#[tokio::test]
async fn refuses_encoded_slash_backslash_dot_and_semicolon() {
    assert_refused(
        &[
            b"/admin/%2e%2e%3b/",
            b"/healthcheck%2F..%2Fadmin",
            b"/healthcheck/..%5cadmin",
            b"/admin%3Bx",
        ],
        "encoded_delimiter",
    )
    .await;
}

#[tokio::test]
async fn refuses_encoded_nul_and_control_characters() {
    assert_refused(
        &[b"/admin%00/x", b"/a%0d%0aSet-Cookie:%20x=1", b"/a%C2%85"],
        "encoded_control",
    )
    .await;
}

#[tokio::test]
async fn refuses_invalid_escapes() {
    assert_refused(
        &[b"/admin%", b"/admin%zz", b"/admin/%u002e%u002e"],
        "invalid_escape",
    )
    .await;
}

#[tokio::test]
async fn refuses_invalid_utf8_after_decoding() {
    assert_refused(&[b"/admin/%C3", b"/%C0%AE%C0%AE/admin"], "invalid_utf8").await;
}

#[tokio::test]
async fn refuses_double_encoding() {
    assert_refused(&[b"/%252e%252e/admin", b"/%2561dmin/"], "double_encoding").await;
}

#[tokio::test]
async fn refuses_raw_non_ascii_and_control_bytes_before_any_reading() {
    // hyper refuses these request lines itself (400), before the gateway reads the path;
    // either way no backend sees them.
    let (gw, viewer) = gateway_with_path_backend().await;
    let cookie = cookie_of(&viewer);
    for target in [
        &b"/admin/\xc3\xa9"[..],
        b"/admin/\xff",
        b"/ad\x00min",
        b"/admin\x7f",
    ] {
        let reply = get_as(gw.addr, target, Some(&cookie)).await;
        assert!(
            matches!(reply.status, 0 | 400),
            "{}: {}",
            shown(target),
            reply.text
        );
        assert!(!reply.text.contains("backend got"), "{}", reply.text);
    }
}

#[tokio::test]
async fn refuses_targets_not_in_origin_form() {
    assert_refused(&[b"*"], "not_origin_form").await;
}

#[tokio::test]
async fn merges_repeated_slashes_and_forwards_exactly_the_path_decided_on() {
    let (gw, viewer) = gateway_with_path_backend().await;
    let cookie = cookie_of(&viewer);
    let reply = get_as(gw.addr, b"//app///x//?q=a//b", Some(&cookie)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply.text.contains("backend got /app/x/?q=a//b"),
        "{}",
        reply.text
    );
    // Merged, it is the protected path, and decided as such.
    let reply = get_as(gw.addr, b"//admin//users", Some(&cookie)).await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    // The login started for a merged path comes back to the merged path.
    let mut anonymous = Browser::new(&gw.base);
    let start = anonymous.get("//app//page?x=1").await;
    assert_eq!(start.status, StatusCode::FOUND);
    let req = read_redirect_request(start.location());
    let spec = response_spec(&gw, Some(&req.id), "alice@example.com", &[]);
    let done = anonymous
        .post_acs(&signed_b64(&spec), req.relay_state.as_deref())
        .await;
    assert_eq!(done.location(), "/app/page?x=1");
}

#[tokio::test]
async fn protected_prefixes_match_whatever_the_case_and_public_ones_exactly() {
    let (gw, viewer) = gateway_with_path_backend().await;
    let cookie = cookie_of(&viewer);
    for target in [
        "/ADMIN/x",
        "/Admin",
        "/%41DMIN/",
        "/admin./x",
        "/ADMIN%20/x",
        "/admin;x/y",
    ] {
        let reply = get_as(gw.addr, target.as_bytes(), Some(&cookie)).await;
        assert_eq!(reply.status, 403, "{target}: {}", reply.text);
        let anonymous = get_as(gw.addr, target.as_bytes(), None).await;
        assert_eq!(anonymous.status, 302, "{target}: {}", anonymous.text);
    }
    let public = get_as(gw.addr, b"/healthcheck", None).await;
    assert!(
        public.text.contains("backend got /healthcheck"),
        "{}",
        public.text
    );
    for target in ["/HEALTHCHECK", "/healthcheck;x=1", "/healthcheck."] {
        let reply = get_as(gw.addr, target.as_bytes(), None).await;
        assert_eq!(reply.status, 302, "{target}: {}", reply.text);
    }
}
