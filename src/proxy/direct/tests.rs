//! Unit tests of `proxy::direct`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
//! The exchange against a scripted backend on a real socket: what a browser gets, and, above
//! all, when a connection is used again.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::BodyExt as _;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::super::pool::{BackendPool, SendError};
use super::{DirectBody, end_head, field, start_head};

/// What the backend does for one request.
#[derive(Clone)]
struct Answer {
    /// Written in pieces of this many bytes, each flushed on its own.
    bytes: Vec<u8>,
    piece: usize,
    /// Close the connection after answering.
    close: bool,
    /// Written a little after the answer, on the same connection, while it is idle.
    later: Option<Vec<u8>>,
}

fn answer(text: &str) -> Answer {
    Answer {
        bytes: text.as_bytes().to_vec(),
        piece: usize::MAX,
        close: false,
        later: None,
    }
}

/// A backend that answers requests in order from `answers` (the last one again when they run
/// out) and records, for each request, the connection it came on and its head.
struct Backend {
    addr: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<(usize, String)>>>,
}

impl Backend {
    async fn start(answers: Vec<Answer>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(
            answers
                .into_iter()
                .collect::<std::collections::VecDeque<_>>(),
        ));
        let record = Arc::clone(&seen);
        tokio::spawn(async move {
            for connection in 0.. {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(
                    stream,
                    connection,
                    Arc::clone(&answers),
                    Arc::clone(&record),
                ));
            }
        });
        Backend { addr, seen }
    }

    fn seen(&self) -> Vec<(usize, String)> {
        self.seen.lock().unwrap().clone()
    }

    fn pool(&self) -> BackendPool {
        let target: Uri = format!("http://{}/", self.addr).parse().unwrap();
        BackendPool::new(
            HttpConnector::new(),
            target,
            NonZeroUsize::MIN,
            Duration::from_secs(90),
            8,
        )
    }
}

async fn serve(
    mut stream: TcpStream,
    connection: usize,
    answers: Arc<Mutex<std::collections::VecDeque<Answer>>>,
    seen: Arc<Mutex<Vec<(usize, String)>>>,
) {
    let mut buf = Vec::new();
    loop {
        let end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head: Vec<u8> = buf.drain(..end).collect();
        let line = String::from_utf8_lossy(&head).into_owned();
        seen.lock().unwrap().push((connection, line));
        let answer = {
            let mut answers = answers.lock().unwrap();
            if answers.len() > 1 {
                answers.pop_front()
            } else {
                answers.front().cloned()
            }
        };
        let Some(answer) = answer else { return };
        for piece in answer.bytes.chunks(answer.piece.max(1)) {
            if stream.write_all(piece).await.is_err() {
                return;
            }
            let _ = stream.flush().await;
            if answer.piece != usize::MAX {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        if let Some(later) = &answer.later {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = stream.write_all(later).await;
        }
        if answer.close {
            return;
        }
    }
}

/// A request's head as the proxy writes it, and its method.
struct Sent {
    head: Vec<u8>,
    method: Method,
}

fn request(method: Method, path: &str) -> Sent {
    let parts = Request::builder()
        .method(method.clone())
        .uri(path)
        .header("x-request", "1")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let mut head = Vec::new();
    start_head(&parts, &HeaderValue::from_static("backend.test"), &mut head);
    field(&mut head, "x-added", b"2");
    end_head(&mut head);
    Sent { head, method }
}

fn get(path: &str) -> Sent {
    request(Method::GET, path)
}

fn head(path: &str) -> Sent {
    request(Method::HEAD, path)
}

async fn send(
    pool: &BackendPool,
    sent: &Sent,
    deadline: Option<tokio::time::Instant>,
) -> Result<Response<DirectBody>, SendError> {
    pool.send_direct(&sent.head, &sent.method, deadline)
        .await
        .expect("a plain-HTTP backend")
}

fn deadline() -> Option<tokio::time::Instant> {
    Some(tokio::time::Instant::now() + Duration::from_secs(10))
}

/// Send `sent` and read the whole response.
async fn fetch(pool: &BackendPool, sent: &Sent) -> Result<(StatusCode, Vec<u8>), String> {
    let response = send(pool, sent, deadline()).await.map_err(|e| match e {
        SendError::Exchange(e) => e.to_string(),
        other => format!("{other:?}"),
    })?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body.to_vec()))
}

fn connections(backend: &Backend) -> Vec<usize> {
    backend.seen().into_iter().map(|(c, _)| c).collect()
}

#[tokio::test]
async fn a_response_of_known_length_leaves_the_connection_for_the_next_request() {
    let backend = Backend::start(vec![answer(
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello",
    )])
    .await;
    let pool = backend.pool();
    for _ in 0..3 {
        assert_eq!(
            fetch(&pool, &get("/a?b=c")).await.unwrap(),
            (StatusCode::OK, b"hello".to_vec())
        );
    }
    assert_eq!(connections(&backend), [0, 0, 0]);
    assert_eq!(
        backend.seen()[0].1,
        "GET /a?b=c HTTP/1.1\r\nhost: backend.test\r\nx-request: 1\r\nx-added: 2\r\n\r\n"
    );
    assert_eq!(pool.idle_count(), 1);
}

#[tokio::test]
async fn bodies_that_arrive_in_pieces_are_passed_on_whole_and_the_connection_kept() {
    let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
    let long = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: 40000\r\n\r\n{}",
        "z".repeat(40_000)
    );
    let backend = Backend::start(vec![
        Answer {
            piece: 3,
            ..answer(chunked)
        },
        Answer {
            piece: 7000,
            ..answer(&long)
        },
        answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ])
    .await;
    let pool = backend.pool();
    assert_eq!(fetch(&pool, &get("/1")).await.unwrap().1, b"hello world");
    assert_eq!(
        fetch(&pool, &get("/2")).await.unwrap().1,
        "z".repeat(40_000).into_bytes()
    );
    assert_eq!(fetch(&pool, &get("/3")).await.unwrap().1, b"ok");
    assert_eq!(connections(&backend), [0, 0, 0]);
}

#[tokio::test]
async fn a_body_read_until_close_ends_the_connection() {
    let backend = Backend::start(vec![
        Answer {
            close: true,
            ..answer("HTTP/1.1 200 OK\r\n\r\nuntil the end")
        },
        answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ])
    .await;
    let pool = backend.pool();
    assert_eq!(fetch(&pool, &get("/1")).await.unwrap().1, b"until the end");
    assert_eq!(fetch(&pool, &get("/2")).await.unwrap().1, b"ok");
    assert_eq!(connections(&backend), [0, 1]);
}

#[tokio::test]
async fn connection_close_and_http_1_0_end_the_connection() {
    let backend = Backend::start(vec![
        answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"),
        answer("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ])
    .await;
    let pool = backend.pool();
    for _ in 0..3 {
        assert_eq!(fetch(&pool, &get("/")).await.unwrap().1, b"ok");
    }
    assert_eq!(connections(&backend), [0, 1, 2]);
}

/// Response splitting: bytes after a response's end are never read as the next response.
#[tokio::test]
async fn bytes_past_the_end_of_a_response_are_never_taken_for_the_next_one() {
    let smuggled = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil";
    let backend = Backend::start(vec![
        answer(smuggled),
        answer("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood"),
    ])
    .await;
    let pool = backend.pool();
    assert_eq!(fetch(&pool, &get("/1")).await.unwrap().1, b"ok");
    assert_eq!(fetch(&pool, &get("/2")).await.unwrap().1, b"good");
    assert_eq!(connections(&backend), [0, 1]);

    let chunked_then_more = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil";
    let backend = Backend::start(vec![
        Answer {
            piece: 5,
            ..answer(chunked_then_more)
        },
        answer("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood"),
    ])
    .await;
    let pool = backend.pool();
    assert_eq!(fetch(&pool, &get("/1")).await.unwrap().1, b"ok");
    assert_eq!(fetch(&pool, &get("/2")).await.unwrap().1, b"good");
}

#[tokio::test]
async fn bytes_sent_on_an_idle_connection_retire_it() {
    let backend = Backend::start(vec![
        Answer {
            later: Some(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil".to_vec()),
            ..answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        },
        answer("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood"),
    ])
    .await;
    let pool = backend.pool();
    assert_eq!(fetch(&pool, &get("/1")).await.unwrap().1, b"ok");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fetch(&pool, &get("/2")).await.unwrap().1, b"good");
    assert_eq!(connections(&backend), [0, 1]);
}

#[tokio::test]
async fn a_request_on_a_connection_the_backend_closed_is_sent_again_on_a_new_one() {
    let backend = Backend::start(vec![
        Answer {
            close: true,
            ..answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        },
        answer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain"),
    ])
    .await;
    let pool = backend.pool();
    assert_eq!(fetch(&pool, &get("/1")).await.unwrap().1, b"ok");
    // The backend closes right after answering, but the response said nothing of it: the
    // connection went back idle, and the next request finds it closed (before or after
    // sending) and goes out on a new one.
    assert_eq!(fetch(&pool, &get("/2")).await.unwrap().1, b"again");
    assert_eq!(connections(&backend), [0, 1]);
}

#[tokio::test]
async fn a_body_left_unread_closes_its_connection() {
    let long = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{}",
        "z".repeat(100_000)
    );
    let backend = Backend::start(vec![
        Answer {
            piece: 10_000,
            ..answer(&long)
        },
        answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ])
    .await;
    let pool = backend.pool();
    let response = send(&pool, &get("/1"), deadline()).await.unwrap();
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert!(!first.into_data().unwrap().is_empty());
    drop(body);
    assert_eq!(fetch(&pool, &get("/2")).await.unwrap().1, b"ok");
    assert_eq!(connections(&backend), [0, 1]);
}

#[tokio::test]
async fn head_interim_and_bodiless_answers_have_no_body_and_keep_the_connection() {
    let backend = Backend::start(vec![
        answer("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"),
        answer("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        answer("HTTP/1.1 204 No Content\r\n\r\n"),
        answer("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"),
    ])
    .await;
    let pool = backend.pool();
    let response = send(&pool, &head("/"), deadline()).await.unwrap();
    assert_eq!(response.headers()["content-length"], "10");
    assert!(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .is_empty()
    );
    assert_eq!(
        fetch(&pool, &get("/")).await.unwrap(),
        (StatusCode::OK, b"ok".to_vec())
    );
    assert_eq!(
        fetch(&pool, &get("/")).await.unwrap(),
        (StatusCode::NO_CONTENT, Vec::new())
    );
    assert_eq!(
        fetch(&pool, &get("/")).await.unwrap(),
        (StatusCode::NOT_MODIFIED, Vec::new())
    );
    assert_eq!(connections(&backend), [0, 0, 0, 0]);
}

#[tokio::test]
async fn an_ambiguous_or_broken_response_is_refused_and_its_connection_dropped() {
    for (text, expected) in [
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
            "Content-Length",
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
            "both Transfer-Encoding",
        ),
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
            "101 Switching Protocols",
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
            "body refused",
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            "before the end of its response body",
        ),
        ("not http at all\r\n\r\n", "malformed response head"),
    ] {
        let backend = Backend::start(vec![Answer {
            close: true,
            ..answer(text)
        }])
        .await;
        let pool = backend.pool();
        let error = fetch(&pool, &get("/")).await.unwrap_err();
        assert!(error.contains(expected), "{text:?}: {error}");
        assert_eq!(pool.idle_count(), 0, "{text:?}");
    }
}

#[tokio::test]
async fn no_response_head_by_the_deadline_is_a_timeout() {
    let backend = Backend::start(vec![Answer {
        piece: 1,
        ..answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    }])
    .await;
    let pool = backend.pool();
    let soon = Some(tokio::time::Instant::now() + Duration::from_millis(5));
    let sent = send(&pool, &get("/"), soon).await;
    assert!(matches!(sent, Err(SendError::TimedOut)), "{sent:?}");
}
