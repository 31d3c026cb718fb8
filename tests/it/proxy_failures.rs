//! When the backend fails: 502 when it cannot be reached, 504 when it is too slow; a small generic page either
//! way, with nothing about the backend in it.

use std::time::{Duration, Instant};

use samlgate::proxy::ProxyConfig;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::support::proxy::*;

fn assert_generic_page(response: &RawResponse, backend_port: u16) {
    let page = response.text();
    assert!(
        response
            .head
            .to_ascii_lowercase()
            .contains("content-type: text/html"),
        "{}",
        response.head
    );
    assert!(
        !page.contains("127.0.0.1"),
        "page leaks the backend address: {page}"
    );
    assert!(
        !page.contains(&backend_port.to_string()),
        "page leaks the backend port: {page}"
    );
    assert!(
        !page.to_lowercase().contains("refused"),
        "page leaks the cause: {page}"
    );
}

#[tokio::test]
async fn backend_down_answers_502_page() {
    // A port that was just free: nothing listens there now.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = listener.local_addr().unwrap();
    drop(listener);
    let proxy = start_proxy(backend_config(dead), Some(jose())).await;
    let response = raw_request(proxy, "GET /anything HTTP/1.1\r\nHost: app.test\r\n\r\n").await;
    assert_eq!(response.status, 502);
    assert!(response.text().contains("502 Bad Gateway"));
    assert_generic_page(&response, dead.port());
}

/// A backend that accepts, reads the request, and never answers.
async fn start_silent_backend() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut sink = [0u8; 4096];
                while stream.read(&mut sink).await.is_ok_and(|n| n > 0) {}
            });
        }
    });
    addr
}

#[tokio::test]
async fn backend_slower_than_the_timeout_answers_504_page() {
    let silent = start_silent_backend().await;
    let mut config = backend_config(silent);
    config.response_timeout = Duration::from_millis(300);
    let proxy = start_proxy(config, Some(jose())).await;
    let started = Instant::now();
    let response = raw_request(proxy, "GET /slow HTTP/1.1\r\nHost: app.test\r\n\r\n").await;
    let took = started.elapsed();
    assert_eq!(response.status, 504);
    assert!(response.text().contains("504 Gateway Timeout"));
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "took {took:?}"
    );
    assert_generic_page(&response, silent.port());
}

/// POST a body of `bytes` bytes through `proxy`, one byte every 100 ms; the whole answer.
async fn upload_slowly(proxy: std::net::SocketAddr, bytes: usize) -> String {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(proxy).await.unwrap();
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: {bytes}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..bytes {
        tokio::time::sleep(Duration::from_millis(100)).await;
        stream.write_all(b"x").await.unwrap();
    }
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    answer
}

#[tokio::test]
async fn response_timeout_starts_after_the_request_body_not_before() {
    // An upload that takes ~1 s to send must not be cut by a 300 ms response timeout.
    let echo = start_echo().await;
    let mut config: ProxyConfig = backend_config(echo);
    config.response_timeout = Duration::from_millis(300);
    let proxy = start_proxy(config, Some(jose())).await;

    let answer = upload_slowly(proxy, 10).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"bytes\":10"), "{answer}");
}

/// A backend that answers every connection with `head` (and whatever body bytes it holds), then stalls.
async fn start_stalling_backend(head: &'static str) -> std::net::SocketAddr {
    use tokio::io::AsyncWriteExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                stream.write_all(head.as_bytes()).await.unwrap();
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn small_body_that_never_arrives_answers_504_page() {
    let backend = start_stalling_backend("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n").await;
    let mut config = backend_config(backend);
    config.response_timeout = Duration::from_millis(300);
    let proxy = start_proxy(config, Some(jose())).await;
    let response = raw_request(proxy, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n").await;
    assert_eq!(response.status, 504);
    assert_generic_page(&response, backend.port());
}

#[tokio::test]
async fn streams_of_unknown_length_pass_without_waiting_for_the_end() {
    // Server-sent events and the like: the head and the first chunk must reach the browser while the backend
    // is still sending.
    let backend = start_stalling_backend(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n\
         10\r\ndata: first one\n\r\n",
    )
    .await;
    let proxy = start_proxy(backend_config(backend), Some(jose())).await;
    let mut stream = tokio::net::TcpStream::connect(proxy).await.unwrap();
    use tokio::io::AsyncWriteExt;
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: app.test\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let read = async {
        let mut chunk = [0u8; 1024];
        while !String::from_utf8_lossy(&seen).contains("data: first one") {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            seen.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("the first event did not pass through while the stream was open");
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
}

/// A whole response read to the connection's end.
fn parse_response(bytes: &[u8]) -> RawResponse {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head: {:?}", String::from_utf8_lossy(bytes)));
    let head = String::from_utf8(bytes[..end].to_vec()).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    RawResponse {
        status,
        head,
        body: bytes[end + 4..].to_vec(),
    }
}

/// A backend that reads each connection to its end and then reports the bytes it received.
async fn start_recording_backend() -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut received = Vec::new();
                let mut chunk = [0u8; 4096];
                while let Ok(n) = stream.read(&mut chunk).await {
                    if n == 0 {
                        break;
                    }
                    received.extend_from_slice(&chunk[..n]);
                }
                let _ = tx.send(received);
            });
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn a_request_body_that_stops_arriving_answers_408_and_frees_the_backend_connection() {
    use tokio::io::AsyncWriteExt;
    let (backend, mut connections) = start_recording_backend().await;
    let mut config = backend_config(backend);
    config.body_timeout = Duration::from_millis(300);
    let proxy = start_proxy(config, Some(jose())).await;

    // 10 of the 100 bytes announced, then silence (the connection stays open).
    let mut stream = tokio::net::TcpStream::connect(proxy).await.unwrap();
    stream
        .write_all(
            b"POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: 100\r\n\r\n0123456789",
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the gateway answers and closes the connection")
        .unwrap();
    let response = parse_response(&answer);
    assert_eq!(response.status, 408, "{}", response.head);
    assert!(response.text().contains("408 Request Timeout"));
    assert!(
        response
            .head
            .to_ascii_lowercase()
            .contains("connection: close"),
        "{}",
        response.head
    );
    assert_generic_page(&response, backend.port());

    // The backend saw the request start, and then its connection closed: nothing holds it.
    let received = tokio::time::timeout(Duration::from_secs(10), connections.recv())
        .await
        .expect("the backend connection is closed")
        .unwrap();
    let received = String::from_utf8_lossy(&received);
    assert!(
        received.starts_with("POST /upload HTTP/1.1\r\n"),
        "{received}"
    );
    assert!(!received.contains("0123456789x"), "{received}");
}

#[tokio::test]
async fn a_request_body_sent_slowly_but_steadily_is_not_cut_by_the_body_timeout() {
    let echo = start_echo().await;
    let mut config = backend_config(echo);
    // Each byte comes 100 ms after the last: twenty times inside the timeout, though the whole
    // body takes longer than it.
    config.body_timeout = Duration::from_secs(2);
    let proxy = start_proxy(config, Some(jose())).await;
    let answer = upload_slowly(proxy, 30).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"bytes\":30"), "{answer}");
}
