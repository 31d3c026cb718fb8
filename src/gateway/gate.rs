//! Every request that is not a `/saml/*` or health endpoint: check the session and the route
//! rules, then forward to the backend (or start a login, or refuse).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use tower_sessions::Session;

use super::errors;
use super::login;
use super::relay_state::sanitize_return_to;
use super::routes::{self, Access};
use super::session;
use super::session_cache::SignedIn;
use super::state::AppState;

pub async fn gate(State(state): State<Arc<AppState>>, session: Session, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let identity = match session::identity_of(&state, &session).await {
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
        Access::Public => forward(&state, req, None).await,
        Access::Allowed => forward(&state, req, identity.as_deref()).await,
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
async fn forward(state: &AppState, mut req: Request, signed_in: Option<&SignedIn>) -> Response {
    let https = state.config.server.is_https();
    super::cookies::strip_own(
        req.headers_mut(),
        &[
            state.config.session.cookie_name.as_str(),
            super::cookies::login_cookie_name(https),
        ],
    );
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    let proto = state.config.server.public_url.scheme().to_string();
    state
        .proxy
        .forward_encoded(
            req,
            signed_in.map(|s| &s.headers),
            &state.config.headers,
            client,
            &proto,
        )
        .await
}
