//! The gateway's HTTP handlers. Follow one login, in order:
//!
//! 1. A browser asks for `/app`. [`service`] meets every request first (the edge rules of
//!    `proxy::edge`: one `Host`, no loop) and sends everything that is not a gateway endpoint
//!    to [`gate`], which reads the path once (`routes::path_reading`), looks the session up
//!    (`session::Sessions`) and applies the route rules (`routes`). No session: a login starts.
//! 2. [`login`] signs an AuthnRequest (`saml::request`) and sends the browser to the IdP with
//!    the login in progress sealed ([`login_seal`], [`relay_state`]) into its login cookie
//!    ([`cookies`]); nothing is stored for a visitor who has not signed in.
//! 3. The IdP posts its Response to [`acs`]: the form, the login it answers, the trust core's
//!    `saml::response::validate` (off the event loops, `server::offload`), the mapping
//!    (`mapping::sign_in`: the one `identity::Operator`), the replay cache, then a new session
//!    (`session::Sessions::establish`) and the redirect back. Every refusal is an
//!    [`acs_error::AcsError`] with a `kind()`; the browser sees [`errors`]' generic page.
//! 4. The browser asks for `/app` again: [`gate`] finds the session in the node's cache and the
//!    request goes to the backend through `proxy`, with the identity headers the contract
//!    encoded once at sign-in (`identity::headers`).
//!
//! API clients with an OAuth 2.0 access token (`Authorization: Bearer`) take [`bearer`] from
//! [`gate`] instead: the token (`oauth`) gives the same `identity::Operator` a login would.
//!
//! Beside the login: [`logout`] (with Single Logout: [`slo`], [`slo_soap`], [`pending_logout`],
//! [`logged_out`]), [`forward_auth`] (for nginx `auth_request` and Traefik),
//! [`metadata_endpoint`], [`health`], the signed [`identity_token`] and its keys,
//! [`session_page`] (opt-in), [`access_log`] (opt-in). [`state`] is what the handlers share; [`startup`] builds the
//! gateway for a configuration (`cli::serve` runs it on the event loops of `server`).

pub mod access_log;
pub mod acs;
pub mod acs_error;
pub mod bearer;
pub mod cookies;
pub mod errors;
pub mod forward_auth;
pub mod gate;
pub mod health;
pub mod identity_token;
pub mod idp_sources;
pub mod logged_out;
pub mod login;
pub mod login_seal;
pub mod logout;
pub mod message_body;
pub mod metadata_endpoint;
pub mod pending_logout;
pub mod relay_state;
pub mod reload;
pub mod service;
pub mod session_page;
pub mod slo;
pub mod slo_soap;
pub mod startup;
pub mod state;
pub mod tunnel_lease;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::routing::{any, get};
use tower_sessions::SessionManagerLayer;
use tower_sessions::cookie::SameSite;

pub use service::Gateway;
pub use startup::{GatewayError, build, follow_idp_sources};
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
    // Off: `/saml/session` is the backend's, as any other path the router does not name.
    let session_page = match state.config.server.session_page {
        true => Router::new().route("/saml/session", get(session_page::show)),
        false => Router::new(),
    };
    let endpoints = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/saml/login", get(login::login))
        .route("/saml/acs", get(acs::explain).post(acs::acs))
        .route("/saml/logout", get(logout::page).post(logout::logout))
        .route("/saml/slo", get(slo::redirect).post(slo::post))
        .route("/saml/slo/soap", axum::routing::post(slo_soap::soap))
        .route("/saml/metadata", get(metadata_endpoint::metadata))
        .route("/saml/auth", any(forward_auth::forward_auth))
        .route(identity_token::JWKS_PATH, get(identity_token::jwks))
        .merge(metrics_here)
        .merge(session_page)
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
