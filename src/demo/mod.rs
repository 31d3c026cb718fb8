//! Pieces for the demo, the tests and the benchmarks; nothing here is used by the gateway itself.
//!
//! * [`echo`]: a backend that shows what the gateway sent it;
//! * [`fixed_identity`]: the proxy alone with one fixed identity, to measure the proxy path (no login: never in
//!   front of a real backend).

pub mod echo;
pub mod fixed_identity;
pub mod idp;
pub mod run;
