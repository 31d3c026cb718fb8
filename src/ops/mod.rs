//! Operations: Prometheus metrics, log setup, the audit log line, the clock.

pub mod audit;
pub mod clock;
pub mod logging;
pub mod metrics;

pub use metrics::Metrics;
