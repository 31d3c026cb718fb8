//! The identity mapping table: a verified assertion -> an operator with an access group.
//!
//! Read in this order:
//! - [`table`]: the file format, loading and every load-time check ([`MappingTable`]);
//! - [`evaluate()`]: claims -> [`Mapped`] or [`MappingRefusal`] (pure: no I/O, no clock);
//!   [`sign_in`]: a verified login -> the one `identity::Operator`, with its audit line;
//! - [`route_checks`]: warnings about access groups no route mentions;
//! - [`decision_log`]: the one log line per login.
//!
//! `samlgate mapping test` is `cli::mapping`.
//!
//! Helpers: [`aliases`] (attribute names known out of the box), `source` (attribute or
//! template), `pattern` (exact / glob / regex group patterns), `rule` (conditions and the
//! reachability proof), `as_written` (the serde model of the file), `span` (byte offset -> line).

pub mod aliases;
mod as_written;
pub mod decision_log;
mod error;
mod evaluate;
mod fasthash;
mod operator;
mod pattern;
mod refusal;
pub mod route_checks;
mod rule;
mod source;
mod span;
pub mod table;

/// The mapping's input: SAML attributes, or a bearer token's claims (`oauth::claims`).
pub use crate::saml::assertion::{Claims, NameId, SamlAttribute};
pub use decision_log::{audit, audit_line, audit_refusal, audit_refusal_line};
pub use error::{MappingLoadError, Problem, ProblemKind, Warning};
pub use evaluate::{apply, evaluate, sign_in, sign_in_explained};
pub use operator::{Mapped, MatchedRule, Operator};
pub use refusal::MappingRefusal;
pub use route_checks::validate_against_routes;
pub use table::{Fallback, MappingTable};
