//! Operations: Prometheus metrics, log setup, the audit log line.

pub mod audit;
pub mod logging;
pub mod metrics;

pub use metrics::Metrics;
