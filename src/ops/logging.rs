//! Log setup: human-readable text by default, JSON lines with `log_format = "json"`.
//! `RUST_LOG` overrides the level filter (default `info`).

use tracing_subscriber::EnvFilter;

/// Install the global subscriber. A second call (tests, `demo` after `serve`) is a no-op.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
