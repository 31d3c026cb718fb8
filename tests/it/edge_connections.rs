//! What a client connection may hold: the whole request head within `header_read_timeout` (and a
//! SAML message's body within `saml_body_timeout`), an
//! idle kept-alive connection closed after `keepalive_timeout` (a request in flight never cut),
//! at most `max_connections` open, the rest waiting. Through the real gateway on loopback; times
//! are only ever generous upper bounds.

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support;
use crate::support::gateway::Setup;
use crate::support::raw_http::read_response;

const PUBLIC_ROOT: &str = "[[route]]\npath = \"/\"\npublic = true\n";

/// A backend answering `/slow` after `delay` and anything else at once.
async fn backend(delay: Duration) -> String {
    let router = Router::new()
        .route(
            "/slow",
            get(move || async move {
                tokio::time::sleep(delay).await;
                "slow done"
            }),
        )
        .fallback(|| async { "hello" });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

async fn gateway(server_extra: &str, backend: String) -> support::gateway::Gateway {
    support::gateway::start(Setup {
        server_extra: server_extra.into(),
        routes: PUBLIC_ROOT.into(),
        backend: Some(backend),
        ..Setup::default()
    })
    .await
}

async fn get_on(stream: &mut TcpStream, path: &str) -> Option<(u16, String)> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    read_response(stream).await
}

/// Wait (at most `within`) for the gateway to close `stream`; anything it sends first is read
/// and dropped.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut chunk = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn a_connection_that_sends_half_a_request_head_is_closed_after_the_header_timeout() {
    let gw = gateway(
        "header_read_timeout = \"1s\"",
        backend(Duration::ZERO).await,
    )
    .await;

    let mut half = TcpStream::connect(gw.addr).await.unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    assert!(
        closed_within(&mut half, Duration::from_secs(10)).await,
        "a half-sent head kept its connection open"
    );

    // Sending the head a byte at a time does not keep it open either: the timeout is for the
    // whole head, not for silence.
    let mut dribbling = TcpStream::connect(gw.addr).await.unwrap();
    let started = Instant::now();
    let head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut closed = false;
    for byte in head.iter().cycle() {
        if dribbling.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        if started.elapsed() > Duration::from_secs(20) {
            break;
        }
        let mut probe = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_millis(100), dribbling.read(&mut probe));
        if let Ok(Ok(0) | Err(_)) = read.await {
            closed = true;
            break;
        }
    }
    assert!(
        closed,
        "a head sent a byte at a time was still read after 20 s"
    );

    // The gateway still serves.
    let mut fresh = TcpStream::connect(gw.addr).await.unwrap();
    assert_eq!(
        get_on(&mut fresh, "/").await.unwrap(),
        (200, "hello".into())
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let gw = gateway(
        "header_read_timeout = \"1s\"\nkeepalive_timeout = \"4s\"",
        backend(Duration::ZERO).await,
    )
    .await;
    let mut conn = TcpStream::connect(gw.addr).await.unwrap();
    assert_eq!(get_on(&mut conn, "/").await.unwrap().0, 200);
    // Idle for longer than the header-read timeout: a kept-alive connection waits for its next
    // request for the keep-alive timeout, not the header one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        get_on(&mut conn, "/").await.map(|r| r.0),
        Some(200),
        "a kept-alive connection was closed after the header-read timeout"
    );
    // Then idle for good: closed.
    assert!(
        closed_within(&mut conn, Duration::from_secs(20)).await,
        "an idle connection was kept past the keep-alive timeout"
    );
}

#[tokio::test]
async fn a_response_slower_than_the_idle_and_header_timeouts_still_completes() {
    let gw = gateway(
        "header_read_timeout = \"1s\"\nkeepalive_timeout = \"1s\"",
        backend(Duration::from_secs(3)).await,
    )
    .await;
    let mut conn = TcpStream::connect(gw.addr).await.unwrap();
    assert_eq!(
        get_on(&mut conn, "/slow").await,
        Some((200, "slow done".into())),
        "a request in flight was cut"
    );
    // And the connection is still usable afterwards.
    assert_eq!(get_on(&mut conn, "/").await.map(|r| r.0), Some(200));
}

#[tokio::test]
async fn past_max_connections_a_new_connection_waits_until_one_closes() {
    let gw = gateway("max_connections = 2", backend(Duration::ZERO).await).await;
    // Two kept-alive connections hold both slots.
    let mut first = TcpStream::connect(gw.addr).await.unwrap();
    let mut second = TcpStream::connect(gw.addr).await.unwrap();
    assert_eq!(get_on(&mut first, "/").await.unwrap().0, 200);
    assert_eq!(get_on(&mut second, "/").await.unwrap().0, 200);

    // The third connects (the kernel's listen queue takes it) but is not served...
    let mut third = TcpStream::connect(gw.addr).await.unwrap();
    third
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let early = tokio::time::timeout(Duration::from_secs(1), read_response(&mut third)).await;
    assert!(early.is_err(), "served beyond the cap: {early:?}");
    // ...while the connections it waits for still are.
    assert_eq!(get_on(&mut first, "/").await.unwrap().0, 200);

    // One closes: the third is served.
    drop(second);
    let served = tokio::time::timeout(Duration::from_secs(10), read_response(&mut third))
        .await
        .expect("the waiting connection was not served after a slot freed");
    assert_eq!(served, Some((200, "hello".into())));

    // The gateway stays healthy once below the cap again.
    drop((first, third));
    for _ in 0..5 {
        let mut conn = TcpStream::connect(gw.addr).await.unwrap();
        let reply = tokio::time::timeout(Duration::from_secs(10), get_on(&mut conn, "/healthz"))
            .await
            .expect("no answer after the cap episode");
        assert_eq!(reply.map(|r| r.0), Some(200));
    }
}

/// What the gateway sent on `stream` until it closed it (at most 20 s).
async fn answer_until_closed(stream: &mut tokio::net::tcp::OwnedReadHalf) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
        .await
        .expect("the gateway answers and closes the connection")
        .ok();
    String::from_utf8_lossy(&answer).into_owned()
}

/// The body of a SAML message posted to the gateway must arrive whole within
/// `saml_body_timeout`: a stalled one and one sent a byte at a time both get 408 and the
/// connection closed, on every endpoint that reads one.
#[tokio::test]
async fn a_saml_message_body_not_sent_in_time_gets_408_and_the_connection_closed() {
    let gw = gateway("saml_body_timeout = \"1s\"", backend(Duration::ZERO).await).await;
    for path in ["/saml/acs", "/saml/slo", "/saml/slo/soap"] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nSAMLResponse="
        );
        for dribble in [false, true] {
            let stream = TcpStream::connect(gw.addr).await.unwrap();
            let (mut read, mut write) = stream.into_split();
            write.write_all(head.as_bytes()).await.unwrap();
            // A byte every 100 ms: never silent for long, never done.
            let writer = tokio::spawn(async move {
                while dribble && write.write_all(b"A").await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                write
            });
            let answer = answer_until_closed(&mut read).await;
            let (status_line, rest) = answer.split_once("\r\n").unwrap_or_default();
            assert_eq!(
                status_line, "HTTP/1.1 408 Request Timeout",
                "{path}, dribbling: {dribble}: {answer}"
            );
            assert!(
                rest.to_ascii_lowercase().contains("connection: close"),
                "{path}: {answer}"
            );
            writer.abort();
        }
    }
    assert_eq!(
        gw.metric(
            "samlgate_rejections_total",
            &[("idp", "unknown"), ("kind", "body_too_slow")]
        ),
        2.0
    );
    // The gateway still serves.
    let mut fresh = TcpStream::connect(gw.addr).await.unwrap();
    assert_eq!(
        get_on(&mut fresh, "/").await.unwrap(),
        (200, "hello".into())
    );
}
