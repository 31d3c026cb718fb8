//! `/saml/logout`: local logout. `GET` shows a page with a Sign out button and ends nothing;
//! the button's `POST`, from this gateway's own origin, ends the session. A link or an image on
//! another site can make a browser GET any URL (and a form POST one), so a session ends only on
//! a POST that the browser says came from our own page.
//!
//! The session is deleted from the store (the cookie alone would not be enough: a copied cookie
//! must stop working too). Then Single Logout: when the IdP has a SingleLogoutService (and
//! `slo` is not turned off), the browser takes our LogoutRequest there (NameID as the IdP sent
//! it, the login's SessionIndex; signed unless `sign_logout_requests = false`), by HTTP-Redirect
//! when offered, else HTTP-POST, with the request's ID sealed in a logout cookie
//! ([`PendingLogout`]) so that only this browser's LogoutResponse is accepted at `/saml/slo`.
//! Without SLO the page says the IdP session is still open and how to end it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use tower_sessions::Session;
use url::Url;

use crate::ops::audit;
use crate::saml::NameId;
use crate::saml::logout::LogoutRequest;
use crate::saml::logout::binding::{InboundKind, SigningKey, encode};
use crate::saml::logout::message::encrypted_name_id;
use crate::saml::metadata::Binding;
use crate::saml::request::new_request_id;
use crate::session::SessionRecord;

use super::cookies;
use super::errors;
use super::logged_out;
use super::pending_logout::{PENDING_LOGOUT_TTL, PendingLogout};
use super::slo;

use super::state::AppState;

/// `GET /saml/logout`: the Sign out button, nothing more.
pub async fn page(State(state): State<Arc<AppState>>) -> Response {
    errors::sign_out_page(&state.config.server.url_for("/saml/logout"))
}

/// `POST /saml/logout`: end the session, if the request came from our own page.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    session: Session,
    headers: HeaderMap,
) -> Response {
    if let Err(why) = same_origin(&headers, &state.config.server.public_url) {
        tracing::warn!("sign-out refused: {why}");
        state.metrics.inc("samlgate_logouts_refused_total", &[]);
        return errors::sign_out_refused(&state.config.server.url_for("/saml/logout"));
    }
    match state.sessions.end(&session).await {
        Ok(Some(record)) => {
            audit::logout(&record.identity.user);
            state.metrics.inc("samlgate_logouts_total", &[]);
            single_logout(&state, &record)
        }
        Ok(None) => errors::signed_out(),
        Err(e) => {
            tracing::error!("logout: {e}");
            errors::unavailable()
        }
    }
}

/// After the local session ended: take the user to the IdP's SingleLogoutService, or say that
/// the IdP session is still open.
fn single_logout(state: &AppState, record: &SessionRecord) -> Response {
    let Some(idp) = state.idp(&record.idp) else {
        return errors::signed_out();
    };
    let slo = state.slo_endpoints(idp);
    let endpoint = slo
        .iter()
        .find(|e| e.binding == Binding::HttpRedirect)
        .or_else(|| slo.iter().find(|e| e.binding == Binding::HttpPost));
    let Some(endpoint) = endpoint else {
        return logged_out::idp_session_still_open(&idp.name);
    };
    let now = state.now();
    let details = record.name_id_details.clone().unwrap_or_default();
    let request = LogoutRequest {
        id: new_request_id(),
        issue_instant: now,
        destination: endpoint.location.clone(),
        issuer: state.config.sp.entity_id.clone(),
        not_on_or_after: Some(now + PENDING_LOGOUT_TTL),
        name_id: NameId {
            value: record.name_id.clone(),
            format: details.format,
            name_qualifier: details.name_qualifier,
            sp_name_qualifier: details.sp_name_qualifier,
        },
        session_index: record.session_index.clone(),
        encrypted_id: None,
    };
    let mut request = request;
    let encryption = match state.logout_encryption(idp) {
        Ok(encryption) => encryption,
        Err(e) => {
            tracing::error!(idp = %idp.name, "single logout: {e}");
            return logged_out::idp_session_still_open(&idp.name);
        }
    };
    if let Some(certificate) = &encryption {
        match encrypted_name_id(&request.name_id, certificate) {
            Ok(encrypted) => request.encrypted_id = Some(encrypted),
            Err(e) => {
                tracing::error!(idp = %idp.name, "single logout: encrypting the NameID: {e}");
                return logged_out::idp_session_still_open(&idp.name);
            }
        }
    }
    let signing = idp.sign_logout_requests.then(|| SigningKey {
        key: &state.config.sp.key.key,
        certificate: Some(&state.config.sp.cert),
    });
    let pending = PendingLogout {
        request_id: request.id.clone(),
        idp: idp.name.clone(),
        expires: now + PENDING_LOGOUT_TTL,
    };
    let outbound = encode(
        &endpoint.binding,
        &endpoint.location,
        InboundKind::Request,
        &request.to_xml(),
        None,
        signing,
    );
    let (Ok(outbound), Some(sealed)) = (outbound, pending.seal(&state.login_seal)) else {
        tracing::error!(idp = %idp.name, "single logout: could not build the LogoutRequest");
        return logged_out::idp_session_still_open(&idp.name);
    };
    audit::single_logout(&idp.name, &record.name_id, "sp", 1, 0);
    let mut response = slo::send(outbound);
    let cookie = cookies::logout_cookie(
        &sealed,
        PENDING_LOGOUT_TTL.whole_seconds(),
        state.config.server.is_https(),
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&cookie) {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, v);
    }
    response
}

/// Why a sign-out POST is not taken as coming from our own page.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CrossOrigin {
    #[error("Origin {origin:?} is not this gateway's origin {expected:?}")]
    OtherOrigin { origin: String, expected: String },
    #[error("Origin appears more than once")]
    SeveralOrigins,
    #[error("Sec-Fetch-Site is {0:?}, not \"same-origin\"")]
    FetchSite(String),
    #[error("neither Origin nor Sec-Fetch-Site came with the request")]
    Unattested,
}

/// Did the browser send this request from a page of `public_url`'s origin? Each header present
/// must say so, and at least one must be present.
///
/// Without either header we cannot tell our own form from another site's: every current
/// browser sends `Origin` on a POST (and `Sec-Fetch-Site` too), so a request with neither comes
/// from an old browser or a script, and refusing it costs little, where accepting it would let
/// any page that finds such a browser sign its user out.
pub fn same_origin(headers: &HeaderMap, public_url: &Url) -> Result<(), CrossOrigin> {
    let expected = public_url.origin().ascii_serialization();
    let mut origins = headers.get_all("origin").iter();
    let origin = origins.next();
    if origins.next().is_some() {
        return Err(CrossOrigin::SeveralOrigins);
    }
    let shown = |v: &axum::http::HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();
    if let Some(origin) = origin
        && origin.as_bytes() != expected.as_bytes()
    {
        return Err(CrossOrigin::OtherOrigin {
            origin: shown(origin),
            expected,
        });
    }
    let fetch_site = headers.get("sec-fetch-site");
    if let Some(site) = fetch_site
        && site.as_bytes() != b"same-origin"
    {
        return Err(CrossOrigin::FetchSite(shown(site)));
    }
    if origin.is_none() && fetch_site.is_none() {
        return Err(CrossOrigin::Unattested);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn our_own_page_may_sign_out() {
        let public = Url::parse("https://app.example.com").unwrap();
        for ok in [
            &[("origin", "https://app.example.com")][..],
            &[("sec-fetch-site", "same-origin")],
            &[
                ("origin", "https://app.example.com"),
                ("sec-fetch-site", "same-origin"),
            ],
        ] {
            assert_eq!(same_origin(&headers(ok), &public), Ok(()), "{ok:?}");
        }
        let with_port = Url::parse("http://127.0.0.1:8080/").unwrap();
        let h = headers(&[("origin", "http://127.0.0.1:8080")]);
        assert_eq!(same_origin(&h, &with_port), Ok(()));
        let default_port = Url::parse("https://app.example.com:443").unwrap();
        let h = headers(&[("origin", "https://app.example.com")]);
        assert_eq!(same_origin(&h, &default_port), Ok(()));
    }

    #[test]
    fn another_site_or_an_unattested_request_may_not() {
        let public = Url::parse("https://app.example.com").unwrap();
        for (bad, kind) in [
            (&[("origin", "https://evil.example")][..], "other"),
            (&[("origin", "null")], "other"),
            (&[("origin", "http://app.example.com")], "other"),
            (&[("origin", "https://app.example.com:8443")], "other"),
            (&[("origin", "https://sub.app.example.com")], "other"),
            (
                &[
                    ("origin", "https://evil.example"),
                    ("sec-fetch-site", "same-origin"),
                ],
                "other",
            ),
            (&[("sec-fetch-site", "cross-site")], "site"),
            (&[("sec-fetch-site", "same-site")], "site"),
            (&[("sec-fetch-site", "none")], "site"),
            (
                &[
                    ("origin", "https://app.example.com"),
                    ("sec-fetch-site", "same-site"),
                ],
                "site",
            ),
            (
                &[
                    ("origin", "https://app.example.com"),
                    ("origin", "https://app.example.com"),
                ],
                "several",
            ),
            (&[], "none"),
        ] {
            let got = same_origin(&headers(bad), &public);
            let matches = matches!(
                (kind, &got),
                ("other", Err(CrossOrigin::OtherOrigin { .. }))
                    | ("site", Err(CrossOrigin::FetchSite(_)))
                    | ("several", Err(CrossOrigin::SeveralOrigins))
                    | ("none", Err(CrossOrigin::Unattested))
            );
            assert!(matches, "{bad:?}: {got:?}");
        }
    }
}
