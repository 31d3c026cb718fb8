//! The development IdP of `samlgate demo`. DEVELOPMENT ONLY: it signs in anyone who types a
//! name, with whatever groups they type. It binds to loopback only, generates its key at start,
//! and says so on every page.
//!
//! It speaks just enough SAML to exercise the real gateway: it reads the HTTP-Redirect
//! AuthnRequest (checking the SP's signature over the query string with the SP certificate),
//! shows a login form, and posts back a Response whose Response and Assertion are signed with
//! the project's signer.

use std::io::Read;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::crypto::algorithms::{DigestAlgorithm, SignatureAlgorithm};
use crate::crypto::primitive::verify_bytes;
use crate::saml::issue::{ResponseSigner, ResponseSpec, SignParts};
use crate::saml::metadata::write_idp_metadata;
use crate::xml::escape::escape;
use crate::xml::{self, ParseLimits, ns};

/// Largest AuthnRequest the dev IdP inflates.
const MAX_REQUEST_BYTES: usize = 64 * 1024;

const BANNER: &str = "<div style=\"background:#b00020;color:#fff;padding:.6em 1em;font-weight:bold\">samlgate DEVELOPMENT IdP &mdash; development only: anyone can sign in as anyone. Never use it in front of real data.</div>";

/// The IdP's identity and the one SP it serves.
pub struct DevIdp {
    pub entity_id: String,
    /// Where the SSO endpoint lives (`{base_url}/sso`).
    pub base_url: String,
    pub key: PKey<Private>,
    pub cert: X509,
    pub sp_entity_id: String,
    /// From the demo's own configuration, never from a request.
    pub acs_url: String,
    /// Verifies the AuthnRequest signature.
    pub sp_cert: X509,
}

impl DevIdp {
    /// IdP metadata: one signing certificate, an HTTP-Redirect SSO endpoint.
    pub fn metadata_xml(&self) -> Result<String, openssl::error::ErrorStack> {
        write_idp_metadata(
            &self.entity_id,
            &self.cert,
            &format!("{}/sso", self.base_url),
            true,
        )
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/sso", get(sso))
            .route("/sso/login", post(login))
            .with_state(self)
    }
}

fn page(status: StatusCode, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>samlgate development IdP</title></head><body style=\"font-family:system-ui,sans-serif\">{BANNER}<div style=\"max-width:32em;margin:2em auto\">{body}</div></body></html>\n"
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

/// One raw (still percent-encoded) query parameter.
fn raw_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

fn decoded(raw: &str) -> String {
    url::form_urlencoded::parse(format!("v={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Check the Redirect binding signature and return the AuthnRequest's ID and the RelayState.
fn read_request(idp: &DevIdp, query: &str) -> Result<(String, String), String> {
    let request_raw = raw_param(query, "SAMLRequest").ok_or("no SAMLRequest")?;
    let relay_raw = raw_param(query, "RelayState");
    let sig_alg_raw =
        raw_param(query, "SigAlg").ok_or("the AuthnRequest is not signed (no SigAlg)")?;
    let signature_raw = raw_param(query, "Signature").ok_or("the AuthnRequest is not signed")?;
    let mut signed = format!("SAMLRequest={request_raw}");
    if let Some(r) = relay_raw {
        signed.push_str(&format!("&RelayState={r}"));
    }
    signed.push_str(&format!("&SigAlg={sig_alg_raw}"));
    let algorithm =
        SignatureAlgorithm::from_uri(&decoded(sig_alg_raw), false).map_err(|e| e.to_string())?;
    let signature = B64
        .decode(decoded(signature_raw))
        .map_err(|e| format!("Signature: {e}"))?;
    let sp_key = idp.sp_cert.public_key().map_err(|e| e.to_string())?;
    verify_bytes(algorithm, &sp_key, signed.as_bytes(), &signature)
        .map_err(|e| format!("AuthnRequest signature: {e}"))?;

    let compressed = B64
        .decode(decoded(request_raw))
        .map_err(|e| format!("SAMLRequest: {e}"))?;
    let mut inflated = Vec::new();
    flate2::read::DeflateDecoder::new(compressed.as_slice())
        .take(MAX_REQUEST_BYTES as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| format!("SAMLRequest does not inflate: {e}"))?;
    if inflated.len() > MAX_REQUEST_BYTES {
        return Err("SAMLRequest too large".into());
    }
    let doc = xml::parse(&inflated, &ParseLimits::default()).map_err(|e| e.to_string())?;
    let root = doc.root();
    if !root.is(ns::SAMLP, "AuthnRequest") {
        return Err(format!(
            "expected an AuthnRequest, got {}",
            root.qualified_name()
        ));
    }
    let issuer = root
        .first_child_named(ns::SAML, "Issuer")
        .and_then(|i| i.text().ok())
        .unwrap_or_default();
    if issuer != idp.sp_entity_id {
        return Err(format!("AuthnRequest from unknown SP {issuer:?}"));
    }
    let id = root
        .attr("ID")
        .ok_or("AuthnRequest without ID")?
        .to_string();
    Ok((id, relay_raw.map(decoded).unwrap_or_default()))
}

async fn sso(State(idp): State<Arc<DevIdp>>, RawQuery(query): RawQuery) -> Response {
    let (request_id, relay_state) = match read_request(&idp, query.as_deref().unwrap_or("")) {
        Ok(r) => r,
        Err(e) => {
            return page(
                StatusCode::BAD_REQUEST,
                &format!("<h1>Bad AuthnRequest</h1><p>{}</p>", escape(&e)),
            );
        }
    };
    let form = format!(
        concat!(
            "<h1>Sign in (development IdP)</h1>",
            "<form method=\"post\" action=\"/sso/login\">",
            "<input type=\"hidden\" name=\"request_id\" value=\"{id}\">",
            "<input type=\"hidden\" name=\"relay_state\" value=\"{relay}\">",
            "<p><label>User (NameID)<br><input name=\"user\" value=\"jose@example.com\" required></label></p>",
            "<p><label>Email<br><input name=\"email\" value=\"jose@example.com\"></label></p>",
            "<p><label>Display name<br><input name=\"name\" value=\"José Example\"></label></p>",
            "<p><label>Groups (comma-separated)<br><input name=\"groups\" value=\"Staff\"></label></p>",
            "<p><button type=\"submit\">Sign in</button></p></form>",
            "<p>Try the group <code>Admins</code> to reach <code>/admin</code>.</p>"
        ),
        id = escape(&request_id),
        relay = escape(&relay_state),
    );
    page(StatusCode::OK, &form)
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    request_id: String,
    relay_state: String,
    user: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    groups: String,
}

async fn login(State(idp): State<Arc<DevIdp>>, Form(form): Form<LoginForm>) -> Response {
    if form.user.trim().is_empty() {
        return page(StatusCode::BAD_REQUEST, "<p>A user name is required.</p>");
    }
    let now = OffsetDateTime::now_utc();
    let mut spec = ResponseSpec::new(
        &idp.entity_id,
        &idp.sp_entity_id,
        &idp.acs_url,
        form.user.trim(),
        now,
    );
    spec.in_response_to = Some(form.request_id.clone());
    let groups: Vec<String> = form
        .groups
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect();
    spec.attributes = vec![("groups".to_string(), groups)];
    if !form.email.trim().is_empty() {
        spec.attributes
            .push(("mail".to_string(), vec![form.email.trim().to_string()]));
    }
    if !form.name.trim().is_empty() {
        spec.attributes.push((
            "displayName".to_string(),
            vec![form.name.trim().to_string()],
        ));
    }
    let signer = ResponseSigner {
        key: &idp.key,
        certificate: Some(&idp.cert),
        signature_algorithm: SignatureAlgorithm::RsaSha256,
        digest_algorithm: DigestAlgorithm::Sha256,
    };
    let xml = match signer.response(&spec, SignParts::Both) {
        Ok(x) => x,
        Err(e) => {
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("<p>signing failed: {}</p>", escape(&e.to_string())),
            );
        }
    };
    let relay = if form.relay_state.is_empty() {
        String::new()
    } else {
        format!(
            "<input type=\"hidden\" name=\"RelayState\" value=\"{}\">",
            escape(&form.relay_state)
        )
    };
    let html = format!(
        concat!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Signing in</title></head>",
            "<body onload=\"document.forms[0].submit()\">{banner}",
            "<form method=\"post\" action=\"{acs}\">",
            "<input type=\"hidden\" name=\"SAMLResponse\" value=\"{response}\">{relay}",
            "<noscript><button type=\"submit\">Continue</button></noscript></form></body></html>\n"
        ),
        banner = BANNER,
        acs = escape(&idp.acs_url),
        response = B64.encode(xml.as_bytes()),
        relay = relay,
    );
    let mut response = Html(html).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
