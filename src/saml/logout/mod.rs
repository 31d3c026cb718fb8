//! Single Logout, SP side, pure: the messages out ([`message`]), the two front-channel
//! bindings in and out ([`binding`]), and the checks a LogoutRequest or LogoutResponse must pass
//! ([`validate`]), each failure a typed [`LogoutRejection`] ([`rejection`]).
//!
//! What the gateway does with a verified message (ending sessions, answering the IdP) lives in
//! `gateway::slo`; nothing here does I/O or reads a clock.

pub mod binding;
pub mod message;
pub mod rejection;
pub mod validate;

pub use binding::{Inbound, InboundKind, Outbound};
pub use message::{LogoutRequest, LogoutResponse, LogoutStatus};
pub use rejection::LogoutRejection;
pub use validate::{
    SloEndpoint, VerifiedLogoutRequest, VerifiedLogoutResponse, validate_logout_request,
    validate_logout_response,
};

#[cfg(test)]
mod tests;
