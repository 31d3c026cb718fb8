//! Every request that is not a `/saml/*` or health endpoint: read its path once
//! ([`PathReading`]: refused with 400 when servers would read it differently), check the
//! session and the route rules on that reading, then forward to the backend exactly the path
//! decided on (or start a login, or refuse).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::uri::PathAndQuery;
use axum::http::{HeaderName, HeaderValue, Uri};
use axum::response::Response;
use tower::ServiceExt;
use tower_sessions::Session;
use tower_sessions::session::Id;

use super::cookies;
use super::errors;
use super::login;
use super::relay_state::sanitize_return_to;
use super::state::AppState;
use super::tunnel_lease::{SessionLease, TokenLease};
use crate::identity::headers::IdentityHeaders;
use crate::proxy::LeaseFor;
use crate::routes::path_reading::{PathReading, PathRefusal};
use crate::routes::{self, Access};
use crate::session::{CacheLookup, SignedIn};

/// The fallback route: a request that carries the cookie of a session this node holds decoded
/// (its session cache) and that the route rules let through is forwarded at once; every other
/// request (no or unknown cookie, a cookie sent twice, a denial, a login to start, a touch due)
/// goes to [`gate`] behind the session layer, which decides, logs and counts it.
///
/// This spares the common request the session layer's cookie jar and record handling, a
/// large share of the gateway's CPU per request. The decision is the same
/// `routes::decide` on the same path reading and identity; a path with no single reading is
/// refused here, before any store is asked. With Redis the cache is read only once the session
/// tracker confirms it holds every change Redis made before the request arrived.
pub async fn fast_gate(
    state: &Arc<AppState>,
    slow: &Router,
    client: SocketAddr,
    mut req: Request,
) -> Response {
    let path = match PathReading::new(req.uri().path()) {
        Ok(path) => path,
        Err(refusal) => return refused(state, &refusal),
    };
    // A bearer token (when `[[oauth]]` issuers are configured) is never a session request:
    // it is validated and mapped, or refused with an RFC 6750 answer, never sent to a login.
    if state.bearer.is_enabled()
        && let Some(credential) = super::bearer::credential_of(req.headers())
    {
        // Boxed, as the slow path below: each would otherwise add its whole state to the
        // future of every request, which is created and moved once per request.
        return Box::pin(bearer_request(state, req, credential, client)).await;
    }
    // A path to merge (rare) goes to the slow path, which merges it before deciding.
    let mut pass = None;
    if path.rewritten().is_none()
        && let Some(id) = cookies::get(req.headers(), &state.config.session.cookie_name)
            .and_then(|value| value.parse::<Id>().ok())
        && let Some(cache) = state.sessions.cache_in_step().await
    {
        match cache.get(&id, state.now(), state.config.session.idle_timeout) {
            Some(signed_in) => {
                match routes::decide(&state.config.routes, &path, Some(&signed_in.identity)) {
                    Access::Public => pass = Some(None),
                    Access::Allowed => pass = Some(Some((signed_in, id))),
                    Access::LoginRequired | Access::Denied(_) => {}
                }
            }
            // Spare the slow path a second look (with Redis, a second round trip).
            None => {
                req.extensions_mut().insert(CacheMissed);
            }
        }
    }
    // One forwarding call site, so the request's future holds one forwarding state.
    if let Some(signed_in) = pass {
        let signed_in = signed_in.as_ref().map(|(s, id)| (&**s, *id));
        return forward(state, req, signed_in, client).await;
    }
    req.extensions_mut().insert(ConnectInfo(client));
    match Box::pin(slow.clone().oneshot(req)).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// A path with no single reading: 400, a generic page to the browser, the reason to the log
/// and to `samlgate_requests_refused_total`.
fn refused(state: &AppState, refusal: &PathRefusal) -> Response {
    tracing::info!(reason = refusal.kind(), "{refusal}");
    state.metrics.inc(
        "samlgate_requests_refused_total",
        &[("reason", refusal.kind())],
    );
    errors::bad_request("This address is not one the gateway accepts.")
}

/// A request with `Authorization: Bearer`: its path admitted as any other's, then decided by
/// [`super::bearer`], then forwarded with the token's identity (or answered).
async fn bearer_request(
    state: &Arc<AppState>,
    mut req: Request,
    credential: super::bearer::BearerCredential,
    client: SocketAddr,
) -> Response {
    if let Some(refusal) = admit_path(state, &mut req) {
        return refusal;
    }
    match super::bearer::decide(state, &mut req, credential).await {
        super::bearer::Outcome::Forward(who) => {
            let token = who
                .as_deref()
                .and_then(|a| super::identity_token::token_for_bearer(state, a));
            let user = who.as_deref().map(|a| &a.identity.user);
            // A tunnel opened with the token lasts no longer than the token is accepted.
            let valid_until = who.as_deref().map(|a| a.valid_until());
            forward_as(
                state,
                req,
                who.as_ref().map(|a| &a.headers),
                token,
                user,
                client,
                &|| valid_until.map(|until| TokenLease::boxed(state, until)),
            )
            .await
        }
        super::bearer::Outcome::Answer(answer) => answer,
    }
}

/// Read the request's path: refuse it (the answer), or put in the request the path the
/// backend must be sent (repeated slashes merged), which is then the one decided on.
fn admit_path(state: &AppState, req: &mut Request) -> Option<Response> {
    let merged = match PathReading::new(req.uri().path()) {
        Err(refusal) => return Some(refused(state, &refusal)),
        Ok(path) => with_path(req.uri(), path.rewritten()?),
    };
    match merged {
        Ok(uri) => {
            *req.uri_mut() = uri;
            None
        }
        Err(e) => {
            tracing::warn!("cannot rewrite the request path: {e}");
            Some(errors::bad_request(
                "This address is not one the gateway accepts.",
            ))
        }
    }
}

/// `uri` with its path replaced by `path`, query and authority kept.
fn with_path(uri: &Uri, path: &str) -> Result<Uri, axum::http::Error> {
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(path_and_query)?);
    Ok(Uri::from_parts(parts)?)
}

/// Set by [`fast_gate`] when it looked in the session cache and found nothing.
#[derive(Clone, Copy, Debug)]
struct CacheMissed;

pub async fn gate(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    session: Session,
    mut req: Request,
) -> Response {
    if let Some(refusal) = admit_path(&state, &mut req) {
        return refusal;
    }
    let path = match PathReading::new(req.uri().path()) {
        Ok(path) => path,
        Err(refusal) => return refused(&state, &refusal),
    };
    let lookup = match req.extensions().get::<CacheMissed>() {
        Some(_) => CacheLookup::AlreadyMissed,
        None => CacheLookup::Consult,
    };
    let identity = match state.sessions.identity_of(&session, lookup).await {
        Ok(identity) => identity,
        Err(e) => {
            tracing::error!("session lookup: {e}");
            return errors::unavailable();
        }
    };
    let api = routes::is_api_request(req.headers(), &path, &state.config.server.api_prefixes);
    let access = routes::decide(
        &state.config.routes,
        &path,
        identity.as_deref().map(|s| &s.identity),
    );
    match access {
        Access::Public => forward(&state, req, None, client).await,
        Access::Allowed => {
            let signed_in = identity.as_deref().zip(session.id());
            forward(&state, req, signed_in, client).await
        }
        Access::LoginRequired if !routes::takes_session(&state.config.routes, &path) => {
            super::bearer::bearer_required()
        }
        Access::LoginRequired if api => errors::unauthorized_json(),
        Access::LoginRequired => {
            let return_to = req
                .uri()
                .path_and_query()
                .map(|pq| sanitize_return_to(pq.as_str()))
                .unwrap_or_else(|| "/".to_string());
            login::choose_or_begin(&state, &return_to, req.headers()).await
        }
        Access::Denied(reason @ routes::DenyReason::SessionNotAccepted { .. }) => {
            tracing::info!(path = req.uri().path(), "access denied: {reason}");
            super::bearer::bearer_required()
        }
        Access::Denied(reason) => {
            tracing::info!(
                path = req.uri().path(),
                user = identity.as_deref().map(|s| s.identity.user.as_str()),
                "access denied: {reason}"
            );
            state
                .metrics
                .inc("samlgate_access_denied_total", &[("reason", reason.kind())]);
            let mut response = match identity.as_deref() {
                Some(signed_in) if !api => errors::forbidden(
                    &signed_in.identity.user,
                    &reason,
                    &state.config.server.url_for("/saml/logout"),
                ),
                _ => errors::forbidden_json(),
            };
            if state.config.server.access_log
                && let Some(signed_in) = identity.as_deref()
            {
                response
                    .extensions_mut()
                    .insert(super::access_log::AccessUser(
                        signed_in.identity.user.clone(),
                    ));
            }
            response
        }
    }
}

/// Hand the request to the reverse proxy, which strips every client-sent identity header and
/// sets ours from the session (given with its ID: a WebSocket tunnel lasts no longer than it).
async fn forward(
    state: &Arc<AppState>,
    req: Request,
    signed_in: Option<(&SignedIn, Id)>,
    client: SocketAddr,
) -> Response {
    let token = signed_in.and_then(|(s, _)| super::identity_token::token_for(state, s));
    let user = signed_in.map(|(s, _)| &s.identity.user);
    let session = signed_in.map(|(_, id)| id);
    forward_as(
        state,
        req,
        signed_in.map(|(s, _)| &s.headers),
        token,
        user,
        client,
        &|| session.map(|id| SessionLease::boxed(state, id)),
    )
    .await
}

/// [`forward`] with the identity headers given (a session's, or a bearer token's).
async fn forward_as(
    state: &AppState,
    mut req: Request,
    identity: Option<&IdentityHeaders>,
    token: Option<(&HeaderName, HeaderValue)>,
    user: Option<&crate::identity::shared_text::Text>,
    client: SocketAddr,
    lease_for: LeaseFor<'_>,
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
    let mut response = state
        .proxy
        .forward_with_token(
            req,
            identity,
            token,
            &state.config.headers,
            client,
            proto,
            lease_for,
        )
        .await;
    if state.config.server.access_log
        && let Some(user) = user
    {
        response
            .extensions_mut()
            .insert(super::access_log::AccessUser(user.clone()));
    }
    response
}
