//! Body adapters of the proxy path.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use tokio::sync::oneshot;

use super::pool::PooledBody;

/// A request body that drops its `done` sender when it ends (or is dropped), so that the response timeout can
/// start then and not at the start of a long upload.
pub(super) struct EndSignal {
    pub(super) inner: Body,
    pub(super) done: Option<oneshot::Sender<()>>,
}

impl http_body::Body for EndSignal {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None | Some(Err(_))) = polled {
            self.done = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A response body whose first frame was already read.
pub(super) struct FirstThenRest {
    pub(super) first: Option<http_body::Frame<Bytes>>,
    pub(super) rest: PooledBody,
}

impl http_body::Body for FirstThenRest {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, hyper::Error>>> {
        match self.first.take() {
            Some(first) => Poll::Ready(Some(Ok(first))),
            None => Pin::new(&mut self.rest).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let mut hint = self.rest.size_hint();
        let first = self
            .first
            .as_ref()
            .and_then(|f| f.data_ref())
            .map_or(0, |d| d.len() as u64);
        if let Some(exact) = hint.exact() {
            hint.set_exact(exact + first);
        } else {
            hint.set_lower(hint.lower() + first);
        }
        hint
    }
}
