//! Command-line entry points that live in the library, so tests can call them directly.

pub mod check;
pub mod keygen;
pub mod mapping;
pub mod metadata;
pub mod serve;
pub mod verify;
pub mod verify_token;
