//! The gateway's own HTTP/1.1 exchange with the backend (`GET` and `HEAD` to a plain-HTTP
//! backend) against hyper's client, which serves every other request: for each way a backend
//! may answer, a browser gets the same status, headers and body through either; and a backend
//! answer whose end is in doubt is a 502 through the exchange, never a response of someone
//! else's.

use std::net::SocketAddr;

use samlgate::proxy::ProxyConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::proxy::*;

/// A backend that answers every request with `answer` (closing the connection after it when
/// `close`), on as many connections as it is given.
async fn scripted_backend(answer: &'static str, close: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(answer_each(stream, answer, close));
        }
    });
    addr
}

async fn answer_each(mut stream: TcpStream, answer: &'static str, close: bool) {
    let mut buf = Vec::new();
    while next_head(&mut stream, &mut buf).await.is_some() {
        if stream.write_all(answer.as_bytes()).await.is_err() || close {
            return;
        }
    }
}

/// The next request head on `stream` (`buf` keeps what was read past it); `None` once the
/// connection ends.
async fn next_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head: Vec<u8> = buf.drain(..at + 4).collect();
            return Some(String::from_utf8_lossy(&head).into_owned());
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// What a browser sees of one response: status, headers (without `date`, which hyper writes
/// per response), body.
#[derive(Debug, PartialEq)]
struct Seen {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

async fn fetch(client: &reqwest::Client, proxy: SocketAddr, method: reqwest::Method) -> Seen {
    let response = client
        .request(method, format!("http://{proxy}/page?x=1"))
        .header("host", "app.example.com")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let mut headers: Vec<_> = response
        .headers()
        .iter()
        .filter(|(name, _)| *name != "date")
        .map(|(n, v)| {
            (
                n.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    headers.sort();
    let body = response.bytes().await.unwrap().to_vec();
    Seen {
        status,
        headers,
        body,
    }
}

async fn proxy_to(backend: SocketAddr, direct: bool) -> SocketAddr {
    let config = ProxyConfig {
        direct_exchange: direct,
        ..backend_config(backend)
    };
    start_proxy(config, Some(jose())).await
}

#[tokio::test]
async fn every_way_a_backend_answers_reaches_the_browser_alike_through_both_clients() {
    let cases: [(&str, &'static str, bool); 10] = [
        (
            "length",
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-App: 1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello",
            false,
        ),
        (
            "chunked",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
            false,
        ),
        (
            "until close",
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nread until the end",
            true,
        ),
        (
            "connection close",
            "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope",
            true,
        ),
        (
            "http/1.0",
            "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold",
            true,
        ),
        (
            "early hints",
            "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            false,
        ),
        (
            "no content",
            "HTTP/1.1 204 No Content\r\nX-App: 2\r\n\r\n",
            false,
        ),
        (
            "not modified",
            "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n",
            false,
        ),
        (
            "hop by hop",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: x-hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n\r\nok",
            false,
        ),
        (
            "every hop-by-hop kind",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: X-Hop, Host, keep-alive\r\nx-hop: 1\r\nX-HOP: 2\r\n\
             Proxy-Agent: p\r\nUpgrade: h2c\r\nTrailer: x\r\nTE: trailers\r\nHost: h\r\nX-Kept: k\r\n\r\nok",
            false,
        ),
    ];
    let client = reqwest::Client::new();
    for (name, answer, close) in cases {
        let backend = scripted_backend(answer, close).await;
        let direct = proxy_to(backend, true).await;
        let hyper = proxy_to(backend, false).await;
        for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
            for round in 0..2 {
                let through_direct = fetch(&client, direct, method.clone()).await;
                let through_hyper = fetch(&client, hyper, method.clone()).await;
                assert_eq!(
                    through_direct, through_hyper,
                    "{name}, {method}, request {round}"
                );
            }
        }
    }
}

#[tokio::test]
async fn an_answer_whose_end_is_in_doubt_is_a_502_and_the_next_request_is_answered_apart() {
    for answer in [
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 7\r\n\r\nokHTTP/1.1 200 OK\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    ] {
        let backend = scripted_backend(answer, false).await;
        let proxy = proxy_to(backend, true).await;
        for _ in 0..2 {
            let response = raw_request(
                proxy,
                "GET /page HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n",
            )
            .await;
            assert_eq!(response.status, 502, "{answer:?}");
            assert!(!response.text().contains("ok"), "{answer:?}");
        }
    }
}

/// A backend that answers `ok` and keeps every request head it gets.
async fn recording_backend() -> (SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = std::sync::Arc::clone(&heads);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let kept = std::sync::Arc::clone(&kept);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while let Some(head) = next_head(&mut stream, &mut buf).await {
                    kept.lock().unwrap().push(head);
                    let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                    if stream.write_all(ok.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, heads)
}

/// The lines of a request head after the request line, lower-cased names, sorted (the two
/// clients write the fields in different orders).
fn fields(head: &str) -> Vec<String> {
    let mut lines: Vec<String> = head
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once(':') {
            Some((name, value)) => format!("{}:{}", name.to_ascii_lowercase(), value),
            None => l.to_owned(),
        })
        .collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn the_backend_gets_the_same_request_through_both_clients() {
    let (backend, heads) = recording_backend().await;
    let direct = proxy_to(backend, true).await;
    let hyper = proxy_to(backend, false).await;
    // A client that sends what it may not: identity headers, forwarding facts, its own Host and
    // Via, hop-by-hop headers.
    let request = "GET /page?x=1 HTTP/1.1\r\nHost: evil.example\r\nX-Forwarded-User: admin\r\n\
                   X_Forwarded_Email: admin@example.com\r\nX-Forwarded-For: 203.0.113.7\r\n\
                   X-Forwarded-For: 10.0.0.1\r\nX-Real-IP: 1.2.3.4\r\nForwarded: for=1.2.3.4\r\n\
                   X-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: gopher\r\nVia: 1.1 cdn\r\n\
                   Connection: x-secret, close\r\nX-Secret: 1\r\nAccept: */*\r\nCookie: a=1\r\n\r\n";
    for proxy in [direct, hyper] {
        let response = raw_request(proxy, request).await;
        assert_eq!(response.status, 200);
    }
    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 2);
    assert!(heads[0].starts_with("GET /page?x=1 HTTP/1.1\r\n"));
    assert!(heads[1].starts_with("GET /page?x=1 HTTP/1.1\r\n"));
    assert_eq!(fields(&heads[0]), fields(&heads[1]));
    let through_direct = fields(&heads[0]);
    for expected in [
        "x-forwarded-user: jmuller",
        "x-forwarded-for: 203.0.113.7, 10.0.0.1, 127.0.0.1",
        "x-real-ip: 127.0.0.1",
        "x-forwarded-proto: https",
    ] {
        assert!(
            through_direct.iter().any(|l| l == expected),
            "{expected} in {through_direct:#?}"
        );
    }
    for gone in ["admin", "evil.example", "gopher", "1.2.3.4", "x-secret"] {
        assert!(
            !through_direct.iter().any(|l| l.contains(gone)),
            "{gone} in {through_direct:#?}"
        );
    }
}
