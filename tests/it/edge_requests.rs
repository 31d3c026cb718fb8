//! The rules every request meets at the edge, through the real gateway: the backend receives the
//! gateway's forwarding facts whatever the client sent; two `Host` headers or an HTTP/1.1 request
//! without one get 400 on every path; a request that already passed this gateway gets 508, and a
//! real loop costs one request, not the gateway's memory and descriptors; `check` refuses a
//! backend that is the gateway itself.

use std::net::SocketAddr;
use std::time::Duration;

use samlgate::proxy::edge::LoopMark;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::support;
use crate::support::gateway::{SP_ENTITY, Setup};
use crate::support::raw_http::{read_response, stop_with_sigterm};

const PUBLIC_ROOT: &str = "[[route]]\npath = \"/\"\npublic = true\n";

async fn public_gateway(public_url: Option<&str>) -> support::gateway::Gateway {
    support::gateway::start(Setup {
        routes: PUBLIC_ROOT.into(),
        backend: Some(support::gateway::echo_backend().await),
        public_url: public_url.map(str::to_owned),
        ..Setup::default()
    })
    .await
}

/// Send `request` as written; the status and body of the one response (the gateway closes
/// after a refusal, or the request says `Connection: close`).
async fn exchange(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), read_response(&mut stream))
        .await
        .expect("no response within 30 s")
        .expect("closed before a response")
}

fn received(body: &str) -> Vec<(String, String)> {
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    json["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
        .collect()
}

fn values(headers: &[(String, String)], name: &str) -> Vec<String> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .collect()
}

#[tokio::test]
async fn the_backend_receives_the_gateways_forwarding_facts_whatever_the_client_sent() {
    let gw = public_gateway(Some("https://app.example.com:8443")).await;
    // Every header a backend may trust from a proxy, as a client would forge it, in the
    // spellings CGI/WSGI stacks fold together.
    let forged = [
        "X-Forwarded-Host",
        "X_Forwarded_Host",
        "X-Forwarded-Proto",
        "x_forwarded_proto",
        "X_Forwarded_For",
        "X-Real-IP",
        "X_Real_Ip",
        "Forwarded",
        "X-Original-URL",
        "x_original_url",
        "X-Rewrite-URL",
        "X-Forwarded-Prefix",
        "X-Forwarded-Port",
        "X-FORWARDED-SSL",
        "X-Forwarded-Server",
        "X-Remote-User",
        "Remote-User",
        "REMOTE_USER",
        "X-Auth-Request-User",
        "X-Auth-Request-Email",
        "x_auth_request_groups",
        "X-Auth-Request-Access-Token",
    ];
    let mut request = String::from(
        "GET /json HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\nX-Forwarded-For: 203.0.113.7\r\n",
    );
    for name in forged {
        request.push_str(&format!("{name}: forged-by-client\r\n"));
    }
    request.push_str("\r\n");
    let (status, body) = exchange(gw.addr, &request).await;
    assert_eq!(status, 200, "{body}");
    let headers = received(&body);

    let forged_left: Vec<_> = headers
        .iter()
        .filter(|(_, v)| v.contains("forged-by-client") || v.contains("evil.example"))
        .collect();
    assert!(
        forged_left.is_empty(),
        "client values reached the backend: {forged_left:?}"
    );
    let removed_left: Vec<_> = headers
        .iter()
        .filter(|(n, _)| {
            let n = n.replace('_', "-");
            n.contains('_')
                || n.starts_with("x-auth-request-")
                || [
                    "x-original-url",
                    "x-rewrite-url",
                    "x-forwarded-prefix",
                    "x-forwarded-port",
                    "x-forwarded-ssl",
                    "x-forwarded-server",
                    "x-remote-user",
                    "remote-user",
                ]
                .contains(&n.as_str())
        })
        .collect();
    assert!(removed_left.is_empty(), "{removed_left:?}");
    assert!(headers.iter().all(|(n, _)| !n.contains('_')), "{headers:?}");

    assert_eq!(values(&headers, "host"), ["app.example.com:8443"]);
    assert_eq!(
        values(&headers, "x-forwarded-host"),
        ["app.example.com:8443"]
    );
    assert_eq!(values(&headers, "x-forwarded-proto"), ["https"]);
    assert_eq!(values(&headers, "x-real-ip"), ["127.0.0.1"]);
    assert_eq!(
        values(&headers, "forwarded"),
        [r#"for=127.0.0.1;host="app.example.com:8443";proto=https"#]
    );
    assert_eq!(
        values(&headers, "x-forwarded-for"),
        ["203.0.113.7, 127.0.0.1"]
    );
    let mark = LoopMark::for_entity_id(SP_ENTITY);
    assert_eq!(
        values(&headers, "via"),
        [format!("1.1 {}", mark.pseudonym())]
    );
}

#[tokio::test]
async fn two_host_headers_or_none_in_http_1_1_get_400_on_every_path() {
    let gw = public_gateway(None).await;
    for path in ["/json", "/healthz", "/saml/metadata", "/saml/login"] {
        let (status, body) = exchange(
            gw.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n"),
        )
        .await;
        assert_eq!(status, 400, "two Hosts on {path}: {body}");
        assert!(!body.contains("evil.example"));
        let (status, body) = exchange(gw.addr, &format!("GET {path} HTTP/1.1\r\n\r\n")).await;
        assert_eq!(status, 400, "no Host on {path}: {body}");
    }
    // HTTP/1.0 needs no Host; one Host is fine.
    let (status, _) = exchange(gw.addr, "GET /healthz HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 200);
    let (status, _) = exchange(
        gw.addr,
        "GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_request_that_already_passed_this_gateway_is_refused_with_508() {
    let gw = public_gateway(None).await;
    let ours = LoopMark::for_entity_id(SP_ENTITY);
    for via in [
        format!("1.1 {}", ours.pseudonym()),
        format!("1.1 lb.example, 1.1 {} (samlgate)", ours.pseudonym()),
    ] {
        let (status, body) = exchange(
            gw.addr,
            &format!("GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\nVia: {via}\r\n\r\n"),
        )
        .await;
        assert_eq!(status, 508, "{via}: {body}");
        assert!(body.contains("Loop Detected"));
    }
    // Another deployment's gateway in front is no loop.
    let other = LoopMark::for_entity_id("https://other.example.com/saml/metadata");
    let (status, body) = exchange(
        gw.addr,
        &format!(
            "GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nVia: 1.1 {}\r\n\r\n",
            other.pseudonym()
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        values(&received(&body), "via"),
        [
            format!("1.1 {}", other.pseudonym()),
            format!("1.1 {}", ours.pseudonym())
        ]
    );
}

/// Copy every connection to `target`, byte for byte: a backend URL the gateway cannot tell
/// from an application.
async fn forwarder(target: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                if let Ok(mut upstream) = TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    addr
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// `samlgate serve` whose backend leads back to itself through a forwarder (so `check` cannot
/// see it): each request is answered 508 after one round, and the gateway's descriptors and
/// memory stay where they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_loop_costs_one_request_and_leaves_descriptors_and_memory_bounded() {
    let port = support::free_port();
    let gateway_addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let loop_back = forwarder(gateway_addr).await;
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup {
        routes: PUBLIC_ROOT.into(),
        backend: Some(format!("http://{loop_back}")),
        server_extra: "workers = 2".into(),
        ..Setup::default()
    };
    let (config_path, _) = support::gateway::write_config(dir.path(), port, &setup);
    let child = support::gateway::spawn_serve(&config_path, true);
    let pid = child.id();
    support::gateway::wait_listening(&[port]).await;

    let (status, _) = exchange(
        gateway_addr,
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    let (fds_before, rss_before) = (open_fds(pid), rss_kib(pid));

    for i in 0..50 {
        let (status, body) = exchange(
            gateway_addr,
            &format!("GET /app/{i} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert_eq!(status, 508, "request {i}: {body}");
    }
    // Let the gateway notice the closed connections.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (fds_after, rss_after) = (open_fds(pid), rss_kib(pid));
    // A few kept-alive backend connections (and their far ends, accepted by the gateway itself)
    // may remain; a loop would have added thousands.
    assert!(
        fds_after <= fds_before + 16,
        "descriptors went from {fds_before} to {fds_after}"
    );
    assert!(
        rss_after <= rss_before + 64 * 1024,
        "RSS went from {rss_before} KiB to {rss_after} KiB"
    );

    let output = stop_with_sigterm(child).await;
    assert!(output.0.success(), "{:?}: {}", output.0, output.1);
    assert!(
        output
            .1
            .contains("request loop: it already passed this gateway"),
        "{}",
        output.1
    );
}

fn check(config_path: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_samlgate"))
        .args(["check", "--config"])
        .arg(config_path)
        .output()
        .unwrap()
}

#[test]
fn check_refuses_a_backend_that_is_the_gateway_and_reports_descriptors_and_cap() {
    let dir = tempfile::tempdir().unwrap();
    let port = 18_080;
    for backend in [
        format!("http://localhost:{port}"),
        format!("http://0.0.0.0:{port}/app"),
        format!("http://127.0.0.1:{port}"),
    ] {
        let setup = Setup {
            backend: Some(backend.clone()),
            ..Setup::default()
        };
        let (config_path, _) = support::gateway::write_config(dir.path(), port, &setup);
        let text = std::fs::read_to_string(&config_path).unwrap();
        let line = text.lines().position(|l| l.starts_with("url = ")).unwrap() + 1;
        let out = check(&config_path);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{backend}: {stderr}");
        assert!(
            stderr.contains(&format!("samlgate.toml:{line}: backend.url:")),
            "{backend}: {stderr}"
        );
        assert!(stderr.contains("server.listen"), "{stderr}");
    }

    let setup = Setup {
        backend: Some("http://127.0.0.1:9000".into()),
        server_extra: "max_connections = 100\nheader_read_timeout = \"5s\"".into(),
        ..Setup::default()
    };
    let (config_path, _) = support::gateway::write_config(dir.path(), port, &setup);
    let out = check(&config_path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("file descriptors: "), "{stdout}");
    assert!(
        stdout.contains("server.max_connections 100 needs up to 1224"),
        "{stdout}"
    );
    assert!(stdout.contains("header_read_timeout 5 s"), "{stdout}");
}

/// `[backend] body_timeout` from the configuration file reaches the proxy: a client that stops
/// sending its request body gets 408 (a backend that never answers leaves no other way out).
#[tokio::test]
async fn a_stalled_request_body_gets_408_after_the_configured_body_timeout() {
    use tokio::io::AsyncReadExt;
    // A backend that holds whatever it is sent and never answers: only the body timeout can end
    // this exchange (the response timeout starts when the body has ended).
    let backend = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend_addr = backend.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = backend.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut sink = [0u8; 4096];
                while stream.read(&mut sink).await.is_ok_and(|n| n > 0) {}
            });
        }
    });
    let gateway = support::gateway::start(Setup {
        routes: PUBLIC_ROOT.into(),
        backend: Some(format!("http://{backend_addr}")),
        backend_extra: "body_timeout = \"1s\"".into(),
        ..Setup::default()
    })
    .await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: 1000\r\n\r\nhalf")
        .await
        .unwrap();
    let (status, page) = tokio::time::timeout(Duration::from_secs(30), read_response(&mut stream))
        .await
        .expect("no response within 30 s")
        .expect("closed before a response");
    assert_eq!(status, 408, "{page}");
    assert!(page.contains("408 Request Timeout"), "{page}");
    assert!(!page.contains(&backend_addr.port().to_string()), "{page}");
}
