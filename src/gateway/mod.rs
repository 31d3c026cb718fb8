//! The axum gateway. Follow one login from here:
//!
//! - [`gate`]: every proxied request: session -> route rules -> backend, or login, or refusal
//! - [`login`]: AuthnRequest out, the login in progress sealed ([`login_seal`]) into the
//!   browser's login cookie ([`relay_state`], [`cookies`])
//! - [`acs`]: Response in -> validate (off the event loops) -> replay cache -> [`identity`] ->
//!   new [`session`]; refusals are [`acs_error`]s
//! - [`proxy`]: the streaming reverse proxy, over [`backend_pool`]'s keep-alive connections;
//!   [`headers`]: the identity header contract
//! - [`logout`], [`forward_auth`], [`metadata_endpoint`], [`health`]
//! - [`path_reading`]: the one reading of a request path (pure); [`routes`]: per-path rules
//!   (pure); [`errors`]: the pages a browser sees
//! - [`state`]: what handlers share; [`service`]: what a connection is served by;
//!   [`serve`]: `samlgate serve`, on [`event_loops`]
//! - [`edge`]: the rules every request meets first (one `Host`, no loop); [`forwarding`]: the
//!   forwarding facts the gateway owns; [`connection_limits`] and [`descriptors`]: timeouts, the
//!   connection cap and the file descriptors it needs

pub mod acs;
pub mod acs_error;
pub mod cookies;
pub mod errors;
pub mod forward_auth;
pub mod gate;
pub mod health;
pub mod identity;
pub mod login;
pub mod login_seal;
pub mod logout;
pub mod metadata_endpoint;
pub mod relay_state;
pub mod serve;
pub mod service;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::routing::{any, get, post};
use tower_sessions::SessionManagerLayer;
use tower_sessions::cookie::SameSite;

pub use metadata_endpoint::{MetadataArgs, run_metadata};
pub use serve::{GatewayError, ServeArgs, build, run_serve};
pub use service::Gateway;
pub use state::{AppState, Clock, system_clock};

/// `/metrics` alone, for `[server] metrics_listen`.
pub fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(health::metrics))
        .with_state(state)
}

/// The gateway over `state`. Its endpoints must live under `/saml/` or be named in
/// [`service::is_endpoint_path`]: every other path is proxied without meeting this router.
pub fn gateway(state: Arc<AppState>) -> Gateway {
    let session = &state.config.session;
    // The cookie carries only the session ID. `__Host-` (set in the name by config when the
    // public URL is https) requires Secure, Path=/ and no Domain, which this layer gives.
    let sessions = SessionManagerLayer::new(state.stores.sessions.clone())
        .with_name(session.cookie_name.clone())
        .with_secure(session.secure_cookies)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/");
    // Everything that is not a gateway endpoint: a cached session goes straight to the
    // backend (gate::fast_gate), the rest through the session layer to gate::gate. The layer
    // below is added before the fallback, so it does not wrap the fast path.
    // `/metrics` moves to its own listener when one is configured (see `metrics_router`).
    let metrics_here = match state.config.server.metrics_listen {
        None => Router::new().route("/metrics", get(health::metrics)),
        Some(_) => Router::new(),
    };
    let slow = Router::new()
        .fallback(gate::gate)
        .layer(sessions.clone())
        .with_state(Arc::clone(&state));
    let fallback_slow = slow.clone();
    let endpoints = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/saml/login", get(login::login))
        .route("/saml/acs", post(acs::acs))
        .route("/saml/logout", get(logout::page).post(logout::logout))
        .route("/saml/metadata", get(metadata_endpoint::metadata))
        .route("/saml/auth", any(forward_auth::forward_auth))
        .merge(metrics_here)
        .layer(sessions.clone())
        .fallback(
            move |State(state): State<Arc<AppState>>,
                  ConnectInfo(client): ConnectInfo<SocketAddr>,
                  req: Request| {
                let slow = fallback_slow.clone();
                async move { gate::fast_gate(&state, &slow, client, req).await }
            },
        )
        .with_state(Arc::clone(&state));
    Gateway::new(state, endpoints, slow)
}
