//! Small text helpers every layer may use; they depend on nothing else in the crate.

pub mod lines;
pub mod page;
pub mod xml_sniff;
