//! `/saml/auth`: forward-auth for nginx `auth_request` and Traefik `ForwardAuth`.
//!
//! 200 with the identity headers for a valid session whose operator the route rules allow,
//! 200 without identity for a public route, 401 without a session, 403 when a rule refuses.
//! A request with `Authorization: Bearer` (when `[[oauth]]` issuers are configured) is decided
//! by its token alone, as the reverse proxy decides it (`super::bearer`), with the same answers.
//!
//! The path the rules apply to is read from one header, `[forward_auth] uri_header`
//! (`X-Original-URI`, set by the nginx snippet, or `X-Forwarded-Uri`, set by Traefik). The
//! proxy in front sets it, but it also passes on client headers, so anything odd is refused
//! with 400 (which nginx and Traefik turn into a refusal) and never read as `/`: the header
//! missing or repeated, the other well-known header present too (a client may have sent
//! either), a value that is not an origin-form URI in visible ASCII (nginx's `$request_uri` is
//! the raw request line), a path with no single reading. The backend receives the request
//! from the proxy, not from us, so a path the gateway would merge is refused rather than
//! authorized as merged.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use super::errors;
use super::state::AppState;
use crate::identity::headers;
use crate::routes::path_reading::{PathReading, PathRefusal, shown};
use crate::routes::{self, Access};
use crate::session::CacheLookup;

pub const X_ORIGINAL_URI: HeaderName = crate::config::X_ORIGINAL_URI;
pub const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");

/// The headers proxies use to tell an auth server the original URI; a request carrying one
/// that is not the configured header is refused.
const WELL_KNOWN: [HeaderName; 2] = [X_ORIGINAL_URI, X_FORWARDED_URI];

/// Why a forward-auth request has no original path to decide on. `Display` is the log line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OriginalUriRefusal {
    #[error(
        "no {header} header: the proxy in front must set it to the original request URI ([forward_auth] uri_header)"
    )]
    Missing { header: HeaderName },
    #[error("{count} {header} headers: the proxy in front must set exactly one")]
    Repeated { header: HeaderName, count: usize },
    #[error(
        "{other} is present beside the configured {header}: a client may have sent either (behind Traefik, list only the headers samlgate needs in authRequestHeaders)"
    )]
    Contradicted {
        header: HeaderName,
        other: HeaderName,
    },
    #[error("{header} \"{value}\" is not visible ASCII (a request line in raw bytes)")]
    NotVisibleAscii { header: HeaderName, value: String },
    #[error(
        "{header} \"{value}\" is not an origin-form URI (one leading /, no scheme, authority or *)"
    )]
    NotOriginForm { header: HeaderName, value: String },
    #[error("{header}: {refusal}")]
    Path {
        header: HeaderName,
        refusal: PathRefusal,
    },
    #[error(
        "{header} path \"{path}\" has repeated slashes: the backend receives it from the proxy unmerged, so it is not authorized as merged"
    )]
    RepeatedSlashes { header: HeaderName, path: String },
}

impl OriginalUriRefusal {
    /// A stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            OriginalUriRefusal::Missing { .. } => "uri_header_missing",
            OriginalUriRefusal::Repeated { .. } => "uri_header_repeated",
            OriginalUriRefusal::Contradicted { .. } => "uri_header_contradicted",
            OriginalUriRefusal::NotVisibleAscii { .. } => "uri_not_ascii",
            OriginalUriRefusal::NotOriginForm { .. } => "uri_not_origin_form",
            OriginalUriRefusal::Path { refusal, .. } => refusal.kind(),
            OriginalUriRefusal::RepeatedSlashes { .. } => "repeated_slashes",
        }
    }
}

/// The path (query dropped) of the request being authorized, from `header` alone.
pub fn original_path<'h>(
    headers: &'h HeaderMap,
    header: &HeaderName,
) -> Result<&'h str, OriginalUriRefusal> {
    let mut values = headers.get_all(header).iter();
    let Some(value) = values.next() else {
        return Err(OriginalUriRefusal::Missing {
            header: header.clone(),
        });
    };
    let more = values.count();
    if more > 0 {
        return Err(OriginalUriRefusal::Repeated {
            header: header.clone(),
            count: more.saturating_add(1),
        });
    }
    if let Some(other) = WELL_KNOWN
        .iter()
        .find(|other| *other != header && headers.contains_key(*other))
    {
        return Err(OriginalUriRefusal::Contradicted {
            header: header.clone(),
            other: other.clone(),
        });
    }
    let bytes = value.as_bytes();
    let uri = match std::str::from_utf8(bytes) {
        Ok(uri) if bytes.iter().all(|b| (b'!'..=b'~').contains(b)) => uri,
        _ => {
            return Err(OriginalUriRefusal::NotVisibleAscii {
                header: header.clone(),
                value: shown(bytes),
            });
        }
    };
    if !uri.starts_with('/') || uri.starts_with("//") {
        return Err(OriginalUriRefusal::NotOriginForm {
            header: header.clone(),
            value: shown(bytes),
        });
    }
    Ok(uri.split_once('?').map_or(uri, |(path, _query)| path))
}

/// The reading of the original path, when the backend will receive the path as read.
pub fn original_reading<'h>(
    headers: &'h HeaderMap,
    header: &HeaderName,
) -> Result<PathReading<'h>, OriginalUriRefusal> {
    let path = original_path(headers, header)?;
    let reading = PathReading::new(path).map_err(|refusal| OriginalUriRefusal::Path {
        header: header.clone(),
        refusal,
    })?;
    if reading.rewritten().is_some() {
        return Err(OriginalUriRefusal::RepeatedSlashes {
            header: header.clone(),
            path: shown(path.as_bytes()),
        });
    }
    Ok(reading)
}

pub async fn forward_auth(
    State(state): State<Arc<AppState>>,
    session: Session,
    headers: HeaderMap,
) -> Response {
    let path = match original_reading(&headers, &state.config.forward_auth.uri_header) {
        Ok(path) => path,
        Err(refusal) => {
            tracing::info!(reason = refusal.kind(), "forward-auth refused: {refusal}");
            state.metrics.inc(
                "samlgate_requests_refused_total",
                &[("reason", refusal.kind())],
            );
            return answer(
                &state,
                "bad_request",
                StatusCode::BAD_REQUEST.into_response(),
            );
        }
    };
    // A bearer token (when `[[oauth]]` issuers are configured) is decided as the reverse proxy
    // decides it, on the original path: never by the session, never a login.
    if state.bearer.is_enabled()
        && let Some(credential) = super::bearer::credential_of(&headers)
    {
        return Box::pin(bearer_answer(&state, &path, credential)).await;
    }
    let identity = match state
        .sessions
        .identity_of(&session, CacheLookup::Consult)
        .await
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
                if let Some((name, value)) = super::identity_token::token_for(&state, &signed_in) {
                    response.headers_mut().insert(name.clone(), value);
                }
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
    answer(&state, status, response)
}

/// `/saml/auth` for a bearer request: 200 with the token's operator's identity headers (and
/// identity token) when the route rules let it in, 200 without identity on a public path, else
/// the RFC 6750 answer the proxy would give (401 with its `WWW-Authenticate`, 403, 400, 503),
/// which nginx and Traefik pass on or turn into a refusal.
async fn bearer_answer(
    state: &AppState,
    path: &PathReading<'_>,
    credential: super::bearer::BearerCredential,
) -> Response {
    match super::bearer::decide_path(state, path, credential).await {
        Ok(None) => answer(state, "public", StatusCode::OK.into_response()),
        Ok(Some(who)) => {
            let mut response = StatusCode::OK.into_response();
            headers::inject(&who.headers, response.headers_mut());
            if let Some((name, value)) = super::identity_token::token_for_bearer(state, &who) {
                response.headers_mut().insert(name.clone(), value);
            }
            answer(state, "ok", response)
        }
        Err(refusal) => {
            let result = match refusal.status() {
                StatusCode::UNAUTHORIZED => "unauthorized",
                StatusCode::FORBIDDEN => "forbidden",
                StatusCode::BAD_REQUEST => "bad_request",
                _ => "unavailable",
            };
            answer(state, result, refusal)
        }
    }
}

/// Count the answer and keep any cache from storing it.
fn answer(state: &AppState, status: &'static str, mut response: Response) -> Response {
    state
        .metrics
        .inc("samlgate_forward_auth_total", &[("result", status)]);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        h
    }

    fn kind(pairs: &[(&str, &[u8])], header: &HeaderName) -> &'static str {
        match original_reading(&with(pairs), header) {
            Ok(reading) => panic!("accepted as {}", reading.path()),
            Err(e) => e.kind(),
        }
    }

    #[test]
    fn reads_the_path_of_the_configured_header_without_its_query() {
        let h = with(&[("x-original-uri", b"/admin/users?tab=1&x=/y")]);
        assert_eq!(original_path(&h, &X_ORIGINAL_URI), Ok("/admin/users"));
        let h = with(&[("x-forwarded-uri", b"/app")]);
        assert_eq!(original_path(&h, &X_FORWARDED_URI), Ok("/app"));
    }

    #[test]
    fn refuses_a_missing_or_repeated_header() {
        assert_eq!(kind(&[], &X_ORIGINAL_URI), "uri_header_missing");
        // The other header alone is not read in its place.
        assert_eq!(
            kind(&[("x-forwarded-uri", b"/app")], &X_ORIGINAL_URI),
            "uri_header_missing"
        );
        assert_eq!(
            kind(
                &[("x-original-uri", b"/app"), ("x-original-uri", b"/admin")],
                &X_ORIGINAL_URI
            ),
            "uri_header_repeated"
        );
    }

    #[test]
    fn refuses_the_other_well_known_header_beside_the_configured_one() {
        let both: &[(&str, &[u8])] = &[("x-original-uri", b"/app"), ("x-forwarded-uri", b"/admin")];
        assert_eq!(kind(both, &X_ORIGINAL_URI), "uri_header_contradicted");
        assert_eq!(kind(both, &X_FORWARDED_URI), "uri_header_contradicted");
        // A header of the site's own choosing: both well-known ones are then client-sent.
        let own = HeaderName::from_static("x-auth-uri");
        assert_eq!(
            kind(&[("x-auth-uri", b"/app"), ("x-original-uri", b"/")], &own),
            "uri_header_contradicted"
        );
    }

    #[test]
    fn refuses_raw_bytes_from_the_request_line() {
        // nginx's $request_uri for `GET /admin/\xc3\xa9`: the bytes as the client sent them.
        for raw in [&b"/admin/\xc3\xa9"[..], b"/admin/ x", b"/admin\t"] {
            assert_eq!(
                kind(&[("x-original-uri", raw)], &X_ORIGINAL_URI),
                "uri_not_ascii",
                "{raw:?}"
            );
        }
        let e = original_reading(
            &with(&[("x-original-uri", b"/admin/\xc3\xa9")]),
            &X_ORIGINAL_URI,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "x-original-uri \"/admin/\\xc3\\xa9\" is not visible ASCII (a request line in raw bytes)"
        );
    }

    #[test]
    fn refuses_what_is_not_origin_form() {
        for raw in [
            &b"*"[..],
            b"admin",
            b"http://host/admin",
            b"//host/admin",
            b"?x=/admin",
        ] {
            assert_eq!(
                kind(&[("x-original-uri", raw)], &X_ORIGINAL_URI),
                "uri_not_origin_form",
                "{raw:?}"
            );
        }
    }

    #[test]
    fn the_path_goes_through_the_one_reading() {
        for (raw, expected) in [
            (&b"/admin/..;/"[..], "dot_segment_params"),
            (b"/admin/x\\..\\..\\", "backslash"),
            (b"/admin/%2e%2e%3b/", "encoded_delimiter"),
            (b"/admin/..;/healthcheck?x", "dot_segment_params"),
            (b"/admin#x", "query_or_fragment"),
            (b"/admin//x", "repeated_slashes"),
        ] {
            assert_eq!(
                kind(&[("x-original-uri", raw)], &X_ORIGINAL_URI),
                expected,
                "{raw:?}"
            );
        }
        let h = with(&[("x-original-uri", b"/%61dmin;jsessionid=1/x?y")]);
        let reading = original_reading(&h, &X_ORIGINAL_URI).unwrap();
        assert_eq!(
            reading.readings().collect::<Vec<_>>(),
            [
                "/admin;jsessionid=1/x",
                "/%61dmin;jsessionid=1/x",
                "/admin/x"
            ]
        );
    }
}
