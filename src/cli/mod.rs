//! Command-line entry points that live in the library, so tests can call them directly.

pub mod check;
pub mod mapping;
pub mod verify;
