//! `/saml/auth`: forward-auth for nginx `auth_request` and Traefik `ForwardAuth`.
//!
//! 200 with the identity headers for a valid session whose operator the route rules allow,
//! 200 without identity for a public route, 401 without a session, 403 when a rule refuses.
//! The path the rules apply to comes from `X-Original-URI` (nginx, set in the snippet) or
//! `X-Forwarded-Uri` (Traefik); the proxy in front is trusted to set it, as it is the one
//! calling this endpoint.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use super::errors;
use super::headers;
use super::path_reading::PathReading;
use super::routes::{self, Access};
use super::session;
use super::state::AppState;

const X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");

/// The path (query dropped) of the request being authorized.
fn original_path(headers: &HeaderMap) -> String {
    let uri = headers
        .get(X_ORIGINAL_URI)
        .or_else(|| headers.get(X_FORWARDED_URI))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("/");
    let path = uri.split(['?', '#']).next().unwrap_or("/");
    if path.starts_with('/') {
        path.to_string()
    } else {
        "/".to_string()
    }
}

pub async fn forward_auth(
    State(state): State<Arc<AppState>>,
    session: Session,
    headers: HeaderMap,
) -> Response {
    let path = original_path(&headers);
    let path = match PathReading::new(&path) {
        Ok(path) => path,
        Err(refusal) => {
            tracing::info!(reason = refusal.kind(), "forward-auth refused: {refusal}");
            state.metrics.inc(
                "samlgate_requests_refused_total",
                &[("reason", refusal.kind())],
            );
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    let identity = match session::identity_of(&state, &session, session::CacheLookup::Consult).await
    {
        Ok(identity) => identity,
        Err(e) => {
            tracing::error!("forward-auth: {e}");
            return errors::unavailable();
        }
    };
    let (status, response) = match routes::decide(
        &state.config.routes,
        &path,
        identity.as_deref().map(|s| &s.identity),
    ) {
        Access::Public => ("public", StatusCode::OK.into_response()),
        Access::Allowed => match identity {
            Some(signed_in) => {
                let mut response = StatusCode::OK.into_response();
                headers::inject(&signed_in.headers, response.headers_mut());
                ("ok", response)
            }
            None => ("unauthorized", StatusCode::UNAUTHORIZED.into_response()),
        },
        Access::LoginRequired => ("unauthorized", StatusCode::UNAUTHORIZED.into_response()),
        Access::Denied(reason) => {
            tracing::info!(path = path.path(), "forward-auth denied: {reason}");
            ("forbidden", StatusCode::FORBIDDEN.into_response())
        }
    };
    state
        .metrics
        .inc("samlgate_forward_auth_total", &[("result", status)]);
    let mut response = response;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
