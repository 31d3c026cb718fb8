//! What `--version` and the start line say: the version, the commit and the build date (set by
//! build.rs).

/// `0.1.0 (commit 1a2b3c4d5e6f, built 2026-12-03)`.
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SAMLGATE_COMMIT"),
    ", built ",
    env!("SAMLGATE_BUILD_DATE"),
    ")"
);
