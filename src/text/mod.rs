//! Small text helpers every layer may use; they depend on nothing else in the crate.

pub mod base64_text;
pub mod lines;
pub mod page;
pub mod xml_sniff;
