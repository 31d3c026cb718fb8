//! What the integration tests share, in one place: `use crate::support;` then
//! `support::test_idp::*` (the project's own test IdP), `support::peers` (third-party IdPs and
//! xmlsec1), `support::gateway` (a gateway on loopback and a cookie-keeping browser),
//! `support::proxy` (the bare reverse proxy), `support::redis` (a private redis-server),
//! `support::xmlenc` (SP keys and encryption fixtures), `support::raw_http` (bytes on a socket), `support::websocket` (a tunnel through the gateway), `support::adversarial` (hostile
//! documents at the body cap), and here the tool lookup and free ports every one of them needs.
//!
//! The binaries that must keep a process of their own mount it with
//! `#[path = "../it/support/mod.rs"] mod support;` (or `"it/support/mod.rs"` from `tests/`), so
//! `crate::support` names the same thing everywhere; each uses only some of it.
#![allow(dead_code)]

pub mod adversarial;
pub mod gateway;
pub mod metadata_server;
pub mod oauth;
pub mod peers;
pub mod proxy;
pub mod raw_http;
pub mod redis;
pub mod test_ca;
pub mod test_idp;
pub mod websocket;
pub mod xmlenc;

use std::path::PathBuf;

/// True when `CI=true`: a missing tool or peer is then a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").map(|v| v == "true").unwrap_or(false)
}

/// Whether a test needing `what` can go on, given whether `what` is here (`Err` says why not).
/// Prints why and returns false when it is missing; panics instead under `CI=true`.
pub fn require(what: &str, status: Result<(), String>) -> bool {
    match status {
        Ok(()) => true,
        Err(why) if in_ci() => panic!("{what} is required under CI=true: {why}"),
        Err(why) => {
            eprintln!("SKIPPED: {what} missing: {why}");
            false
        }
    }
}

/// Where the program `name` is on `PATH`, if it is.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// The program `name` from `PATH`, for a test that needs it: `None` (the test skips, saying
/// why) when it is not installed, a panic under `CI=true`.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = find_tool(name);
    let status = match found {
        Some(_) => Ok(()),
        None => Err(format!(
            "{name} is not on PATH (scripts/install-test-deps installs it)"
        )),
    };
    require(name, status);
    found
}

/// Does the program `name` exist? Under `CI=true` its absence is a failure, not a skip.
pub fn require_tool(name: &str) -> bool {
    tool(name).is_some()
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("local addr")
        .port()
}
