//! The one identity the backend sees ([`Operator`]), its strings held once per session
//! ([`shared_text`]), the header contract that carries it ([`contract`]) and its encoding into
//! header values ([`headers`]).

pub mod contract;
pub mod headers;
pub mod operator;
pub mod shared_text;

pub use operator::Operator;
