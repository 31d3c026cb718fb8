//! `/saml/logout`: local logout. `GET` shows a page with a Sign out button and ends nothing;
//! the button's `POST`, from this gateway's own origin, ends the session. A link or an image on
//! another site can make a browser GET any URL (and a form POST one), so a session ends only on
//! a POST that the browser says came from our own page.
//!
//! The session is deleted from the store (the cookie alone would not be enough: a copied cookie
//! must stop working too). Single Logout with the IdP is not supported yet: the IdP session
//! stays, so the next visit may sign in again without a prompt.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use tower_sessions::Session;
use url::Url;

use crate::ops::audit;

use super::errors;

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
            errors::signed_out()
        }
        Ok(None) => errors::signed_out(),
        Err(e) => {
            tracing::error!("logout: {e}");
            errors::unavailable()
        }
    }
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
