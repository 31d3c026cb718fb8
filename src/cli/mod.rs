//! Command-line entry points that live in the library, so tests can call them directly.

pub mod check;
pub mod check_idps;
pub mod keygen;
pub mod mapping;
pub mod metadata;
pub mod serve;
pub mod verify;
pub mod verify_logout;
pub mod verify_token;
