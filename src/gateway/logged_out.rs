//! What the pages after a sign-out say, above all about the IdP session: whether it ended too,
//! or is still open and how to end it. (The page template is `text::page`.)

use axum::http::StatusCode;
use axum::response::Response;

use crate::text::page::html_page;
use crate::xml::escape::escape;

const AGAIN: &str = "<p><a href=\"/\">Sign in again</a></p>";

/// Signed out here and at the IdP (its LogoutResponse said Success).
pub fn everywhere(idp: &str) -> Response {
    html_page(
        StatusCode::OK,
        "Signed out",
        &format!(
            "<p>You are signed out of this application and of your identity provider ({}).</p>{AGAIN}",
            escape(idp)
        ),
    )
}

/// Signed out here; the IdP has no Single Logout (or it is turned off): its session stays.
pub fn idp_session_still_open(idp: &str) -> Response {
    html_page(
        StatusCode::OK,
        "Signed out of this application",
        &format!(
            concat!(
                "<p>You are signed out of this application.</p>",
                "<p><strong>You are still signed in at your identity provider ({}).</strong> ",
                "Opening this application again will sign you in without asking for your password. ",
                "To end that session too, sign out at your identity provider, or close every window of this browser.</p>{}"
            ),
            escape(idp),
            AGAIN
        ),
    )
}

/// Signed out here; the IdP answered that it could not end its session (or answered nothing
/// we could trust).
pub fn idp_session_may_be_open(idp: &str) -> Response {
    html_page(
        StatusCode::OK,
        "Signed out of this application",
        &format!(
            concat!(
                "<p>You are signed out of this application.</p>",
                "<p><strong>Your identity provider ({}) did not confirm that you are signed out there.</strong> ",
                "To be sure, sign out at your identity provider, or close every window of this browser.</p>{}"
            ),
            escape(idp),
            AGAIN
        ),
    )
}

/// The IdP ended its session and ours, and there is no way to answer it (no endpoint).
pub fn ended_by_idp() -> Response {
    html_page(
        StatusCode::OK,
        "Signed out",
        &format!("<p>Your identity provider signed you out of this application.</p>{AGAIN}"),
    )
}

/// A logout message that was not acted on: nothing was ended.
pub fn refused(status: StatusCode) -> Response {
    html_page(
        status,
        "Sign-out not completed",
        "<p>This sign-out message could not be accepted, so nothing was signed out by it. If you meant to sign out, use the application's Sign out button.</p>",
    )
}
