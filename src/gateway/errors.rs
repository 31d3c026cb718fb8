//! What the browser sees when something is refused. Every SAML rejection gets the same page
//! and status, whatever failed: the detail goes to the log under a reference the user can
//! quote, never to the sender of a forged message.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::routes::DenyReason;
use crate::text::page::{actions_html, reference_html};
use crate::xml::escape::escape;

fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    crate::text::page::html_page(status, title, body_html)
}

/// The one page for every failed login. `reference` is random and appears in the log line;
/// `start` is where signing in starts again (the site's root).
pub fn login_failed(reference: &str, start: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Sign-in failed",
        &format!(
            "<p>The sign-in could not be completed.</p>{}{}",
            actions_html(&format!(
                "<a id=\"start-again\" href=\"{}\">Start again</a>",
                escape(start)
            )),
            reference_html(&escape(reference)),
        ),
    )
}

/// A route rule refused the operator `user`: who they are, what the page needs, what they
/// have, and a Sign out button (a POST to `logout_action`) to switch to another account.
pub fn forbidden(user: &str, reason: &DenyReason, logout_action: &str) -> Response {
    let codes = |names: &[String]| -> String {
        if names.is_empty() {
            return "none".to_string();
        }
        names
            .iter()
            .map(|n| format!("<code>{}</code>", escape(n)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let needs = match reason {
        DenyReason::AccessGroup { need, have, .. } => format!(
            "<p>This page needs the access group {}{}. Yours is <code>{}</code>.</p>",
            if need.len() > 1 { "one of " } else { "" },
            codes(need),
            escape(have)
        ),
        DenyReason::NoRequiredGroup { need, have, .. } => format!(
            "<p>This page needs {} {}. Your groups: {}.</p>",
            if need.len() > 1 {
                "one of the groups"
            } else {
                "the group"
            },
            codes(need),
            codes(have)
        ),
        DenyReason::SessionNotAccepted { .. } => {
            "<p>This address is for API clients with an access token, not for a browser session.</p>"
                .to_string()
        }
        DenyReason::BearerNotAccepted { .. } => {
            "<p>This address does not take access tokens.</p>".to_string()
        }
        DenyReason::MissingScope { missing, .. } => format!(
            "<p>This address needs the scope {}, which the access token does not grant.</p>",
            codes(missing)
        ),
    };
    page(
        StatusCode::FORBIDDEN,
        "Access denied",
        &format!(
            "<p>You are signed in as <strong id=\"user\">{}</strong>, but your account does not have access to this page.</p>{needs}<p>If you need access, ask your administrator. To use another account, sign out and sign in again as that user.</p>{}",
            escape(user),
            actions_html(&format!(
                "<form method=\"post\" action=\"{}\"><button id=\"switch-user\" type=\"submit\">Sign out to switch user</button></form>",
                escape(logout_action)
            )),
        ),
    )
}

/// An API client without a valid session.
pub fn unauthorized_json() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")],
        r#"{"error":"unauthorized","message":"no valid session; sign in through the browser first"}"#,
    )
        .into_response()
}

/// An API client whose operator a route rule refused.
pub fn forbidden_json() -> Response {
    (
        StatusCode::FORBIDDEN,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        r#"{"error":"forbidden","message":"this account does not have access to this resource"}"#,
    )
        .into_response()
}

/// A store or internal failure: fail closed.
pub fn unavailable() -> Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "<p>The sign-in service is temporarily unavailable. Please try again in a moment.</p>",
    )
}

/// Logins for one IdP are refused for now: its metadata expired or was never fetched. The
/// other IdPs keep working; the log and `/readyz` say why.
pub fn idp_not_ready() -> Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in unavailable",
        "<p>Signing in with this identity provider is unavailable right now: the gateway has no \
         current information about it. The administrator has been told; please try again later.</p>",
    )
}

/// A request the gateway cannot make sense of (bad query, unknown IdP name).
pub fn bad_request(message: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Bad request",
        &format!("<p>{}</p>", escape(message)),
    )
}

/// `GET /saml/logout`: the button that signs out (a POST to `action`, checked for our origin).
pub fn sign_out_page(action: &str) -> Response {
    page(
        StatusCode::OK,
        "Sign out",
        &sign_out_form(action, "<p>Sign out of this application?</p>"),
    )
}

/// A sign-out POST that did not come from our own page: nothing was ended.
pub fn sign_out_refused(action: &str) -> Response {
    page(
        StatusCode::FORBIDDEN,
        "Sign-out refused",
        &sign_out_form(
            action,
            "<p>This sign-out request did not come from this site, so you are still signed in. To sign out, use the button below.</p>",
        ),
    )
}

fn sign_out_form(action: &str, intro_html: &str) -> String {
    format!(
        "{intro_html}{}",
        actions_html(&format!(
            "<form method=\"post\" action=\"{}\"><button type=\"submit\">Sign out</button></form>",
            escape(action)
        ))
    )
}

/// After a local logout.
pub fn signed_out() -> Response {
    page(
        StatusCode::OK,
        "Signed out",
        "<p>You are signed out of this application.</p><p><a href=\"/\">Sign in again</a></p>",
    )
}
