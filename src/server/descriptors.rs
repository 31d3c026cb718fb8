//! File descriptors: raised at start to what the process may have, and checked against the
//! connection cap, so that the cap, not the descriptor table, is what turns clients away. Out of
//! descriptors, `accept` fails for everyone, the backend pool cannot connect and Redis cannot
//! reconnect; at the cap, new clients wait in the listen queue and the rest keeps working.

use std::num::NonZeroUsize;

use crate::config::ConnectionLimits;

/// Descriptors one client connection may hold: its own, and a backend connection while a request
/// is forwarded (or for as long as a WebSocket tunnel lasts).
pub const PER_CONNECTION: u64 = 2;

/// Descriptors kept for everything else: the listeners, the event loops' epoll and wake-up
/// descriptors, the metrics listener's connections, the Redis connections, idle backend
/// connections kept by the pools, log and configuration files.
pub const RESERVED: u64 = 1024;

/// The soft `RLIMIT_NOFILE` before and after raising it, and the hard limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DescriptorLimit {
    pub before: u64,
    pub now: u64,
    pub hard: u64,
}

/// Raise the soft descriptor limit to the hard one. A limit that cannot be read (or raised)
/// is reported as it is; the check that follows says what it means for the cap.
pub fn raise_to_hard_limit() -> std::io::Result<DescriptorLimit> {
    let (before, hard) = rlimit::Resource::NOFILE.get()?;
    let now = match rlimit::increase_nofile_limit(hard) {
        Ok(now) => now,
        Err(e) => {
            tracing::warn!("cannot raise the file descriptor limit from {before} to {hard}: {e}");
            before
        }
    };
    Ok(DescriptorLimit { before, now, hard })
}

/// The descriptor limit `samlgate serve` would get here (the hard limit), without changing it.
pub fn would_get() -> std::io::Result<DescriptorLimit> {
    let (before, hard) = rlimit::Resource::NOFILE.get()?;
    Ok(DescriptorLimit {
        before,
        now: hard.max(before),
        hard,
    })
}

/// Descriptors `max` connections may need with the [`RESERVED`] ones.
pub fn needed(max: NonZeroUsize) -> u64 {
    u64::try_from(max.get())
        .unwrap_or(u64::MAX)
        .saturating_mul(PER_CONNECTION)
        .saturating_add(RESERVED)
}

/// The largest cap `limit` descriptors hold (at least 1).
pub fn fitting(limit: u64) -> NonZeroUsize {
    let n = limit.saturating_sub(RESERVED) / PER_CONNECTION;
    NonZeroUsize::new(usize::try_from(n).unwrap_or(usize::MAX)).unwrap_or(NonZeroUsize::MIN)
}

/// What the connection cap comes to with `limit` descriptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapDecision {
    /// The cap fits.
    Fits(NonZeroUsize),
    /// No cap was configured and the default does not fit: this lower one is used.
    Lowered {
        default: NonZeroUsize,
        to: NonZeroUsize,
    },
    /// The configured cap does not fit: the gateway refuses to start.
    TooHigh {
        configured: NonZeroUsize,
        fits: NonZeroUsize,
    },
}

impl CapDecision {
    /// The cap to serve with, `None` when the gateway must not start.
    pub fn cap(self) -> Option<NonZeroUsize> {
        match self {
            CapDecision::Fits(n) | CapDecision::Lowered { to: n, .. } => Some(n),
            CapDecision::TooHigh { .. } => None,
        }
    }
}

/// The cap `limits` gives with `limit` descriptors: a configured cap must fit, a default one is
/// lowered to what fits.
pub fn decide(limits: &ConnectionLimits, limit: u64) -> CapDecision {
    let cap = limits.max_connections_or_default();
    if needed(cap) <= limit {
        return CapDecision::Fits(cap);
    }
    let fits = fitting(limit);
    match limits.max_connections {
        Some(configured) => CapDecision::TooHigh { configured, fits },
        None => CapDecision::Lowered {
            default: cap,
            to: fits,
        },
    }
}

/// The line `samlgate check` and the start log show.
pub fn describe(decision: CapDecision, limit: &DescriptorLimit) -> String {
    match decision {
        CapDecision::Fits(n) => format!(
            "file descriptors: {} available (hard limit {}); server.max_connections {n} needs up to {}",
            limit.now,
            limit.hard,
            needed(n)
        ),
        CapDecision::Lowered { default, to } => format!(
            "file descriptors: {} available (hard limit {}): the default server.max_connections {default} would need {}, lowered to {to}; raise the limit (LimitNOFILE=, ulimit -n) to serve more",
            limit.now,
            limit.hard,
            needed(default)
        ),
        CapDecision::TooHigh { configured, fits } => format!(
            "file descriptors: {} available (hard limit {}): server.max_connections {configured} needs up to {} ({} per connection and {RESERVED} kept for the rest); raise the limit (LimitNOFILE=, ulimit -n) or set max_connections to {fits} or less",
            limit.now,
            limit.hard,
            needed(configured),
            PER_CONNECTION
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: Option<usize>) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: max.and_then(NonZeroUsize::new),
            ..ConnectionLimits::default()
        }
    }

    fn n(v: usize) -> NonZeroUsize {
        NonZeroUsize::new(v).unwrap()
    }

    #[test]
    fn a_cap_fits_when_two_descriptors_each_and_the_reserve_do() {
        assert_eq!(needed(n(10_000)), 21_024);
        assert_eq!(decide(&limits(None), 21_024), CapDecision::Fits(n(10_000)));
        assert_eq!(decide(&limits(Some(500)), 2_024), CapDecision::Fits(n(500)));
    }

    #[test]
    fn the_default_is_lowered_and_a_configured_cap_refused_when_they_do_not_fit() {
        assert_eq!(
            decide(&limits(None), 20_000),
            CapDecision::Lowered {
                default: n(10_000),
                to: n(9_488)
            }
        );
        let too_high = decide(&limits(Some(10_000)), 20_000);
        assert_eq!(
            too_high,
            CapDecision::TooHigh {
                configured: n(10_000),
                fits: n(9_488)
            }
        );
        assert_eq!(too_high.cap(), None);
        // Even a tiny limit leaves a cap of one rather than none.
        assert_eq!(fitting(100), n(1));
    }

    #[test]
    fn the_report_names_the_limit_and_the_cap() {
        let limit = DescriptorLimit {
            before: 1024,
            now: 20_000,
            hard: 20_000,
        };
        let line = describe(decide(&limits(Some(10_000)), limit.now), &limit);
        assert!(line.contains("20000 available"), "{line}");
        assert!(
            line.contains("max_connections 10000 needs up to 21024"),
            "{line}"
        );
        assert!(line.contains("9488 or less"), "{line}");
    }
}
