//! The echo backend on its own: `cargo run --example echo_backend -- 127.0.0.1:9000`.
//!
//! Open it through the gateway to see which headers a backend receives (identity headers highlighted and
//! decoded); `scripts/bench-proxy` uses it as the backend for every measurement.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".into());
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("echo_backend: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("echo_backend: listening on {listen}");
    samlgate::demo::echo::serve_echo(listener).await;
    ExitCode::SUCCESS
}
