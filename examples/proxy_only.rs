//! The proxy path alone, with one fixed identity and no login: what `scripts/bench-proxy` measures.
//!
//! ```text
//! cargo run --release --example proxy_only -- 127.0.0.1:8081 http://127.0.0.1:9000
//! ```
//!
//! It runs like the gateway: one multi-threaded Tokio runtime, axum, the pooled proxy.
//!
//! It authenticates nobody (every request gets the fixed identity): loopback benchmarks only.

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use axum::serve::ListenerExt;
use samlgate::demo::fixed_identity;
use samlgate::gateway::headers::{HeaderContract, Identity};
use samlgate::gateway::proxy::{Proxy, ProxyConfig};

fn app(backend: &str) -> Result<Router, String> {
    let proxy = Proxy::new(&ProxyConfig::new(backend)).map_err(|e| e.to_string())?;
    let identity = Identity {
        user: "jmuller".into(),
        email: Some("jose.muller@example.com".into()),
        preferred_username: Some("jose".into()),
        groups: vec!["staff".into(), "Sales, EMEA".into()],
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

async fn serve(listener: tokio::net::TcpListener, app: Router) -> Result<(), String> {
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    .map_err(|e| e.to_string())
}

fn multi_thread(listen: SocketAddr, backend: String) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        eprintln!("proxy_only: listening on {listen}");
        serve(listener, app(&backend)?).await
    })
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
    match multi_thread(listen, backend.clone()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proxy_only: {e}");
            ExitCode::FAILURE
        }
    }
}
