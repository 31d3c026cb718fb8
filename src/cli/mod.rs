//! Command-line entry points that live in the library, so tests can call them directly.

/// Where `serve`, `check` and `metadata` look for the configuration without `--config` (and
/// without `SAMLGATE_CONFIG`): where the Debian package puts it.
pub const DEFAULT_CONFIG: &str = "/etc/samlgate/samlgate.toml";

pub mod check;
pub mod check_idps;
pub mod keygen;
pub mod mapping;
pub mod metadata;
pub mod serve;
pub mod verify;
pub mod verify_logout;
pub mod verify_token;
pub mod version;
