//! A backend exchange's deadline, kept by a timer of its connection's rather than one of its own:
//! a timer per request cost each request its registration and removal in the runtime's timer
//! wheel, while a connection's timer armed by an earlier request (for an earlier deadline) only
//! needs moving when it fires, at most once per response timeout.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Sleep;

/// The deadline passed before the exchange ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Elapsed;

/// Later than any deadline a new connection's timer will be armed for.
const UNARMED: Duration = Duration::from_secs(86_400 * 365);

/// A connection's timer, not in the timer wheel until a deadline is kept by it (see `within`).
pub(super) fn unarmed_timer() -> Pin<Box<Sleep>> {
    Box::pin(tokio::time::sleep_until(
        tokio::time::Instant::now() + UNARMED,
    ))
}

/// `exchange`, unless `deadline` (if any) passes first: [`Elapsed`]. `timer` is the
/// connection's: left as it is when an earlier request armed it for an earlier deadline (it then
/// fires early, and is moved to `deadline` only then), so that most requests cost the timer wheel
/// nothing.
pub(super) async fn within<F: Future>(
    timer: &mut Pin<Box<Sleep>>,
    deadline: Option<tokio::time::Instant>,
    mut exchange: Pin<&mut F>,
) -> Result<F::Output, Elapsed> {
    let Some(deadline) = deadline else {
        return Ok(exchange.await);
    };
    if timer.is_elapsed() || timer.deadline() > deadline {
        timer.as_mut().reset(deadline);
    }
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = exchange.as_mut().poll(cx) {
            return Poll::Ready(Ok(out));
        }
        while timer.as_mut().poll(cx).is_ready() {
            if tokio::time::Instant::now() >= deadline {
                return Poll::Ready(Err(Elapsed));
            }
            // Armed by an earlier request: now wait for this one's deadline.
            timer.as_mut().reset(deadline);
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::pin::pin;

    use super::*;

    use tokio::time::Instant as TokioInstant;

    fn timer_at(deadline: TokioInstant) -> Pin<Box<Sleep>> {
        Box::pin(tokio::time::sleep_until(deadline))
    }

    async fn answered_after(delay: Duration) -> &'static str {
        tokio::time::sleep(delay).await;
        "response head"
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_armed_for_an_earlier_deadline_is_left_alone_by_an_exchange_that_ends_in_time()
    {
        let start = TokioInstant::now();
        let earlier = start + Duration::from_secs(60);
        let mut timer = timer_at(earlier);
        let deadline = start + Duration::from_secs(70);
        let out = within(
            &mut timer,
            Some(deadline),
            pin!(answered_after(Duration::from_secs(1))),
        )
        .await;
        assert_eq!(out.ok(), Some("response head"));
        assert_eq!(timer.deadline(), earlier);
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_that_fires_early_is_moved_to_the_deadline_which_is_kept_exactly() {
        // Armed by an earlier request for 10 s from now; this one's deadline is at 15 s. An
        // answer after 20 s is given up at 15 s; one after 12 s (between the early firing and
        // the deadline) is taken.
        for (answer_after, ends_after, answered) in [(20, 15, false), (12, 12, true)] {
            let start = TokioInstant::now();
            let mut timer = timer_at(start + Duration::from_secs(10));
            let deadline = start + Duration::from_secs(15);
            let out = within(
                &mut timer,
                Some(deadline),
                pin!(answered_after(Duration::from_secs(answer_after))),
            )
            .await;
            assert_eq!(out.is_ok(), answered, "answer after {answer_after} s");
            assert_eq!(start.elapsed(), Duration::from_secs(ends_after));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_fired_or_later_timer_is_set_to_the_deadline() {
        let start = TokioInstant::now();
        let mut fired = timer_at(start + Duration::from_secs(1));
        fired.as_mut().await;
        let deadline = TokioInstant::now() + Duration::from_secs(5);
        let out = within(
            &mut fired,
            Some(deadline),
            pin!(answered_after(Duration::from_secs(9))),
        )
        .await;
        assert!(matches!(out, Err(Elapsed)));
        assert_eq!(start.elapsed(), Duration::from_secs(6));

        let mut new_connection = unarmed_timer();
        let deadline = TokioInstant::now() + Duration::from_secs(5);
        let out = within(
            &mut new_connection,
            Some(deadline),
            pin!(answered_after(Duration::from_secs(9))),
        )
        .await;
        assert!(matches!(out, Err(Elapsed)));
        assert_eq!(new_connection.deadline(), deadline);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_deadline_the_exchange_is_awaited_however_long() {
        let start = TokioInstant::now();
        let mut timer = timer_at(start + Duration::from_secs(1));
        let out = within(
            &mut timer,
            None,
            pin!(answered_after(Duration::from_secs(3600))),
        )
        .await;
        assert_eq!(out.ok(), Some("response head"));
    }
}
