//! `GET /saml/session` (with `[server] session_page = true`): the signed-in person's own session,
//! as Shibboleth's `/Shibboleth.sso/Session` shows it: who they are, the IdP, the attributes it
//! sent, the access group and the mapping rule that chose it, the exact identity headers the
//! backend receives, and when the session ends. JSON for `Accept: application/json`.
//!
//! It shows a person only what their own login brought (the IdP sent it to their browser
//! already), so it needs no rule of its own; it is off by default because some deployments
//! would rather not show the mapping's rules at all.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tower_sessions::Session;

use super::errors;
use super::state::AppState;
use crate::session::{CacheLookup, SignedIn};
use crate::text::page::{actions_html, html_page};
use crate::xml::escape::escape;

/// The session as the page shows it (and as the JSON says it, field for field).
#[derive(Serialize)]
struct SessionView<'a> {
    signed_in: bool,
    user: &'a str,
    name: Option<&'a str>,
    email: Option<&'a str>,
    idp: &'a str,
    idp_entity_id: &'a str,
    name_id: &'a str,
    name_id_format: Option<&'a str>,
    access_group: &'a str,
    /// The mapping rule that chose the access group.
    matched_rule: Option<&'a str>,
    groups: Vec<&'a str>,
    /// The identity headers exactly as the backend receives them: name, value.
    headers: Vec<(String, String)>,
    /// The attributes the IdP sent: name, values.
    attributes: Vec<(&'a str, &'a [String])>,
    signed_in_at: String,
    last_request_at: String,
    /// The earlier of the absolute end and the idle timeout from the last request.
    expires_at: String,
}

/// `GET /saml/session`.
pub async fn show(
    State(state): State<Arc<AppState>>,
    session: Session,
    headers: HeaderMap,
) -> Response {
    let json = wants_json(&headers);
    let signed_in = match state
        .sessions
        .identity_of(&session, CacheLookup::Consult)
        .await
    {
        Ok(signed_in) => signed_in,
        Err(e) => {
            tracing::error!("session lookup: {e}");
            return errors::unavailable();
        }
    };
    let Some(signed_in) = signed_in else {
        return not_signed_in(&state, json);
    };
    let view = view(&signed_in, state.config.session.idle_timeout);
    if json {
        return (
            StatusCode::OK,
            [
                (CONTENT_TYPE, "application/json"),
                (CACHE_CONTROL, "no-store"),
            ],
            serde_json::to_string(&view).unwrap_or_default(),
        )
            .into_response();
    }
    html_page(
        StatusCode::OK,
        "Your session",
        &page_html(&view, &state.config.server.url_for("/saml/logout")),
    )
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("application/json"))
}

fn not_signed_in(state: &AppState, json: bool) -> Response {
    if json {
        return (
            StatusCode::UNAUTHORIZED,
            [
                (CONTENT_TYPE, "application/json"),
                (CACHE_CONTROL, "no-store"),
            ],
            r#"{"signed_in":false}"#,
        )
            .into_response();
    }
    html_page(
        StatusCode::UNAUTHORIZED,
        "Not signed in",
        &format!(
            "<p>You are not signed in to this application.</p>{}",
            actions_html(&format!(
                "<a id=\"sign-in\" href=\"{}\">Sign in</a>",
                escape(
                    &state
                        .config
                        .server
                        .url_for("/saml/login?return_to=/saml/session")
                )
            ))
        ),
    )
}

fn instant(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

fn view(s: &SignedIn, idle_timeout: time::Duration) -> SessionView<'_> {
    let (idp, idp_entity_id) = s.idp();
    let (created, last_seen, not_after) = s.instants();
    let idle_end = last_seen.saturating_add(idle_timeout.whole_seconds());
    let id = &s.identity;
    SessionView {
        signed_in: true,
        user: &id.user,
        name: id.name.as_deref(),
        email: id.email.as_deref(),
        idp,
        idp_entity_id,
        name_id: s.name_id(),
        name_id_format: s.details().and_then(|d| d.name_id_format.as_deref()),
        access_group: &id.access_group,
        matched_rule: s.details().map(|d| d.matched_rule.as_str()),
        groups: id.groups.iter().map(|g| g.as_str()).collect(),
        headers: s
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        attributes: s
            .details()
            .map(|d| {
                d.attributes
                    .iter()
                    .map(|(name, values)| (name.as_str(), values.as_slice()))
                    .collect()
            })
            .unwrap_or_default(),
        signed_in_at: instant(created),
        last_request_at: instant(last_seen),
        expires_at: instant(not_after.min(idle_end)),
    }
}

/// `value` quoted, so that spaces and empty values show.
fn quoted(value: &str) -> String {
    format!("<code>&quot;{}&quot;</code>", escape(value))
}

fn row(label: &str, value_html: &str) -> String {
    format!("<tr><th>{label}</th><td>{value_html}</td></tr>")
}

fn page_html(v: &SessionView<'_>, logout_action: &str) -> String {
    let or_none = |value: Option<&str>| value.map_or_else(|| "none".to_string(), quoted);
    let list = |values: &mut dyn Iterator<Item = &str>| {
        let items: Vec<String> = values.map(quoted).collect();
        if items.is_empty() {
            "none".to_string()
        } else {
            items.join(", ")
        }
    };
    let mut who = String::new();
    who.push_str(&row("Signed in as", &quoted(v.user)));
    who.push_str(&row("Name", &or_none(v.name)));
    who.push_str(&row("Email", &or_none(v.email)));
    who.push_str(&row(
        "Identity provider",
        &format!("{} ({})", escape(v.idp), quoted(v.idp_entity_id)),
    ));
    let format = v
        .name_id_format
        .map(|f| format!(" ({})", escape(f)))
        .unwrap_or_default();
    who.push_str(&row("NameID", &format!("{}{format}", quoted(v.name_id))));
    who.push_str(&row("Access group", &quoted(v.access_group)));
    who.push_str(&row(
        "Chosen by",
        &v.matched_rule
            .map_or_else(|| "not recorded for this session".to_string(), escape),
    ));
    who.push_str(&row("Groups", &list(&mut v.groups.iter().copied())));
    who.push_str(&row("Signed in at", &escape(&v.signed_in_at)));
    who.push_str(&row("Last request", &escape(&v.last_request_at)));
    who.push_str(&row("Session ends", &escape(&v.expires_at)));

    let headers: String = v
        .headers
        .iter()
        .map(|(name, value)| {
            format!(
                "<tr class=\"header\"><th>{}</th><td>{}</td></tr>",
                escape(name),
                quoted(value)
            )
        })
        .collect();
    let attributes = if v.attributes.is_empty() {
        "<p>Not recorded for this session (it began before the session page was turned on).</p>"
            .to_string()
    } else {
        let rows: String = v
            .attributes
            .iter()
            .map(|(name, values)| {
                format!(
                    "<tr class=\"attribute\"><th>{}</th><td>{}</td></tr>",
                    escape(name),
                    list(&mut values.iter().map(String::as_str))
                )
            })
            .collect();
        format!("<table>{rows}</table>")
    };
    format!(
        "<table id=\"session\">{who}</table><h2>Headers the application receives</h2><table id=\"headers\">{headers}</table><h2>Attributes the identity provider sent</h2>{attributes}{}",
        actions_html(&format!(
            "<form method=\"post\" action=\"{}\"><button type=\"submit\">Sign out</button></form>",
            escape(logout_action)
        ))
    )
}
