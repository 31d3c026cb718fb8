//! The time source. Production uses the system clock; tests move time forward to expire
//! sessions without sleeping.

use std::sync::Arc;

use time::OffsetDateTime;

/// The time source every time-dependent decision takes, so that tests can move it.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}
