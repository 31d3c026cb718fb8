//! Helpers shared by integration tests: `mod common;` then `use common::peers;`.
//! Each test binary uses only some of them.
#![allow(dead_code)]

pub mod peers;
