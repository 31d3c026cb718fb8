//! Every request that is not a `/saml/*` or health endpoint: check the session and the route
//! rules, then forward to the backend (or start a login, or refuse).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use tower::ServiceExt;
use tower_sessions::Session;
use tower_sessions::session::Id;

use super::cookies;
use super::errors;
use super::login;
use super::relay_state::sanitize_return_to;
use super::routes::{self, Access};
use super::session::{self, CacheLookup};
use super::session_cache::SignedIn;
use super::state::AppState;

/// The fallback route: a request that carries the cookie of a session this node holds decoded
/// (its session cache) and that the route rules let through is forwarded at once; every other
/// request (no or unknown cookie, a cookie sent twice, a denial, a login to start, a touch due)
/// goes to [`gate`] behind the session layer, which decides, logs and counts it.
///
/// This spares the common request the session layer's cookie jar and record handling, which
/// cost the gateway about a fifth of its CPU per request (measured). The decision is the same
/// `routes::decide` on the same identity. With Redis the cache is read only once the session
/// tracker confirms it holds every change Redis made before the request arrived.
pub async fn fast_gate(
    state: &AppState,
    slow: &Router,
    client: SocketAddr,
    mut req: Request,
) -> Response {
    if let Some(id) = cookies::get(req.headers(), &state.config.session.cookie_name)
        .and_then(|value| value.parse::<Id>().ok())
        && let Some(cache) = state.session_cache_in_step().await
    {
        match cache.get(&id, state.now(), state.config.session.idle_timeout) {
            Some(signed_in) => {
                let path = req.uri().path();
                match routes::decide(&state.config.routes, path, Some(&signed_in.identity)) {
                    Access::Public => return forward(state, req, None, client).await,
                    Access::Allowed => return forward(state, req, Some(&signed_in), client).await,
                    Access::LoginRequired | Access::Denied(_) => {}
                }
            }
            // Spare the slow path a second look (with Redis, a second round trip).
            None => {
                req.extensions_mut().insert(CacheMissed);
            }
        }
    }
    req.extensions_mut().insert(ConnectInfo(client));
    match slow.clone().oneshot(req).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Set by [`fast_gate`] when it looked in the session cache and found nothing.
#[derive(Clone, Copy, Debug)]
struct CacheMissed;

pub async fn gate(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    session: Session,
    req: Request,
) -> Response {
    let path = req.uri().path().to_string();
    let lookup = match req.extensions().get::<CacheMissed>() {
        Some(_) => CacheLookup::AlreadyMissed,
        None => CacheLookup::Consult,
    };
    let identity = match session::identity_of(&state, &session, lookup).await {
        Ok(identity) => identity,
        Err(e) => {
            tracing::error!("session lookup: {e}");
            return errors::unavailable();
        }
    };
    let api = routes::is_api_request(req.headers(), &path, &state.config.server.api_prefixes);
    match routes::decide(
        &state.config.routes,
        &path,
        identity.as_deref().map(|s| &s.identity),
    ) {
        Access::Public => forward(&state, req, None, client).await,
        Access::Allowed => forward(&state, req, identity.as_deref(), client).await,
        Access::LoginRequired if api => errors::unauthorized_json(),
        Access::LoginRequired => {
            let return_to = req
                .uri()
                .path_and_query()
                .map(|pq| sanitize_return_to(pq.as_str()))
                .unwrap_or_else(|| "/".to_string());
            login::choose_or_begin(&state, &return_to, req.headers()).await
        }
        Access::Denied(reason) => {
            tracing::info!(
                path,
                user = identity.as_deref().map(|s| s.identity.user.as_str()),
                "access denied: {reason}"
            );
            state
                .metrics
                .inc("samlgate_access_denied_total", &[("reason", reason.kind())]);
            if api {
                errors::forbidden_json()
            } else {
                errors::forbidden()
            }
        }
    }
}

/// Hand the request to the reverse proxy, which strips every client-sent identity header and
/// sets ours from the session.
async fn forward(
    state: &AppState,
    mut req: Request,
    signed_in: Option<&SignedIn>,
    client: SocketAddr,
) -> Response {
    let https = state.config.server.is_https();
    super::cookies::strip_own(
        req.headers_mut(),
        &[
            state.config.session.cookie_name.as_str(),
            super::cookies::login_cookie_name(https),
        ],
    );
    let proto = state.config.server.public_url.scheme();
    state
        .proxy
        .forward(
            req,
            signed_in.map(|s| &s.headers),
            &state.config.headers,
            client,
            proto,
        )
        .await
}
