//! The one identity the backend sees ([`Operator`]), its strings held once per session
//! ([`shared_text`]), and the header contract that carries it ([`headers`]).

pub mod headers;
pub mod operator;
pub mod shared_text;

pub use operator::Operator;
