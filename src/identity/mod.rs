//! The one identity the backend sees, and the header contract that carries it.

pub mod contract;
