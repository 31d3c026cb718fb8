//! The axum gateway: login, ACS, sessions, reverse proxy, header contract (to be written).
