//! Helpers shared by integration tests: `mod common;` then `use common::test_idp::*;` (the
//! project's own test IdP) or `use common::peers;` (third-party IdPs). Each test binary uses
//! only some of them.
#![allow(dead_code)]

pub mod adversarial;
pub mod peers;
pub mod test_idp;
