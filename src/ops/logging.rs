//! Log setup: human-readable text by default, JSON lines with `log_format = "json"`.
//! `RUST_LOG` overrides the level filter (default `info`). Colours only on a terminal.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Install the global subscriber. A second call (tests, `demo` after `serve`) is a no-op.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
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
