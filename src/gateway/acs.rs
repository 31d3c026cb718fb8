//! `POST /saml/acs`: the IdP's Response comes back; a session goes out.
//!
//! Reads top-down: size-capped form -> which login this answers (RelayState, bound to the
//! browser) -> `saml::response::validate` -> replay cache -> mapping -> a NEW session ID ->
//! redirect to the stored return path. Every refusal answers the same page; the reason goes to
//! the log line and to `samlgate_rejections_total{kind}`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use crate::config::Idp;
use crate::ops::audit;
use crate::saml::VerifiedAssertion;
use crate::saml::policy::ExpectedRequest;
use crate::saml::rejection::{PolicyFailure, Rejection, ReplayFailure};
use crate::saml::response::validate;
use crate::saml::time::format_instant;
use crate::store::SessionIndexKey;
use crate::store::replay::Seen;

use super::cookies;
use super::errors;
use super::identity;
use super::relay_state::{PendingLogin, RelayStateError, random_token};
use super::session::{self, SessionRecord};
use super::state::AppState;

/// The two fields of the HTTP-POST binding.
#[derive(Debug, Default)]
struct AcsForm {
    saml_response: Option<Vec<u8>>,
    relay_state: Option<String>,
    duplicated: bool,
}

fn parse_form(body: &[u8]) -> AcsForm {
    let mut form = AcsForm::default();
    for (k, v) in url::form_urlencoded::parse(body) {
        match k.as_ref() {
            "SAMLResponse" => {
                form.duplicated |= form.saml_response.is_some();
                form.saml_response = Some(v.into_owned().into_bytes());
            }
            "RelayState" => {
                form.duplicated |= form.relay_state.is_some();
                form.relay_state = Some(v.into_owned());
            }
            _ => {}
        }
    }
    form
}

/// A refusal: log line with the detail, metric by kind, the generic page.
fn refuse(state: &AppState, idp: &str, kind: &str, detail: &str) -> Response {
    let reference: String = random_token().chars().take(12).collect();
    audit::rejection(idp, kind, &reference, detail);
    state
        .metrics
        .inc("samlgate_rejections_total", &[("idp", idp), ("kind", kind)]);
    errors::login_failed(&reference)
}

fn refuse_rejection(state: &AppState, idp: &str, r: &Rejection) -> Response {
    refuse(state, idp, r.kind(), &r.to_string())
}

pub async fn acs(
    State(state): State<Arc<AppState>>,
    session: Session,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match axum::body::to_bytes(body, state.config.server.max_acs_body).await {
        Ok(b) => b,
        Err(e) => {
            let detail = format!(
                "ACS POST body unreadable or over {} bytes: {e}",
                state.config.server.max_acs_body
            );
            return refuse(&state, "unknown", "body_too_large", &detail);
        }
    };
    let form = parse_form(&bytes);
    if form.duplicated {
        return refuse(
            &state,
            "unknown",
            "malformed_form",
            "SAMLResponse or RelayState appears more than once in the ACS form",
        );
    }
    let Some(saml_response) = form.saml_response else {
        return refuse(
            &state,
            "unknown",
            "malformed_form",
            "the ACS form has no SAMLResponse",
        );
    };
    let now = state.now();

    // Which login does this answer?
    let browser = cookies::get(
        &headers,
        cookies::login_cookie_name(state.config.server.is_https()),
    );
    let mut relay_note = "no RelayState";
    let pending: Option<PendingLogin> = match form.relay_state.as_deref() {
        Some(key) if cookies::is_token(key) => match state.pending.take(key, browser, now).await {
            Ok(p) => Some(p),
            Err(RelayStateError::Unknown(_)) => {
                relay_note = "RelayState unknown, expired or already used";
                None
            }
            Err(e @ (RelayStateError::Store(_) | RelayStateError::Full(_))) => {
                tracing::error!("pending-login store unavailable, refusing the login: {e}");
                return errors::unavailable();
            }
            Err(e) => {
                return refuse(
                    &state,
                    "unknown",
                    "relay_state_other_browser",
                    &e.to_string(),
                );
            }
        },
        Some(_) => {
            relay_note = "RelayState is not one samlgate issued";
            None
        }
        None => None,
    };

    let (idp, verified, return_to) = match pending {
        Some(p) => {
            let Some(idp) = state.idp(&p.idp) else {
                return refuse(
                    &state,
                    &p.idp,
                    "unknown_idp",
                    "the login was started for an IdP no longer configured",
                );
            };
            match validate(
                &saml_response,
                &idp.policy,
                &state.sp,
                ExpectedRequest::Solicited(&p.request_id),
                now,
            ) {
                Ok(v) => (idp, v, p.return_to),
                Err(r) => return refuse_rejection(&state, &idp.name, &r),
            }
        }
        None => match unsolicited(&state, &saml_response, now) {
            Ok((idp, v)) => (idp, v, "/".to_string()),
            Err((idp, r)) => {
                let detail = format!("{r} ({relay_note})");
                return refuse(&state, &idp, r.kind(), &detail);
            }
        },
    };

    // One Assertion, one login: atomic insert of (IdP, Assertion ID).
    match state
        .replay
        .insert(
            verified.idp_entity_id(),
            &verified.assertion_id,
            verified.replay_until,
            now,
        )
        .await
    {
        Ok(Seen::First) => {}
        Ok(Seen::Again) => {
            let r = Rejection::Replay(ReplayFailure {
                idp: verified.idp_entity_id().to_string(),
                assertion_id: verified.assertion_id.clone(),
            });
            return refuse_rejection(&state, &idp.name, &r);
        }
        Err(e) => {
            tracing::error!(idp = %idp.name, "replay cache unavailable, refusing the login: {e}");
            return errors::unavailable();
        }
    }

    let identity = match identity::map(idp, &verified) {
        Ok(i) => i,
        Err(e) => {
            let kind = format!("mapping_{}", e.kind());
            return refuse(&state, &idp.name, &kind, &e.to_string());
        }
    };

    let not_after = session::not_after(
        now,
        state.config.session.absolute_timeout,
        verified.session_not_on_or_after,
    );
    if not_after <= now {
        let detail = format!(
            "SessionNotOnOrAfter {} is not after now {}",
            format_instant(not_after),
            format_instant(now)
        );
        return refuse(&state, &idp.name, "session_not_on_or_after_passed", &detail);
    }
    let record = SessionRecord {
        identity,
        idp: idp.name.clone(),
        idp_entity_id: verified.idp_entity_id().to_string(),
        name_id: verified.name_id().value.clone(),
        session_index: verified.session_index.clone(),
        created: now,
        last_seen: now,
        not_after,
    };
    if let Err(e) = session::establish(&session, &record, &state.session_cache).await {
        tracing::error!(idp = %idp.name, "cannot store the session: {e}");
        return errors::unavailable();
    }
    if let Err(e) = index_session(&state, &session, &verified, &record, now).await {
        tracing::error!(idp = %idp.name, "cannot index the session for single logout: {e}");
        let _ = session.flush().await;
        return errors::unavailable();
    }
    audit::login(
        &idp.name,
        &record.identity.user,
        &record.identity.access_group,
        &verified.assertion_id,
        &format_instant(not_after),
    );
    state
        .metrics
        .inc("samlgate_logins_total", &[("idp", &idp.name)]);
    let location = HeaderValue::from_str(&return_to).unwrap_or(HeaderValue::from_static("/"));
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}

/// IdP-initiated login: try each IdP that allows it. Only a Response whose signature verifies
/// with that IdP's keys can pass, so trying several cannot mix them up.
fn unsolicited<'s>(
    state: &'s AppState,
    saml_response: &[u8],
    now: time::OffsetDateTime,
) -> Result<(&'s Idp, VerifiedAssertion), (String, Rejection)> {
    let mut first_error: Option<(String, Rejection)> = None;
    for idp in state.config.idps.iter().filter(|i| i.allow_idp_initiated) {
        match validate(
            saml_response,
            &idp.policy,
            &state.sp,
            ExpectedRequest::Unsolicited,
            now,
        ) {
            Ok(v) => return Ok((idp, v)),
            Err(r) => {
                if first_error.is_none() {
                    first_error = Some((idp.name.clone(), r));
                }
            }
        }
    }
    Err(first_error.unwrap_or_else(|| {
        (
            "unknown".to_string(),
            PolicyFailure::UnsolicitedNotAllowed {
                idp: "any configured IdP".to_string(),
            }
            .into(),
        )
    }))
}

/// Record the new session under (IdP, NameID, SessionIndex), so single logout can find it on
/// any node.
async fn index_session(
    state: &AppState,
    session: &Session,
    verified: &VerifiedAssertion,
    record: &SessionRecord,
    now: time::OffsetDateTime,
) -> Result<(), crate::store::StoreError> {
    let Some(id) = session.id() else {
        return Err(crate::store::StoreError::Unavailable(
            "the saved session has no ID".into(),
        ));
    };
    let name_id = verified.name_id();
    let key = SessionIndexKey {
        idp_entity_id: record.idp_entity_id.clone(),
        name_id: name_id.value.clone(),
        name_id_format: name_id.format.clone(),
        name_qualifier: name_id.name_qualifier.clone(),
        sp_name_qualifier: name_id.sp_name_qualifier.clone(),
        session_index: record.session_index.clone(),
    };
    state
        .session_index
        .add(&key, &id.to_string(), record.not_after, now)
        .await
}
