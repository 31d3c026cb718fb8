//! The gateway's own HTTP/1.1 exchange with a plain-HTTP backend, for requests without a body
//! (`GET` and `HEAD`, nearly every request a browser makes): the request head written from the
//! proxy's request in one pass, the response head parsed by `httparse` (the parser hyper uses)
//! on the request's own task, the body handed on as it arrives.
//!
//! hyper's client connection does the same through a connection task of its own, a channel to
//! it and a second header map; measured by callgrind, that was a fifth of a proxied request's
//! instructions (about 8,000 of 40,000), and under load about a tenth of its CPU time. Requests
//! with a body, WebSocket upgrades and `https://` backends still go through hyper
//! ([`super::pool::BackendPool::send`]).
//!
//! What makes it safe to keep a connection for the next request is that both ends agree where
//! a response ends. [`response_head`] refuses every head whose body delimitation is in doubt,
//! [`chunked`] decodes strictly, and a connection goes back to its idle set only when its
//! response ended exactly where its framing said, with no byte after it; anything else (a body
//! read until the backend closes, `Connection: close`, HTTP/1.0, a response cut short, a body
//! the browser stopped reading) closes it.

mod body;
mod chunked;
mod request_head;
mod response_head;

use std::pin::{Pin, pin};
use std::sync::Arc;

use axum::http::{Method, Response};
use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

pub use self::body::DirectBody;
pub use self::chunked::ChunkedError;
pub(super) use self::request_head::{end as end_head, field, start as start_head};
pub use self::response_head::HeadError;
use self::response_head::{Framing, KeptField, Parsed};
use super::deadline::{unarmed_timer, within};
use super::idle::{IdleSet, Reusable};

/// Room reserved for a request head (most are well under it; a longer one grows the buffer).
pub(super) const HEAD_CAPACITY: usize = 1024;
/// Room for each read from the connection.
const READ_CHUNK: usize = 16 * 1024;

/// Why an exchange on one of the gateway's own connections failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("backend connection failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the backend closed the connection {0}")]
    Closed(&'static str),
    #[error("backend response refused: {0}")]
    Head(#[from] HeadError),
    #[error("backend response body refused: {0}")]
    Chunked(#[from] ChunkedError),
    #[error("the gateway's own HTTP/1.1 exchange serves plain-HTTP backends only")]
    NotPlainHttp,
}

/// How an exchange failed: before any byte of a response came (the request may be sent again
/// on another connection), after, or by its deadline.
#[derive(Debug)]
pub enum Attempt {
    Unanswered(ExchangeError),
    Failed(ExchangeError),
    TimedOut,
}

/// A connection of the gateway's own, with what it has read past the last response (nothing,
/// when it is idle) and the timer its requests' deadlines are kept by.
pub struct DirectConn {
    stream: TcpStream,
    buf: BytesMut,
    /// Scratch space for reading response heads (see [`response_head::parse`]).
    kept: Vec<KeptField>,
    timer: Pin<Box<Sleep>>,
    /// Found closed, or holding bytes nobody asked for: never used again.
    gone: bool,
}

impl DirectConn {
    pub(super) fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buf: BytesMut::new(),
            kept: Vec::new(),
            timer: unarmed_timer(),
            gone: false,
        }
    }
}

impl Reusable for DirectConn {
    /// An idle connection must have nothing to read: the backend closed it, or sent bytes
    /// that answer no request (which would be taken for the next request's response). Costs no
    /// system call while the runtime knows the socket has nothing to read.
    fn is_ready(&mut self) -> bool {
        if self.gone || !self.buf.is_empty() {
            self.gone = true;
            return false;
        }
        let mut probe = [0u8; 1];
        match self.stream.try_read(&mut probe) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => true,
            _ => {
                self.gone = true;
                false
            }
        }
    }

    fn is_closed(&mut self) -> bool {
        !self.is_ready()
    }
}

/// Where a connection goes once its response has ended cleanly.
pub(super) struct GiveBack {
    set: Arc<IdleSet<DirectConn>>,
    max_idle: usize,
}

impl GiveBack {
    pub(super) fn new(set: Arc<IdleSet<DirectConn>>, max_idle: usize) -> Self {
        Self { set, max_idle }
    }

    fn put(self, conn: DirectConn) {
        self.set.put(conn, self.max_idle);
    }
}

/// Send `head` (a request made with `method`, without a body) on `conn` and read the response
/// head, by `deadline` (if any). The body is left to the returned response.
pub(super) async fn exchange(
    mut conn: DirectConn,
    head: &[u8],
    method: &Method,
    deadline: Option<Instant>,
    give_back: GiveBack,
) -> Result<Response<DirectBody>, Attempt> {
    let head = {
        let DirectConn {
            stream,
            buf,
            kept,
            timer,
            ..
        } = &mut conn;
        let exchange = pin!(read_head(stream, buf, kept, head, method));
        within(timer, deadline, exchange)
            .await
            .map_err(|_| Attempt::TimedOut)??
    };

    let keep = head.keep_alive.then_some(give_back);
    let body = match head.framing {
        Framing::Empty => DirectBody::whole(None, conn, keep),
        Framing::Length(n) if conn.buf.len() as u64 >= n => {
            // `n` fits in usize: the buffer holds that many bytes.
            let data = conn.buf.split_to(usize::try_from(n).unwrap_or(usize::MAX));
            DirectBody::whole(Some(data.freeze()), conn, keep)
        }
        framing => DirectBody::reading(conn, framing, keep),
    };
    let mut response = Response::new(body);
    *response.status_mut() = head.status;
    *response.headers_mut() = head.headers;
    Ok(response)
}

/// Write the request head, then read until the response head (past any interim `1xx`) is in
/// `buf`; it is taken off `buf`, which keeps what followed it.
async fn read_head(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    kept: &mut Vec<KeptField>,
    request: &[u8],
    method: &Method,
) -> Result<response_head::Head, Attempt> {
    stream
        .write_all(request)
        .await
        .map_err(|e| Attempt::Unanswered(e.into()))?;
    let mut answered = false;
    loop {
        let before = buf.len();
        buf.reserve(READ_CHUNK);
        let read = stream.read_buf(buf).await;
        let failed = |e: ExchangeError| {
            if answered {
                Attempt::Failed(e)
            } else {
                Attempt::Unanswered(e)
            }
        };
        match read {
            Ok(0) => {
                return Err(failed(ExchangeError::Closed(
                    "before the end of its response head",
                )));
            }
            Ok(_) => answered = true,
            Err(e) => return Err(failed(e.into())),
        }
        // A head ends with a line feed: without one among the new bytes, it has not ended.
        let new = buf.get(before..).unwrap_or_default();
        if !new.contains(&b'\n') && buf.len() < response_head::MAX_HEAD_BYTES {
            continue;
        }
        loop {
            match response_head::parse(buf, method, kept) {
                Ok(None) => break,
                Ok(Some(Parsed::Interim)) => {}
                Ok(Some(Parsed::Final(head))) => return Ok(head),
                Err(e) => return Err(Attempt::Failed(e.into())),
            }
        }
    }
}

#[cfg(test)]
mod tests;
