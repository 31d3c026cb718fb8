//! Raw file -> validated [`Config`]. Every problem is collected; fail-open settings are errors:
//! an IdP without a signing key, a clock skew over the maximum, session cookies sent in clear to
//! a non-loopback host.
//!
//! One file per section, run in the file's order by [`validate`]; [`fields`] reads one value,
//! [`keys`] loads keys and certificates.

pub mod backend;
pub mod fields;
pub mod forward_auth;
pub mod headers;
pub mod identity_token;
pub mod idp;
pub mod keys;
pub mod oauth;
pub mod routes;
pub mod secrets;
pub mod server;
pub mod session;
pub mod sp;

use std::path::Path;

use toml::Spanned;

use super::as_written::RawConfig;
use super::model::{Config, Idp};
use super::problems::Problems;

pub use keys::{
    EXPIRY_WARNING_DAYS, MIN_RSA_BITS, WEAK_RSA_BITS, check_key_strength, warn_if_expiring,
};
pub use server::{DEFAULT_MAX_ACS_BODY, MAX_ACS_CONCURRENCY, MAX_WORKERS};

/// Turn the raw file into a [`Config`], or `None` when any error was recorded.
pub fn validate(mut raw: RawConfig, file: &Path, p: &mut Problems) -> Option<Config> {
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    if let Some(session) = raw.session.as_mut() {
        let r = session.get_mut();
        r.url = secrets::secret(&r.url, &r.url_file, &r.url_env, "session.url", &base, p);
    }
    let public_url_span = raw
        .server
        .as_ref()
        .and_then(|s| s.get_ref().public_url.as_ref().map(Spanned::span));
    let tls = server::tls::tls(raw.server.as_ref(), &base, p);
    let mut server = server::server(raw.server, p);
    if let (Some(server), Some((files, redirect))) = (server.as_mut(), tls) {
        server.tls = files;
        server.redirect_http_listen = redirect;
    }
    // A TLS listener behind an http:// public URL: the IdP would post to, and browsers be sent
    // to, addresses the listener does not speak.
    if let Some(server) = &server
        && server.tls.is_some()
        && server.public_url.scheme() == "http"
    {
        p.error(
            "server.public_url",
            public_url_span.clone(),
            format!(
                "is {} but tls_cert makes the listener speak HTTPS: write the https:// address users reach",
                server.public_url
            ),
        );
    }
    let session = session::session(raw.session, server.as_ref(), public_url_span, p);
    let sp = sp::sp(raw.sp, &base, p);
    let backend_url_span = raw
        .backend
        .as_ref()
        .and_then(|b| b.get_ref().url.as_ref().map(Spanned::span));
    let backend = backend::backend(raw.backend, &base, p);
    let headers = headers::headers(raw.headers, p);
    let routes = routes::routes(&raw.route, p);
    let forward_auth = forward_auth::forward_auth(raw.forward_auth, p);
    let route_groups: Vec<&str> = routes
        .iter()
        .flat_map(|r| r.require_access_group.iter().map(String::as_str))
        .collect();
    if raw.idp.is_empty() {
        p.error(
            "idp",
            None,
            "no [[idp]] configured: the gateway would have no one to trust",
        );
    }
    let mut idps = Vec::new();
    for (i, r) in raw.idp.iter().enumerate() {
        if let Some(idp) = idp::idp(i, r, &base, &route_groups, p) {
            if idps.iter().any(|o: &Idp| o.name == idp.name) {
                p.error(
                    format!("idp[{i}].name"),
                    Some(r.span()),
                    format!("IdP name \"{}\" is used twice", idp.name),
                );
            }
            idps.push(idp);
        }
    }
    let oauth = oauth::issuers(&raw.oauth, &base, &route_groups, p);
    routes::access_groups::check_route_groups(&raw.route, &idps, &oauth, p);
    let (identity_token, headers) = identity_token::identity_token(
        raw.identity_token,
        &base,
        sp.as_ref().map(|s| s.entity_id.as_str()),
        headers,
        p,
    );
    let (server, sp, session, backend, headers) = (server?, sp?, session?, backend?, headers?);
    backend::self_loop::refuse_backend_that_is_the_gateway(
        &server,
        backend.url.url(),
        backend_url_span,
        p,
    );
    if p.has_errors() {
        return None;
    }
    Some(Config {
        file: file.to_path_buf(),
        server,
        sp,
        idps,
        session,
        backend,
        headers,
        routes,
        forward_auth,
        identity_token,
        oauth,
    })
}
