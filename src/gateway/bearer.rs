//! A request with `Authorization: Bearer` (when `[[oauth]]` issuers are configured): the token
//! is validated and mapped (`oauth::Bearer`), the route rules decide with its operator and its
//! scopes (`routes::decide_bearer`), and the request goes to the backend with the same identity
//! headers a session would give that operator. Refusals follow RFC 6750: 401 `invalid_token`
//! (a safe description to the client, the precise check and values to the log), 403
//! `insufficient_scope` with the scopes missing, 400 `invalid_request`. Never a redirect, never a
//! login page. The client's `Authorization` header is stripped before forwarding unless the
//! route says `pass_authorization`.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::errors;
use super::state::AppState;
use crate::oauth::authorization::{Credential, challenge, credential};
use crate::oauth::{Authenticated, BearerError, TokenRejection};
use crate::routes::path_reading::PathReading;
use crate::routes::{self, Access, DenyReason};

/// What a bearer request carries: its token, or why it cannot be read.
#[derive(Clone, Debug)]
pub enum BearerCredential {
    Token(String),
    Malformed(&'static str),
}

/// The request's bearer credential, if it is a bearer request.
pub fn credential_of(headers: &HeaderMap) -> Option<BearerCredential> {
    match credential(headers) {
        Credential::None => None,
        Credential::Bearer(token) => Some(BearerCredential::Token(token.to_owned())),
        Credential::Malformed(why) => Some(BearerCredential::Malformed(why)),
    }
}

/// An RFC 6750 answer: the status, the challenge, and the same in a JSON body.
fn answer(
    status: StatusCode,
    code: Option<&str>,
    description: &str,
    scopes: &[String],
) -> Response {
    let value = challenge(code.map(|c| (c, description)), scopes);
    let body = serde_json::json!({
        "error": code.unwrap_or("unauthorized"),
        "error_description": description,
    });
    let mut response = (
        status,
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    response
}

fn invalid_token(rejection: &TokenRejection) -> Response {
    answer(
        StatusCode::UNAUTHORIZED,
        Some("invalid_token"),
        rejection.safe_description(),
        &[],
    )
}

fn invalid_request(description: &str) -> Response {
    answer(
        StatusCode::BAD_REQUEST,
        Some("invalid_request"),
        description,
        &[],
    )
}

/// What becomes of a bearer request.
pub enum Outcome {
    /// Forward it, as this operator (`None`: a public path, no identity); `Authorization` has
    /// been removed unless the route passes it.
    Forward(Option<Arc<Authenticated>>),
    /// Answer it with this.
    Answer(Response),
}

/// Decide a bearer request whose path was admitted (`gate::admit_path`).
pub async fn decide(state: &AppState, req: &mut Request, credential: BearerCredential) -> Outcome {
    let Ok(path) = PathReading::new(req.uri().path()) else {
        return Outcome::Answer(errors::bad_request(
            "This address is not one the gateway accepts.",
        ));
    };
    let pass = routes::passes_authorization(&state.config.routes, &path);
    let decision = decide_path(state, &path, credential).await;
    drop(path);
    match decision {
        Ok(who) => {
            if !pass {
                req.headers_mut().remove(AUTHORIZATION);
            }
            Outcome::Forward(who)
        }
        Err(answer) => Outcome::Answer(answer),
    }
}

/// Decide a bearer request for `path` (the request's own, or the original URI a proxy asked
/// `/saml/auth` about): `Ok(None)` for a public path (the token neither checked nor used),
/// `Ok(Some(operator))` when the token is valid and the route rules let its operator and
/// scopes in, else the RFC 6750 answer.
pub async fn decide_path(
    state: &AppState,
    path: &PathReading<'_>,
    credential: BearerCredential,
) -> Result<Option<Arc<Authenticated>>, Response> {
    let routes = &state.config.routes;
    if routes::decide(routes, path, None) == Access::Public {
        return Ok(None);
    }
    let token = match credential {
        BearerCredential::Token(token) => token,
        BearerCredential::Malformed(why) => {
            tracing::info!(path = path.path(), "bearer request refused: {why}");
            state.metrics.inc(
                "samlgate_oauth_tokens_refused_total",
                &[("issuer", "unknown"), ("reason", "invalid_request")],
            );
            return Err(invalid_request(
                "the Authorization header does not carry one bearer token",
            ));
        }
    };
    let authenticated = match state.bearer.authenticate(&token, state.now()).await {
        Ok(a) => a,
        Err(BearerError::Token(rejection)) => {
            tracing::info!(
                path = path.path(),
                reason = rejection.kind(),
                "bearer token refused: {rejection}"
            );
            return Err(invalid_token(&rejection));
        }
        Err(e @ BearerError::Mapping { .. }) => {
            tracing::info!(path = path.path(), "bearer token refused: {e}");
            return Err(errors::forbidden_json());
        }
        Err(e @ (BearerError::Keys { .. } | BearerError::Introspection { .. })) => {
            tracing::error!(path = path.path(), "bearer token not checked: {e}");
            return Err(answer(
                StatusCode::SERVICE_UNAVAILABLE,
                Some("temporarily_unavailable"),
                "the token issuer cannot be reached now; try again shortly",
                &[],
            ));
        }
    };
    let access = routes::decide_bearer(
        routes,
        path,
        &authenticated.identity,
        &authenticated.token.scopes,
        &state.config.server.api_prefixes,
    );
    match access {
        Access::Public | Access::Allowed => Ok(Some(authenticated)),
        Access::LoginRequired => Err(invalid_request("no credential")),
        Access::Denied(reason) => {
            tracing::info!(
                path = path.path(),
                user = authenticated.identity.user.as_str(),
                issuer = authenticated.token.issuer_name,
                "access denied: {reason}"
            );
            state
                .metrics
                .inc("samlgate_access_denied_total", &[("reason", reason.kind())]);
            Err(match reason {
                DenyReason::MissingScope { missing, .. } => answer(
                    StatusCode::FORBIDDEN,
                    Some("insufficient_scope"),
                    "the access token lacks a scope this address requires",
                    &missing,
                ),
                DenyReason::BearerNotAccepted { .. } => {
                    invalid_request("this address does not take bearer tokens")
                }
                _ => errors::forbidden_json(),
            })
        }
    }
}

/// A request without a bearer token on a path that takes only bearer tokens: 401 with the
/// bare challenge (RFC 6750 section 3: no error code when no credential was sent).
pub fn bearer_required() -> Response {
    answer(
        StatusCode::UNAUTHORIZED,
        None,
        "this address takes bearer access tokens only",
        &[],
    )
}
