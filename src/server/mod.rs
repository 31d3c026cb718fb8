//! The server under the gateway: one event loop per core fed by an acceptor
//! ([`event_loops`]), connections served under timeouts and a cap ([`connections`],
//! [`connection_limits`], with the file descriptors it needs: [`descriptors`]), and bounded slots
//! on the blocking pool for work that must not hold up a loop ([`offload`]), TLS termination
//! ([`tls`]). It knows what to
//! serve only as a [`ServeApp`].

pub mod connection_limits;
pub mod connections;
pub mod descriptors;
pub mod event_loops;
pub mod offload;
pub mod tls;
mod woken_only;

pub use connections::{
    Answer, SHUTDOWN_GRACE, ServeApp, serve_on, serve_until, serve_with_limits, shutdown_signal,
    shutdown_signal_registered,
};
pub use event_loops::EventLoops;
