//! When to fetch an IdP's metadata again: the configured `metadata_refresh`, shortened by the
//! document's `cacheDuration` and `validUntil` and by the HTTP freshness headers, never below a
//! floor (a hostile server cannot make the gateway spin); after a failure, a jittered backoff
//! from the floor up to the configured interval. Pure: the caller passes the time and the jitter.

use std::time::Duration;

use time::OffsetDateTime;

/// What bounds the next wait after a success.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hints {
    pub cache_duration: Option<Duration>,
    pub valid_until: Option<OffsetDateTime>,
    pub http_max_age: Option<Duration>,
}

/// The wait after a successful fetch.
pub fn after_success(
    configured: Duration,
    floor: Duration,
    hints: Hints,
    now: OffsetDateTime,
) -> Duration {
    let until_expiry = hints.valid_until.map(|until| {
        // Fetch again halfway to expiry, so that several attempts fit before it.
        Duration::try_from((until - now) / 2).unwrap_or(Duration::ZERO)
    });
    [hints.cache_duration, hints.http_max_age, until_expiry]
        .into_iter()
        .flatten()
        .fold(configured, Duration::min)
        .max(floor)
}

/// The wait after the `failures`-th failure in a row (1 for the first): the floor doubled per
/// failure, at most `configured`, scaled by `jitter` in [0, 1) to 75%..125%, never below the floor.
pub fn after_failure(
    configured: Duration,
    floor: Duration,
    failures: u32,
    jitter: f64,
) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    let base = floor
        .saturating_mul(1u32 << doublings)
        .min(configured.max(floor));
    let scale = 0.75 + 0.5 * jitter.clamp(0.0, 1.0);
    base.mul_f64(scale).max(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOOR: Duration = Duration::from_secs(5);
    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn the_shortest_hint_wins_but_never_below_the_floor() {
        let now = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(after_success(HOUR, FLOOR, Hints::default(), now), HOUR);
        let hints = Hints {
            cache_duration: Some(Duration::from_secs(600)),
            http_max_age: Some(Duration::from_secs(900)),
            valid_until: Some(now + time::Duration::hours(10)),
        };
        assert_eq!(
            after_success(HOUR, FLOOR, hints, now),
            Duration::from_secs(600)
        );
        let hostile = Hints {
            http_max_age: Some(Duration::ZERO),
            valid_until: Some(now - time::Duration::hours(1)),
            ..Hints::default()
        };
        assert_eq!(after_success(HOUR, FLOOR, hostile, now), FLOOR);
        let soon = Hints {
            valid_until: Some(now + time::Duration::minutes(20)),
            ..Hints::default()
        };
        assert_eq!(
            after_success(HOUR, FLOOR, soon, now),
            Duration::from_secs(600)
        );
    }

    #[test]
    fn backoff_doubles_from_the_floor_up_to_the_interval_with_jitter() {
        assert_eq!(after_failure(HOUR, FLOOR, 1, 0.5), FLOOR);
        assert_eq!(after_failure(HOUR, FLOOR, 3, 0.5), Duration::from_secs(20));
        assert_eq!(after_failure(HOUR, FLOOR, 40, 0.5), HOUR);
        assert_eq!(after_failure(HOUR, FLOOR, 3, 0.0), Duration::from_secs(15));
        assert_eq!(after_failure(HOUR, FLOOR, 3, 0.999_999).as_secs(), 24);
        assert_eq!(after_failure(HOUR, FLOOR, 1, 0.0), FLOOR);
    }
}
