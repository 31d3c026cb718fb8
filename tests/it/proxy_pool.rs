//! The backend connection pool: connections are reused, never while another response is on
//! them, never after the backend said it closes them, and only as many are kept as configured.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use samlgate::demo::fixed_identity;
use samlgate::identity::headers::HeaderContract;
use samlgate::proxy::Proxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Barrier;

use crate::support::proxy::*;

/// How the test backend behaves.
#[derive(Clone, Default)]
struct Behaviour {
    /// Answer with `Connection: close` and close.
    close: bool,
    /// Hold every answer until this many requests wait at the barrier.
    together: Option<Arc<Barrier>>,
}

/// A keep-alive HTTP/1.1 backend answering each GET with `conn C request R` (C counts
/// connections from 1, R requests on that connection), or 4 MiB for `/big`.
async fn start_backend(behaviour: Behaviour) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let conn = counter.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::spawn(serve_connection(stream, conn, behaviour.clone()));
        }
    });
    (addr, connections)
}

async fn serve_connection(mut stream: TcpStream, conn: usize, behaviour: Behaviour) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    for request in 1.. {
        let head = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                buf.drain(..end + 4);
                break head;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        if let Some(barrier) = &behaviour.together {
            barrier.wait().await;
        }
        let body = if head.starts_with("GET /big ") {
            vec![b'x'; 4 << 20]
        } else {
            format!("conn {conn} request {request}").into_bytes()
        };
        let connection = if behaviour.close {
            "close"
        } else {
            "keep-alive"
        };
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
            body.len()
        );
        if stream.write_all(answer.as_bytes()).await.is_err()
            || stream.write_all(&body).await.is_err()
            || behaviour.close
        {
            return;
        }
    }
}

/// The proxy in front of `backend`, keeping at most `max_idle` idle connections.
async fn start(backend: SocketAddr, max_idle: usize) -> (SocketAddr, Proxy) {
    let mut config = backend_config(backend);
    config.pool_max_idle_per_host = max_idle;
    let proxy = Proxy::new(&config).unwrap();
    let app = fixed_identity::router(proxy.clone(), HeaderContract::default(), None, "https");
    (serve_router(app).await, proxy)
}

const GET: &str = "GET /x HTTP/1.1\r\nHost: app.example.com\r\n\r\n";

#[tokio::test]
async fn one_backend_connection_serves_requests_one_after_another() {
    let (backend, connections) = start_backend(Behaviour::default()).await;
    let (proxy, _) = start(backend, 8).await;
    for request in 1..=5 {
        let response = raw_request(proxy, GET).await;
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), format!("conn 1 request {request}"));
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_the_backend_closes_is_not_used_again() {
    let (backend, connections) = start_backend(Behaviour {
        close: true,
        ..Behaviour::default()
    })
    .await;
    let (proxy, _) = start(backend, 8).await;
    for conn in 1..=3 {
        let response = raw_request(proxy, GET).await;
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), format!("conn {conn} request 1"));
    }
    assert_eq!(connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_response_the_browser_abandoned_never_reaches_the_next_request() {
    let (backend, connections) = start_backend(Behaviour::default()).await;
    let (proxy, _) = start(backend, 8).await;
    // Read the head of a 4 MiB answer, then go away: the rest of it is still on the backend
    // connection, which must not serve the next request.
    let mut browser = TcpStream::connect(proxy).await.unwrap();
    browser
        .write_all(b"GET /big HTTP/1.1\r\nHost: app.example.com\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 64];
    let n = browser.read(&mut head).await.unwrap();
    assert!(head[..n].starts_with(b"HTTP/1.1 200"));
    drop(browser);

    let response = raw_request(proxy, GET).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "conn 2 request 1");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn concurrent_requests_get_their_own_connections_and_only_the_limit_is_kept() {
    let together = Arc::new(Barrier::new(3));
    let (backend, connections) = start_backend(Behaviour {
        together: Some(together),
        ..Behaviour::default()
    })
    .await;
    let (addr, proxy) = start(backend, 2).await;
    // The backend answers none of the three until all three have arrived: they can only
    // be on three connections at once.
    let answers = futures_util::future::join_all((0..3).map(|_| raw_request(addr, GET))).await;
    let mut bodies: Vec<String> = answers.iter().map(RawResponse::text).collect();
    bodies.sort();
    assert_eq!(
        bodies,
        ["conn 1 request 1", "conn 2 request 1", "conn 3 request 1"]
    );
    assert_eq!(connections.load(Ordering::SeqCst), 3);
    // Each connection went back to the pool when its response body ended, before the last
    // byte reached the browser; the pool keeps two of the three.
    assert_eq!(proxy.idle_connections(), 2);
}
