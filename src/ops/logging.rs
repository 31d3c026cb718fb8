//! Log setup: human-readable text by default, JSON lines with `log_format = "json"`.
//! `RUST_LOG` overrides the level filter (default: the gateway's own `info` lines, and only
//! warnings from the libraries under it). Colours only on a terminal.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The gateway's own lines at `info`; the libraries' at `warn`, whose `info` spans (the session
/// layer's `call`) would otherwise prefix every line the gateway writes inside them.
pub const DEFAULT_FILTER: &str = "info,tower_sessions=warn,tower_sessions_core=warn,tower_sessions_memory_store=warn,tower_http=warn,hyper=warn,hyper_util=warn,fred=warn,h2=warn";

/// Install the global subscriber. A second call (tests, `demo` after `serve`) is a no-op.
pub fn init(json: bool) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        // Colour codes only for a person at a terminal: in a file or a journal they are noise.
        .with_ansi(std::io::stdout().is_terminal());
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
