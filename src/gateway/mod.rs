//! The axum gateway: login, ACS, sessions, reverse proxy, header contract (to be written).
pub mod headers;
pub mod proxy;
