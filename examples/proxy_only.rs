//! The proxy path alone, with one fixed identity and no login: what `scripts/bench-proxy` measures.
//!
//! ```text
//! cargo run --release --example proxy_only -- 127.0.0.1:8081 http://127.0.0.1:9000
//! ```
//!
//! It runs like the gateway: one event loop per core (`gateway::event_loops`), axum, the pooled proxy.
//!
//! It authenticates nobody (every request gets the fixed identity): loopback benchmarks only.

use std::net::SocketAddr;
use std::process::ExitCode;

use std::num::NonZeroUsize;

use axum::Router;
use samlgate::demo::fixed_identity;
use samlgate::identity::Operator;
use samlgate::identity::headers::HeaderContract;
use samlgate::proxy::{Proxy, ProxyConfig};
use samlgate::server::event_loops::{self, EventLoops};

fn app(backend: &str, loops: &EventLoops) -> Result<Router, String> {
    let mut config = ProxyConfig::new(backend);
    config.pools = NonZeroUsize::new(loops.count()).unwrap_or(NonZeroUsize::MIN);
    let proxy = Proxy::new(&config).map_err(|e| e.to_string())?;
    let identity = Operator {
        user: "jmuller".into(),
        email: Some("jose.muller@example.com".into()),
        preferred_username: Some("jose".into()),
        groups: ["staff", "Sales, EMEA"].into_iter().collect(),
        access_group: "MyOrg:Administrators".into(),
        name: Some("José Müller".into()),
        extra: vec![],
    };
    Ok(fixed_identity::router(
        proxy,
        HeaderContract::default(),
        Some(identity),
        "http",
    ))
}

/// Serve as `samlgate serve` does: one event loop per core, all accepting from one socket.
fn run(listen: SocketAddr, backend: String) -> Result<(), String> {
    let loops = EventLoops::new(event_loops::default_count()).map_err(|e| e.to_string())?;
    let router = app(&backend, &loops)?;
    let listener = std::net::TcpListener::bind(listen)
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    eprintln!(
        "proxy_only: listening on {listen} ({} event loops)",
        loops.count()
    );
    loops
        .serve(listener, router, samlgate::server::shutdown_signal())
        .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(listen), Some(backend)) = (args.first(), args.get(1)) else {
        eprintln!("usage: proxy_only <listen addr> <backend url>");
        return ExitCode::from(2);
    };
    let Ok(listen) = listen.parse::<SocketAddr>() else {
        eprintln!("proxy_only: {listen:?} is not an address like 127.0.0.1:8081");
        return ExitCode::from(2);
    };
    match run(listen, backend.clone()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proxy_only: {e}");
            ExitCode::FAILURE
        }
    }
}
