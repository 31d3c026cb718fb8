//! The README's nginx `auth_request` snippet, run against Debian's nginx: a whole login through
//! nginx, identity headers reaching the backend, a spoofed header overwritten, 401 -> login;
//! route rules applied to the original URI, and every URI forward-auth cannot read refused
//! (nginx then answers 500), never allowed; API clients with bearer tokens from a real
//! authorization server let in with their operator, or refused with samlgate's challenge and
//! never sent to a login.

use std::process::{Child, Command, Stdio};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::any;
use hyper::StatusCode;

use crate::support::gateway::*;
use crate::support::{free_port, require_tool};

/// The snippet as the README shows it; `{GATEWAY}`, `{BACKEND}`, `{LISTEN}` are filled in.
const SNIPPET: &str = r#"
    # samlgate handles its own endpoints (login, ACS, logout, metadata).
    location /saml/ {
        proxy_pass http://{GATEWAY};
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-Proto $scheme;
    }

    # The forward-auth check: 200 + identity headers, 401 (no session) or 403 (route rule).
    location = /saml/auth {
        internal;
        proxy_pass http://{GATEWAY}/saml/auth;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Original-URI $request_uri;
    }

    # Without a session: start the login, coming back to the requested URI afterwards. An API
    # client that sent a bearer token gets samlgate's 401 and its challenge instead.
    location @samlgate_login {
        if ($http_authorization ~* "^bearer ") {
            add_header WWW-Authenticate $saml_www_authenticate always;
            return 401;
        }
        rewrite ^ /saml/login? break;
        proxy_pass http://{GATEWAY};
        proxy_set_header Host $host;
        proxy_set_header X-Original-URI $request_uri;
    }

    location / {
        auth_request /saml/auth;
        error_page 401 = @samlgate_login;

        auth_request_set $saml_user $upstream_http_x_forwarded_user;
        auth_request_set $saml_email $upstream_http_x_forwarded_email;
        auth_request_set $saml_username $upstream_http_x_forwarded_preferred_username;
        auth_request_set $saml_name $upstream_http_x_forwarded_name;
        auth_request_set $saml_groups $upstream_http_x_forwarded_groups;
        auth_request_set $saml_access_group $upstream_http_x_forwarded_access_group;
        auth_request_set $saml_www_authenticate $upstream_http_www_authenticate;
        # Set every identity header, so whatever a client sent under these names is replaced.
        proxy_set_header X-Forwarded-User $saml_user;
        proxy_set_header X-Forwarded-Email $saml_email;
        proxy_set_header X-Forwarded-Preferred-Username $saml_username;
        proxy_set_header X-Forwarded-Name $saml_name;
        proxy_set_header X-Forwarded-Groups $saml_groups;
        proxy_set_header X-Forwarded-Access-Group $saml_access_group;
        proxy_pass http://{BACKEND};
    }
"#;

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn echo_backend() -> std::net::SocketAddr {
    async fn echo(headers: HeaderMap) -> String {
        let get = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_string()
        };
        format!(
            "user={} email={} groups={} name={} username={}",
            get("x-forwarded-user"),
            get("x-forwarded-email"),
            get("x-forwarded-groups"),
            get("x-forwarded-name"),
            get("x-forwarded-preferred-username"),
        )
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, Router::new().fallback(any(echo))).await;
    });
    addr
}

/// An auth request that leaves out `X-Original-URI`, as a misconfigured site would.
const WITHOUT_ORIGINAL_URI: &str = r#"
    location = /saml/auth-bare {
        internal;
        proxy_pass http://{GATEWAY}/saml/auth;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
    location /bare/ {
        auth_request /saml/auth-bare;
        proxy_pass http://{BACKEND};
    }
"#;

fn start_nginx(
    dir: &std::path::Path,
    listen: u16,
    gateway: std::net::SocketAddr,
    backend: std::net::SocketAddr,
) -> Nginx {
    start_nginx_with(dir, listen, gateway, backend, "")
}

fn start_nginx_with(
    dir: &std::path::Path,
    listen: u16,
    gateway: std::net::SocketAddr,
    backend: std::net::SocketAddr,
    extra: &str,
) -> Nginx {
    let snippet = format!("{extra}{SNIPPET}")
        .replace("{GATEWAY}", &gateway.to_string())
        .replace("{BACKEND}", &backend.to_string());
    let d = dir.display();
    let conf = format!(
        r#"
daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{listen};
        {snippet}
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
    Nginx(child)
}

async fn wait_until_listening(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("nginx did not start listening on {port}");
}

#[tokio::test]
async fn nginx_auth_request_snippet_logs_in_and_passes_identity_headers() {
    if !require_tool("nginx") {
        return;
    }
    let nginx_port = free_port();
    let backend = echo_backend().await;
    let gw = start(Setup {
        public_url: Some(format!("http://127.0.0.1:{nginx_port}")),
        ..Setup::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let _nginx = start_nginx(dir.path(), nginx_port, gw.addr, backend);
    wait_until_listening(nginx_port).await;

    // Unauthenticated: auth_request gets 401, nginx hands over to samlgate's login.
    let mut browser = Browser::new(&gw.base);
    let start = browser.get("/app/page?tab=1&x=2").await;
    assert_eq!(
        start.status,
        StatusCode::FOUND,
        "{}",
        std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
    );
    let req = read_redirect_request(start.location());
    let spec = response_spec(&gw, Some(&req.id), "alice@example.com", &["Staff", "Ops"]);
    let done = browser
        .post_acs(&signed_b64(&spec), req.relay_state.as_deref())
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/app/page?tab=1&x=2");

    // Logged in: the backend sees the identity, and a spoofed header is replaced.
    let page = browser
        .get_with(
            "/app/page",
            &[
                ("x-forwarded-user", "admin"),
                ("x-forwarded-groups", "Admins"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.body,
        "user=alice@example.com email=alice@example.com groups=Staff,Ops name=Alice Example username=alice@example.com"
    );

    // An operator without email or name: client-sent copies of those headers do not get through.
    let mut bare = Browser::new(&gw.base);
    let start = bare.get("/app").await;
    let req = read_redirect_request(start.location());
    let mut spec = response_spec(&gw, Some(&req.id), "bob@example.com", &[]);
    spec.attributes.clear();
    let done = bare
        .post_acs(&signed_b64(&spec), req.relay_state.as_deref())
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let page = bare
        .get_with(
            "/app",
            &[
                ("x-forwarded-email", "ceo@example.com"),
                ("x-forwarded-name", "The CEO"),
                ("x-forwarded-preferred-username", "ceo"),
            ],
        )
        .await;
    assert_eq!(
        page.body,
        "user=bob@example.com email=- groups=- name=- username=bob@example.com"
    );

    // /saml/auth itself is internal to nginx.
    let direct = browser.get("/saml/auth").await;
    assert_eq!(direct.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn nginx_auth_request_applies_route_rules_and_refuses_unreadable_uris() {
    if !require_tool("nginx") {
        return;
    }
    let nginx_port = free_port();
    let backend = echo_backend().await;
    let gw = start(Setup {
        public_url: Some(format!("http://127.0.0.1:{nginx_port}")),
        routes: "[[route]]\npath = \"/admin\"\nrequire_access_group = [\"MyOrg:Administrators\"]\n"
            .into(),
        ..Setup::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let _nginx = start_nginx_with(
        dir.path(),
        nginx_port,
        gw.addr,
        backend,
        WITHOUT_ORIGINAL_URI,
    );
    wait_until_listening(nginx_port).await;
    let nginx = std::net::SocketAddr::from(([127, 0, 0, 1], nginx_port));

    let mut admin = Browser::new(&gw.base);
    let done = login(&gw, &mut admin, "/app", "admin@example.com", &["Admins"]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let mut viewer = Browser::new(&gw.base);
    let done = login(&gw, &mut viewer, "/app", "viewer@example.com", &["Staff"]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let cookie = |b: &Browser| format!("samlgate_session={}", b.cookies["samlgate_session"]);
    let (admin_cookie, viewer_cookie) = (cookie(&admin), cookie(&viewer));

    // Allowed: 200 and the identity reaches the backend.
    let page = admin.get("/admin/users?tab=1").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.starts_with("user=admin@example.com "),
        "{}",
        page.body
    );
    // Without the group: 403, also under another spelling or with a client-sent header that
    // nginx replaces.
    for (path, headers) in [
        ("/admin/users", &[][..]),
        ("/ADMIN/users", &[][..]),
        ("/admin;jsessionid=1/users", &[][..]),
        ("/admin/users", &[("x-original-uri", "/app")][..]),
    ] {
        let denied = viewer.get_with(path, headers).await;
        assert_eq!(
            denied.status,
            StatusCode::FORBIDDEN,
            "{path} {headers:?}: {}",
            denied.body
        );
    }

    // Unreadable: forward-auth answers 400, nginx 500; the backend is never reached, whoever asks.
    let refused_before =
        |reason| gw.metric("samlgate_requests_refused_total", &[("reason", reason)]);
    let (not_ascii, missing) = (
        refused_before("uri_not_ascii"),
        refused_before("uri_header_missing"),
    );
    for session in [&admin_cookie, &viewer_cookie] {
        for (target, headers) in [
            // nginx's $request_uri is the raw request line: these bytes reach X-Original-URI.
            (&b"/admin/\xc3\xa9"[..], &[][..]),
            (b"/app/\xc3\xa9", &[][..]),
            (b"/admin/..;/", &[][..]),
            (b"/app/..;/admin/", &[][..]),
            (b"/app/%2e%2e%3b/admin/", &[][..]),
            // A client-sent copy of the other well-known header beside nginx's X-Original-URI.
            (b"/app", &[("X-Forwarded-Uri", "/app")][..]),
            // An auth request without X-Original-URI.
            (b"/bare/x", &[][..]),
        ] {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .copied()
                .chain([("Cookie", session.as_str())])
                .collect();
            let reply = raw_get(nginx, target, &headers).await;
            assert_eq!(reply.status, 500, "{}: {}", shown(target), reply.text);
            assert!(
                !reply.text.contains("user="),
                "{}: {}",
                shown(target),
                reply.text
            );
        }
    }
    assert_eq!(refused_before("uri_not_ascii") - not_ascii, 4.0);
    assert_eq!(refused_before("uri_header_missing") - missing, 2.0);
    // The same session on a readable path is still served.
    let reply = raw_get(nginx, b"/app/ok", &[("Cookie", &viewer_cookie)]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test]
async fn nginx_auth_request_snippet_takes_bearer_tokens_and_never_sends_them_to_a_login() {
    use crate::support::oauth::{self, OidcProvider};
    if !require_tool("nginx") || !oauth::available() {
        return;
    }
    const API: &str = "https://api.example.com";
    let op = OidcProvider::start().await;
    let nginx_port = free_port();
    let backend = echo_backend().await;
    let gw = start(Setup {
        public_url: Some(format!("http://127.0.0.1:{nginx_port}")),
        extra_toml: format!(
            "\n[[oauth]]\nname = \"op\"\nissuer = \"{}\"\naudience = [\"{API}\"]\nmapping = \"mapping.toml\"\n",
            op.issuer
        ),
        ..Setup::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let _nginx = start_nginx(dir.path(), nginx_port, gw.addr, backend);
    wait_until_listening(nginx_port).await;
    let through_nginx = format!("http://127.0.0.1:{nginx_port}");
    let get = |authorization: String| {
        let through_nginx = through_nginx.clone();
        async move {
            Browser::new(&through_nginx)
                .get_with("/api/orders", &[("authorization", authorization.as_str())])
                .await
        }
    };

    let token = op.client_credentials(API, "orders.read").await;
    let ok = get(format!("Bearer {token}")).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(ok.body.starts_with("user=svc-secret "), "{}", ok.body);

    // A token altered under the issuer's signature: samlgate's 401 and challenge, no login.
    let mut altered = token.clone().into_bytes();
    let at = token.find('.').unwrap() + 5;
    altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
    let refused = get(format!("Bearer {}", String::from_utf8(altered).unwrap())).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    assert!(refused.header("location").is_none());
    let challenge = refused.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{challenge:?}"
    );

    // Without a token, a browser is still sent to the login.
    let browser = Browser::new(&through_nginx).get("/app").await;
    assert_eq!(browser.status, StatusCode::FOUND, "{}", browser.body);
    assert!(
        browser.location().contains("SAMLRequest="),
        "{}",
        browser.location()
    );
}
