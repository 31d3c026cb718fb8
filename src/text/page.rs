//! The one template of the pages the gateway writes itself: refusals, backend failures, the IdP
//! chooser. Each says what happened in plain words; no detail an attacker could use.

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, Response, StatusCode};

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;color:#222}code{background:#eee;padding:.1em .3em}";

/// A page with `title` (plain text the caller wrote, not escaped here) and `body_html` (markup
/// whose variable parts the caller escaped), never cached.
pub fn html_page(status: StatusCode, title: &str, body_html: &str) -> Response<Body> {
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title><style>{STYLE}</style></head><body><h1>{title}</h1>{body_html}</body></html>\n"
    );
    let mut response = Response::new(Body::from(html));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
