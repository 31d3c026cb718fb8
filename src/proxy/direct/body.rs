//! A response body read from one of the gateway's own connections, handed on frame by frame as
//! it arrives, that puts the connection back into its idle set when the body has ended exactly
//! where its framing said. Dropped before its end (the browser went away), it drops the
//! connection, which closes it: the rest of that response would otherwise be read as the next.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::body::Bytes;
use http_body::{Frame, SizeHint};

use super::chunked::{ChunkedDecoder, Decoded};
use super::response_head::Framing;
use super::{DirectConn, ExchangeError, GiveBack, READ_CHUNK};

/// See the module documentation.
pub struct DirectBody(Inner);

impl std::fmt::Debug for DirectBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Inner::Whole(data) => write!(
                f,
                "DirectBody(whole, {} bytes)",
                data.as_ref().map_or(0, Bytes::len)
            ),
            Inner::Reading(_) => f.write_str("DirectBody(reading)"),
        }
    }
}

enum Inner {
    /// The whole body, already read (or none at all).
    Whole(Option<Bytes>),
    /// The rest is still to be read from the connection.
    Reading(Box<Reading>),
}

struct Reading {
    /// `None` once the body has ended or failed.
    conn: Option<DirectConn>,
    delimited: Delimited,
    give_back: Option<GiveBack>,
}

enum Delimited {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
}

impl DirectBody {
    /// A body that is all here: the connection goes back (if `give_back`) unless bytes follow.
    pub(super) fn whole(
        data: Option<Bytes>,
        conn: DirectConn,
        give_back: Option<GiveBack>,
    ) -> Self {
        finish(conn, give_back);
        DirectBody(Inner::Whole(data.filter(|d| !d.is_empty())))
    }

    /// A body still to be read from `conn` (which may hold its first bytes already).
    pub(super) fn reading(conn: DirectConn, framing: Framing, give_back: Option<GiveBack>) -> Self {
        let delimited = match framing {
            Framing::Empty => return Self::whole(None, conn, give_back),
            Framing::Length(n) => Delimited::Length(n),
            Framing::Chunked => Delimited::Chunked(ChunkedDecoder::new()),
            Framing::UntilClose => Delimited::UntilClose,
        };
        DirectBody(Inner::Reading(Box::new(Reading {
            conn: Some(conn),
            delimited,
            give_back,
        })))
    }
}

/// A body ended: its connection goes back when it may carry another request and holds nothing
/// past this response.
fn finish(conn: DirectConn, give_back: Option<GiveBack>) {
    if let Some(give_back) = give_back
        && conn.buf.is_empty()
        && !conn.gone
    {
        give_back.put(conn);
    }
}

impl Reading {
    /// The next frame from what `conn` holds, without reading: `None` when more must be read.
    fn take_buffered(&mut self) -> Option<Result<Option<Bytes>, ExchangeError>> {
        let conn = self.conn.as_mut()?;
        match &mut self.delimited {
            Delimited::Length(0) => Some(Ok(None)),
            Delimited::Length(left) => {
                if conn.buf.is_empty() {
                    return None;
                }
                let take = usize::try_from(*left)
                    .unwrap_or(usize::MAX)
                    .min(conn.buf.len());
                *left = left.saturating_sub(take as u64);
                Some(Ok(Some(conn.buf.split_to(take).freeze())))
            }
            Delimited::Chunked(decoder) => match decoder.decode(&mut conn.buf) {
                Ok(Decoded::Data(data)) => Some(Ok(Some(data))),
                Ok(Decoded::Done) => Some(Ok(None)),
                Ok(Decoded::NeedMore) => None,
                Err(e) => Some(Err(e.into())),
            },
            Delimited::UntilClose => {
                if conn.buf.is_empty() {
                    return None;
                }
                Some(Ok(Some(conn.buf.split().freeze())))
            }
        }
    }

    /// Whether the body has ended with what was given so far.
    fn ended(&self) -> bool {
        match &self.delimited {
            Delimited::Length(left) => *left == 0,
            Delimited::Chunked(decoder) => decoder.is_done(),
            Delimited::UntilClose => false,
        }
    }

    fn end(&mut self) {
        if let Some(conn) = self.conn.take() {
            finish(conn, self.give_back.take());
        }
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, ExchangeError>>> {
        loop {
            match self.take_buffered() {
                Some(Ok(Some(data))) => {
                    if self.ended() {
                        self.end();
                    }
                    return Poll::Ready(Some(Ok(data)));
                }
                Some(Ok(None)) => {
                    self.end();
                    return Poll::Ready(None);
                }
                Some(Err(e)) => {
                    self.conn = None;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {}
            }
            let Some(conn) = self.conn.as_mut() else {
                return Poll::Ready(None);
            };
            conn.buf.reserve(READ_CHUNK);
            let read = ready!(tokio_util::io::poll_read_buf(
                Pin::new(&mut conn.stream),
                cx,
                &mut conn.buf
            ));
            match read {
                Ok(0) => {
                    self.conn = None;
                    return Poll::Ready(match self.delimited {
                        Delimited::UntilClose => None,
                        _ => Some(Err(ExchangeError::Closed(
                            "before the end of its response body",
                        ))),
                    });
                }
                Ok(_) => {}
                Err(e) => {
                    self.conn = None;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
        }
    }
}

impl http_body::Body for DirectBody {
    type Data = Bytes;
    type Error = ExchangeError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ExchangeError>>> {
        match &mut self.0 {
            Inner::Whole(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            Inner::Reading(reading) => reading
                .poll_next(cx)
                .map(|next| next.map(|r| r.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Inner::Whole(data) => data.is_none(),
            Inner::Reading(reading) => reading.conn.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Inner::Whole(data) => SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64)),
            Inner::Reading(reading) => match reading.delimited {
                Delimited::Length(left) => SizeHint::with_exact(left),
                _ => SizeHint::default(),
            },
        }
    }
}
