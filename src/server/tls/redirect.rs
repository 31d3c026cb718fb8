//! `[server] redirect_http_listen`: a plain-HTTP listener that serves nothing but a redirect to
//! the same path and query under the HTTPS public URL. The target's host is always the public
//! URL's, never the client's `Host`, so the redirect cannot be pointed elsewhere.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The redirecting router for `public_url` (`https://host[:port]`, no trailing slash).
pub fn router(public_url: &str) -> Router {
    let base = public_url.trim_end_matches('/').to_owned();
    Router::new().fallback(move |req: Request| {
        let base = base.clone();
        async move { redirect(&base, &req) }
    })
}

/// 308 to `base` + the request's path and query (308: a POST stays a POST); 400 when the
/// target cannot be written as a header.
pub fn redirect(base: &str, req: &Request) -> Response {
    let path = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    // An origin-form target starts with '/'; anything else (absolute-form) is not followed.
    let path = if path.starts_with('/') { path } else { "/" };
    match HeaderValue::try_from(format!("{base}{path}")) {
        Ok(location) => (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}
