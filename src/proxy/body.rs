//! Body adapters of the proxy path.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use tokio::sync::oneshot;

/// How a request body's forwarding ended, as [`EndSignal`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BodyEnd {
    /// The client sent nothing for the body timeout: the body was cut with an error.
    Stalled,
}

/// The client stopped sending its request body: the error [`EndSignal`] gives hyper in place
/// of the next frame, which abandons the backend request.
#[derive(Debug, thiserror::Error)]
#[error("the client sent no request body bytes for {0:?}")]
pub(super) struct BodyStalled(pub(super) Duration);

/// A request body forwarded to the backend that
///
/// - signals on `done` when it ends, fails or is dropped (the sender is dropped), so that the
///   response timeout can start then and not at the start of a long upload;
/// - is cut when the client sends nothing for `idle_timeout` (`done` then says
///   [`BodyEnd::Stalled`]): a client trickling a body, or holding one open, would otherwise hold
///   a backend connection, and a backend worker, for as long as it likes.
pub(super) struct EndSignal {
    inner: Body,
    done: Option<oneshot::Sender<BodyEnd>>,
    idle_timeout: Duration,
    /// When the client has been silent for `idle_timeout`; moved on by every frame.
    idle: Pin<Box<tokio::time::Sleep>>,
}

impl EndSignal {
    pub(super) fn new(inner: Body, done: oneshot::Sender<BodyEnd>, idle_timeout: Duration) -> Self {
        Self {
            inner,
            done: Some(done),
            idle_timeout,
            idle: Box::pin(tokio::time::sleep(idle_timeout)),
        }
    }
}

impl http_body::Body for EndSignal {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let deadline = tokio::time::Instant::now() + this.idle_timeout;
                this.idle.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(end) => {
                this.done = None;
                Poll::Ready(end)
            }
            Poll::Pending => {
                if this.done.is_none() || this.idle.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                if let Some(done) = this.done.take() {
                    // The receiver may be gone already (the backend answered early): then
                    // nobody needs to know.
                    let _ = done.send(BodyEnd::Stalled);
                }
                Poll::Ready(Some(Err(axum::Error::new(BodyStalled(this.idle_timeout)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A response body whose first frame was already read.
pub(super) struct FirstThenRest<B> {
    pub(super) first: Option<http_body::Frame<Bytes>>,
    pub(super) rest: B,
}

impl<B: http_body::Body<Data = Bytes> + Unpin> http_body::Body for FirstThenRest<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, B::Error>>> {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::{Body, Bytes};
    use futures_util::stream;
    use http_body_util::BodyExt as _;
    use tokio::sync::oneshot;
    use tokio::time::Instant;

    use super::{BodyEnd, EndSignal};

    const TIMEOUT: Duration = Duration::from_secs(60);

    fn signal(inner: Body) -> (EndSignal, oneshot::Receiver<BodyEnd>) {
        let (tx, rx) = oneshot::channel();
        (EndSignal::new(inner, tx, TIMEOUT), rx)
    }

    /// A body with one frame after each of `gaps` (in seconds), then its end.
    fn trickle(gaps: &'static [u64]) -> Body {
        Body::from_stream(stream::unfold(0, move |sent| async move {
            let gap = gaps.get(sent)?;
            tokio::time::sleep(Duration::from_secs(*gap)).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), sent + 1))
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_is_cut_after_the_timeout_and_the_cut_is_signalled() {
        let started = Instant::now();
        let pending = stream::pending::<Result<Bytes, std::io::Error>>();
        let (mut body, mut done) = signal(Body::from_stream(pending));
        let error = match body.frame().await {
            Some(Err(e)) => e,
            other => panic!("expected the body to be cut, got {other:?}"),
        };
        assert_eq!(started.elapsed(), TIMEOUT);
        assert!(
            error.to_string().contains("no request body bytes for 60s"),
            "{error}"
        );
        assert_eq!(done.try_recv(), Ok(BodyEnd::Stalled));
    }

    #[tokio::test(start_paused = true)]
    async fn every_frame_restarts_the_timeout() {
        // Five frames 40 s apart: 200 s in all, never 60 s of silence.
        let started = Instant::now();
        let (mut body, mut done) = signal(trickle(&[40, 40, 40, 40, 40]));
        for _ in 0..5 {
            let frame = body.frame().await.expect("a frame").expect("not cut");
            assert_eq!(frame.into_data().ok(), Some(Bytes::from_static(b"x")));
        }
        assert!(body.frame().await.is_none());
        assert_eq!(started.elapsed(), Duration::from_secs(200));
        // Ended, not stalled: the sender is dropped without a message.
        assert!(done.try_recv().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_gap_longer_than_the_timeout_cuts_even_after_frames() {
        let started = Instant::now();
        let (mut body, mut done) = signal(trickle(&[10, 10, 61]));
        for _ in 0..2 {
            assert!(matches!(body.frame().await, Some(Ok(_))));
        }
        assert!(matches!(body.frame().await, Some(Err(_))));
        // Cut 60 s after the second frame, not 60 s after the start.
        assert_eq!(started.elapsed(), Duration::from_secs(80));
        assert_eq!(done.try_recv(), Ok(BodyEnd::Stalled));
    }

    #[tokio::test(start_paused = true)]
    async fn the_clients_own_error_is_passed_on_and_is_not_a_stall() {
        let failing = stream::iter([Err::<Bytes, _>(std::io::Error::other("reset"))]);
        let (mut body, mut done) = signal(Body::from_stream(failing));
        let error = match body.frame().await {
            Some(Err(e)) => e,
            other => panic!("expected the client's error, got {other:?}"),
        };
        assert!(error.to_string().contains("reset"), "{error}");
        assert!(done.try_recv().is_err());
    }
}
