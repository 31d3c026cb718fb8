//! The one identity the backend sees ([`Operator`]), its strings held once per session
//! ([`shared_text`]), the header contract that carries it ([`contract`]) and its encoding into
//! header values ([`headers`]); the same identity as a signed token ([`token`]), signed once per
//! session ([`token_cache`]).

pub mod contract;
pub mod headers;
pub mod operator;
pub mod shared_text;
pub mod token;
pub mod token_cache;

pub use operator::Operator;
