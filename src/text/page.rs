//! The one template of the pages the gateway writes itself: refusals, backend failures, the IdP
//! chooser, signing out, the session page. Each says what happened in plain words; no detail an attacker could use.

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, Response, StatusCode};

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222;line-height:1.45}h1{font-size:1.5em}code{background:#eee;padding:.1em .3em}.actions{margin-top:1.5em}.actions a,.actions button{margin-right:1em}.reference{color:#555;font-size:.9em}table{border-collapse:collapse}td,th{text-align:left;vertical-align:top;padding:.2em .6em .2em 0}";

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

/// The paragraph that shows a log reference. `reference` must be markup-safe already (the
/// callers' references are hex).
pub fn reference_html(reference: &str) -> String {
    format!(
        "<p class=\"reference\">If this keeps happening, give your administrator this reference: <code id=\"reference\">{reference}</code></p>"
    )
}

/// A row of links and buttons under a page's text (`items_html` is markup the caller escaped).
pub fn actions_html(items_html: &str) -> String {
    format!("<div class=\"actions\">{items_html}</div>")
}
