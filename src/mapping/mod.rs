//! The identity mapping table: a verified assertion -> an operator with an access group.
//!
//! Read in this order:
//! - [`table`]: the file format, loading and every load-time check ([`MappingTable`]);
//! - [`evaluate()`]: claims -> [`Mapped`] or [`MappingRefusal`] (pure: no I/O, no clock);
//!   [`sign_in`]: a verified login -> the one `identity::Operator`, with its audit line;
//! - [`routes`]: warnings about access groups no route mentions;
//! - [`audit`]: the one log line per login.
//!
//! `samlgate mapping test` is `cli::mapping`.
//!
//! Helpers: [`aliases`] (attribute names known out of the box), `source` (attribute or
//! template), `pattern` (exact / glob / regex group patterns), `rule` (conditions and the
//! reachability proof), `raw` (the serde model of the file), `span` (byte offset -> line).

pub mod aliases;
pub mod audit;
mod error;
mod evaluate;
mod fasthash;
mod operator;
mod pattern;
mod raw;
mod refusal;
pub mod routes;
mod rule;
mod source;
mod span;
pub mod table;

pub use audit::{audit, audit_line, audit_refusal, audit_refusal_line};
pub use error::{MappingLoadError, Problem, ProblemKind, Warning};
pub use evaluate::{apply, evaluate, sign_in};
pub use operator::{Mapped, MatchedRule, Operator};
pub use refusal::MappingRefusal;
pub use routes::validate_against_routes;
pub use table::{Fallback, MappingTable};
