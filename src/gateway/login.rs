//! SP-initiated login: send the browser to the IdP, with the login it started sealed in its own
//! login cookie (see `relay_state`): nothing is stored here for a visitor who has not signed in.
//!
//! `GET /saml/login?idp=NAME&return_to=/path` starts a login explicitly; the gate calls
//! [`begin`] for any unauthenticated browser request. With several IdPs and no choice made, a
//! small chooser page lists them.

use crate::xml::escape::escape;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

use crate::config::{Idp, SsoBinding};
use crate::saml::request::{AuthnRequest, new_request_id, post_form, redirect_url, sign_for_post};

use super::cookies;
use super::errors;
use super::relay_state::{PendingLogin, PendingLogins, sanitize_return_to};
use super::state::AppState;
use crate::routes::path_reading::PathReading;

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    pub idp: Option<String>,
    pub return_to: Option<String>,
}

/// `GET /saml/login`. The return path is `return_to`, else the forward-auth URI header
/// (`X-Original-URI`, set by the nginx snippet, which cannot URL-encode a query into
/// `return_to`); either way only a sanitized relative path with a single reading is kept.
pub async fn login(
    State(state): State<Arc<AppState>>,
    Query(q): Query<LoginQuery>,
    headers: HeaderMap,
) -> Response {
    let from_header = headers
        .get(&state.config.forward_auth.uri_header)
        .and_then(|v| v.to_str().ok());
    let return_to = readable(sanitize_return_to(
        q.return_to.as_deref().or(from_header).unwrap_or("/"),
    ));
    match q.idp.as_deref() {
        Some(name) => match state.idp(name) {
            Some(idp) => begin(&state, idp, &return_to, &headers).await,
            None => errors::bad_request("Unknown identity provider."),
        },
        None => choose_or_begin(&state, &return_to, &headers).await,
    }
}

/// `return_to`, or `/` when the gate would refuse its path (no single reading).
fn readable(return_to: String) -> String {
    let path = return_to
        .split_once('?')
        .map_or(return_to.as_str(), |(path, _)| path);
    match PathReading::new(path) {
        Ok(_) => return_to,
        Err(_) => "/".to_string(),
    }
}

/// One IdP: go there. Several: show the chooser.
pub async fn choose_or_begin(state: &AppState, return_to: &str, headers: &HeaderMap) -> Response {
    match state.config.idps.as_slice() {
        [only] => begin(state, only, return_to, headers).await,
        idps => chooser(idps, return_to),
    }
}

fn chooser(idps: &[Idp], return_to: &str) -> Response {
    let encoded_return: String =
        url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
    let items: String = idps
        .iter()
        .map(|i| {
            format!(
                "<li><a href=\"/saml/login?idp={name}&amp;return_to={ret}\">{name}</a></li>",
                name = escape(&i.name),
                ret = escape(&encoded_return)
            )
        })
        .collect();
    crate::text::page::html_page(
        StatusCode::OK,
        "Sign in",
        &format!("<p>Sign in with:</p><ul>{items}</ul>"),
    )
}

/// Send the browser to `idp` with a fresh AuthnRequest; come back to `return_to` (already sanitized).
pub async fn begin(state: &AppState, idp: &Idp, return_to: &str, headers: &HeaderMap) -> Response {
    let now = state.now();
    let metadata = match state.idp_metadata.usable(&idp.name, now) {
        Ok((metadata, _)) => metadata,
        Err(not_ready) => {
            tracing::warn!(idp = %idp.name, "login refused: {not_ready}");
            return errors::idp_not_ready();
        }
    };
    let https = state.config.server.is_https();
    let request = AuthnRequest {
        id: new_request_id(),
        issue_instant: now,
        destination: metadata.sso.location.clone(),
        acs_url: state.config.server.acs_url(),
        sp_entity_id: state.config.sp.entity_id.clone(),
        force_authn: idp.force_authn,
        is_passive: idp.is_passive,
        name_id_format: idp.name_id_policy.clone(),
        authn_context: idp.authn_context.clone(),
    };
    let pending = PendingLogin::start(&request.id, return_to, &idp.name, now);
    let relay_state = pending.relay_state.clone();
    let in_flight = cookies::get(headers, cookies::login_cookie_name(https));
    let mut logins = PendingLogins::for_new_login(in_flight, &state.login_seal);
    logins.add(pending, now);
    let login_cookie = match logins.to_cookie(&state.login_seal, now) {
        Ok(Some(value)) => cookies::login_cookie(&value, https),
        Ok(None) => cookies::clear_login_cookie(https),
        Err(e) => {
            tracing::error!(idp = %idp.name, "cannot start login: {e}");
            return errors::unavailable();
        }
    };
    let sign = state.config.sp.sign_authn_requests || metadata.want_authn_requests_signed;
    let message = OutgoingRequest {
        xml: request.to_xml(),
        binding: metadata.sso.binding,
        location: metadata.sso.location.clone(),
        relay_state,
        key: sign.then(|| state.config.sp.key.key.clone()),
        cert: state.config.sp.cert.clone(),
    };
    // Signing costs an RSA private-key operation, and anyone can ask for one by visiting a
    // protected page: it runs off the event loops, a bounded number at once (see `offload`).
    let built = if message.key.is_some() {
        match state.login_work.run(move || message.build()).await {
            Ok(built) => built,
            Err(e) => {
                tracing::warn!(idp = %idp.name, "cannot start a login now: {e}");
                return errors::unavailable();
            }
        }
    } else {
        message.build()
    };
    let mut response = match built {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(idp = %idp.name, "cannot build the AuthnRequest: {e}");
            return errors::unavailable();
        }
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(cookie) = HeaderValue::from_str(&login_cookie) {
        h.append(header::SET_COOKIE, cookie);
    }
    state
        .metrics
        .inc("samlgate_login_redirects_total", &[("idp", &idp.name)]);
    tracing::debug!(idp = %idp.name, request_id = %request.id, return_to, "sent AuthnRequest");
    response
}

/// An AuthnRequest on its way to the IdP, before the possibly costly signing.
struct OutgoingRequest {
    xml: String,
    binding: SsoBinding,
    location: String,
    relay_state: String,
    /// The SP key when the request is signed.
    key: Option<openssl::pkey::PKey<openssl::pkey::Private>>,
    cert: openssl::x509::X509,
}

/// Why no AuthnRequest could be sent.
#[derive(Debug, thiserror::Error)]
enum OutgoingError {
    #[error(transparent)]
    Request(#[from] crate::saml::request::RequestError),
    #[error("the IdP SSO URL cannot be a Location header: {0}")]
    Location(#[from] axum::http::header::InvalidHeaderValue),
}

impl OutgoingRequest {
    /// The redirect (HTTP-Redirect binding, query-string signature) or the auto-posting form
    /// (HTTP-POST binding, enveloped signature).
    fn build(self) -> Result<Response, OutgoingError> {
        Ok(match self.binding {
            SsoBinding::Redirect => {
                let url = redirect_url(
                    &self.location,
                    &self.xml,
                    &self.relay_state,
                    self.key.as_deref(),
                )?;
                let location = HeaderValue::from_str(&url)?;
                (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
            }
            SsoBinding::Post => {
                let xml = match &self.key {
                    Some(key) => sign_for_post(&self.xml, key, Some(&self.cert))?,
                    None => self.xml,
                };
                Html(post_form(&self.location, &xml, &self.relay_state)).into_response()
            }
        })
    }
}
