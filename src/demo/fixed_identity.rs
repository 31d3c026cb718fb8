//! A router that proxies every request with one fixed identity and no login at all.
//!
//! It exists to measure and test the proxy path on its own (`examples/proxy_only.rs`, `tests/it/proxy_*.rs`, `tests/proxy_streaming.rs`).
//! It authenticates nobody: never put it in front of a real backend.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;

use crate::identity::Operator;
use crate::identity::headers::{HeaderContract, IdentityHeaders};
use crate::proxy::Proxy;

struct Fixed {
    proxy: Proxy,
    contract: HeaderContract,
    identity: Option<IdentityHeaders>,
    proto: &'static str,
}

/// Every request goes to `proxy` with `identity` (or none) as if it had been signed in. Serve it with
/// `server::serve_on` (or any server that gives the client address as `ConnectInfo`).
pub fn router(
    proxy: Proxy,
    contract: HeaderContract,
    identity: Option<Operator>,
    proto: &'static str,
) -> Router {
    // Encoded once, as the gateway does at login.
    let identity = identity.map(|i| IdentityHeaders::encode(&contract, &i));
    Router::new().fallback(forward).with_state(Arc::new(Fixed {
        proxy,
        contract,
        identity,
        proto,
    }))
}

async fn forward(
    State(fixed): State<Arc<Fixed>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    fixed
        .proxy
        .forward(
            request,
            fixed.identity.as_ref(),
            &fixed.contract,
            client,
            fixed.proto,
        )
        .await
}
