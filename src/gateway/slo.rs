//! `/saml/slo`: Single Logout's front channel, both bindings (`GET`: HTTP-Redirect, `POST`:
//! HTTP-POST).
//!
//! A LogoutRequest here comes from the IdP (IdP-initiated logout): `saml::logout` checks it
//! (signature by the IdP named as Issuer, Destination, times) off the event loops, its ID is
//! used once (replay store), then every session of that IdP + NameID (+ SessionIndex when
//! given) ends on every node ([`end_subject`]: the session index finds them, `Sessions::end_ids`
//! deletes them and the caches follow), and the browser goes back to the IdP with our signed
//! LogoutResponse and the `RelayState` exactly as it came. Nothing is ended for a request that
//! fails a check.
//!
//! A LogoutResponse here answers the LogoutRequest this browser took to the IdP when it signed
//! out ([`super::logout`]): see [`answered`].

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use time::OffsetDateTime;

use super::cookies;
use super::logged_out;
use super::message_body::MessageBodyError;
use super::pending_logout::PendingLogout;
use super::relay_state::random_token;
use super::state::AppState;
use crate::config::Idp;
use crate::ops::audit;
use crate::saml::logout::binding::{
    Inbound, InboundKind, Outbound, SigningKey, encode, from_post_form, from_redirect_query,
};
use crate::saml::logout::validate::claimed_issuer;
use crate::saml::logout::{
    LogoutRejection, LogoutResponse, LogoutStatus, SloEndpoint, VerifiedLogoutRequest,
    validate_logout_request, validate_logout_response,
};
use crate::saml::metadata::{Binding, Endpoint};
use crate::saml::request::new_request_id;
use crate::server::offload::OffloadError;
use crate::session::EndedSessions;
use crate::store::SessionIndexKey;
use crate::store::replay::Seen;

/// Why a logout message at `/saml/slo` was not acted on.
#[derive(Debug, thiserror::Error)]
pub enum SloError {
    #[error("IdP {idp}: {rejection}")]
    Rejected {
        idp: String,
        rejection: LogoutRejection,
    },
    #[error(
        "IdP {idp} sent a LogoutRequest, but Single Logout is off for it ([[idp]] slo = false)"
    )]
    SloOff { idp: String },
    #[error(
        "a LogoutResponse arrived, but this browser has no sign-out in progress (no or an unreadable logout cookie)"
    )]
    NoLogoutInProgress,
    #[error("IdP {idp} is no longer configured")]
    IdpGone { idp: String },
    #[error("the gateway could not decide: {0}")]
    Unavailable(String),
}

impl SloError {
    pub fn kind(&self) -> &'static str {
        match self {
            SloError::Rejected { rejection, .. } => rejection.kind(),
            SloError::SloOff { .. } => "slo_off",
            SloError::NoLogoutInProgress => "no_logout_in_progress",
            SloError::IdpGone { .. } => "idp_gone",
            SloError::Unavailable(_) => "unavailable",
        }
    }

    fn idp(&self) -> &str {
        match self {
            SloError::Rejected { idp, .. }
            | SloError::SloOff { idp }
            | SloError::IdpGone { idp } => idp,
            _ => "unknown",
        }
    }
}

/// `GET /saml/slo`: HTTP-Redirect. The query is read exactly as it arrived (the signature covers
/// those octets).
pub async fn redirect(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let query = uri.query().unwrap_or_default();
    match from_redirect_query(query) {
        Ok(inbound) => dispatch(&state, &headers, inbound).await,
        Err(rejection) => refuse(&state, &rejected("unknown", rejection)),
    }
}

/// `POST /saml/slo`: HTTP-POST.
pub async fn post(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let body = match super::message_body::read(&state, body).await {
        Ok(b) => b,
        Err(e @ MessageBodyError::TooSlow { .. }) => {
            return super::message_body::too_slow("single logout", &e);
        }
        Err(e) => {
            tracing::warn!("single logout: {e}");
            return logged_out::refused(StatusCode::PAYLOAD_TOO_LARGE);
        }
    };
    match from_post_form(&body) {
        Ok(inbound) => dispatch(&state, &headers, inbound).await,
        Err(rejection) => refuse(&state, &rejected("unknown", rejection)),
    }
}

pub(super) fn rejected(idp: &str, rejection: LogoutRejection) -> SloError {
    SloError::Rejected {
        idp: idp.to_string(),
        rejection,
    }
}

async fn dispatch(state: &Arc<AppState>, headers: &HeaderMap, inbound: Inbound) -> Response {
    match inbound.kind {
        InboundKind::Request => match idp_initiated(state, inbound).await {
            Ok(answer) => answer,
            Err(e) => refuse(state, &e),
        },
        InboundKind::Response => answered(state, headers, inbound).await,
    }
}

/// The IdP asks us to end its user's sessions.
async fn idp_initiated(state: &Arc<AppState>, inbound: Inbound) -> Result<Response, SloError> {
    let now = state.now();
    let shared = Arc::clone(state);
    let verified = state
        .acs_work
        .run(move || verify_request(&shared, &inbound, &slo_url(&shared), now))
        .await
        .map_err(|e: OffloadError| SloError::Unavailable(e.to_string()))??;
    let idp = slo_idp(state, &verified)?;
    let status = act_on(state, idp, &verified, now).await?;
    Ok(answer_idp(state, idp, &verified, status, now))
}

/// The configured IdP that issued a verified request, if Single Logout is on for it.
pub(super) fn slo_idp<'s>(
    state: &'s AppState,
    verified: &VerifiedLogoutRequest,
) -> Result<&'s Idp, SloError> {
    let idp = state
        .config
        .idps
        .iter()
        .find(|i| i.policy.entity_id == verified.idp_entity_id)
        .ok_or_else(|| SloError::IdpGone {
            idp: verified.idp_entity_id.clone(),
        })?;
    if state.slo_endpoints(idp).is_empty() {
        return Err(SloError::SloOff {
            idp: idp.name.clone(),
        });
    }
    Ok(idp)
}

/// A verified LogoutRequest, used once: its subject's sessions end, audited and counted.
/// Returns the status the answer carries.
pub(super) async fn act_on(
    state: &AppState,
    idp: &Idp,
    verified: &VerifiedLogoutRequest,
    now: OffsetDateTime,
) -> Result<LogoutStatus, SloError> {
    use_once(state, idp, verified, now).await?;
    let (ended, index_failed) = end_subject(state, verified, now).await;
    audit::single_logout(
        &idp.name,
        &verified.name_id.value,
        "idp",
        ended.ended,
        ended.failed,
    );
    state.metrics.inc(
        "samlgate_single_logouts_total",
        &[("idp", &idp.name), ("started_by", "idp")],
    );
    for _ in 0..ended.ended {
        state.metrics.inc(
            "samlgate_single_logout_sessions_ended_total",
            &[("idp", &idp.name)],
        );
    }
    Ok(if ended.failed > 0 || index_failed {
        LogoutStatus::PartialLogout
    } else {
        LogoutStatus::Success
    })
}

pub(super) fn verify_request(
    state: &AppState,
    inbound: &Inbound,
    url: &str,
    now: OffsetDateTime,
) -> Result<VerifiedLogoutRequest, SloError> {
    // The keys of each IdP's metadata in use now: a rotation followed by a refresh applies here too.
    let current: Vec<_> = state
        .config
        .idps
        .iter()
        .filter_map(|i| state.current_policy(i, now))
        .collect();
    let policies: Vec<_> = current.iter().collect();
    validate_logout_request(inbound, &policies, SloEndpoint { sp: &state.sp, url }, now).map_err(
        |rejection| {
            // Named after the IdP it claims to come from, when that is a configured one.
            let claimed = claimed_issuer(inbound);
            let idp = state
                .config
                .idps
                .iter()
                .find(|i| claimed.as_deref() == Some(i.policy.entity_id.as_str()))
                .map_or("unknown", |i| i.name.as_str());
            rejected(idp, rejection)
        },
    )
}

/// The URL of `/saml/slo` as IdPs address it.
pub fn slo_url(state: &AppState) -> String {
    state.config.server.url_for("/saml/slo")
}

/// A LogoutRequest ID acts once. Kept in the replay store beside Assertion IDs, under a prefix
/// no XML ID can carry (`:` is not allowed in an xs:ID), so the two never meet.
pub(super) async fn use_once(
    state: &AppState,
    idp: &Idp,
    verified: &VerifiedLogoutRequest,
    now: OffsetDateTime,
) -> Result<(), SloError> {
    let key = format!("LogoutRequest:{}", verified.id);
    let seen = state
        .replay
        .insert(&verified.idp_entity_id, &key, verified.replay_until, now)
        .await
        .map_err(|e| SloError::Unavailable(format!("replay store: {e}")))?;
    match seen {
        Seen::First => Ok(()),
        Seen::Again => Err(rejected(
            &idp.name,
            LogoutRejection::Replay {
                idp: verified.idp_entity_id.clone(),
                id: verified.id.clone(),
            },
        )),
    }
}

/// End every session of the request's subject: of its SessionIndexes when it names some, else
/// every session of the NameID. Returns what ended, and whether the index itself failed.
pub async fn end_subject(
    state: &AppState,
    verified: &VerifiedLogoutRequest,
    now: OffsetDateTime,
) -> (EndedSessions, bool) {
    let subject = SessionIndexKey {
        idp_entity_id: verified.idp_entity_id.clone(),
        name_id: verified.name_id.value.clone(),
        name_id_format: verified.name_id.format.clone(),
        name_qualifier: verified.name_id.name_qualifier.clone(),
        sp_name_qualifier: verified.name_id.sp_name_qualifier.clone(),
        session_index: None,
    };
    let keys: Vec<SessionIndexKey> = if verified.session_indexes.is_empty() {
        vec![subject]
    } else {
        verified
            .session_indexes
            .iter()
            .map(|index| SessionIndexKey {
                session_index: Some(index.clone()),
                ..subject.clone()
            })
            .collect()
    };
    let mut ids = Vec::new();
    let mut index_failed = false;
    for key in &keys {
        match state.session_index.take(key, now).await {
            Ok(found) => ids.extend(found),
            Err(e) => {
                tracing::error!("single logout: session index: {e}");
                index_failed = true;
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    (state.sessions.end_ids(&ids).await, index_failed)
}

/// The IdP's SLO endpoint (of `slo`, from `AppState::slo_endpoints`) for `binding`, else its
/// first; where its responses go.
pub fn endpoint_for<'e>(slo: &'e [Endpoint], binding: &Binding) -> Option<&'e Endpoint> {
    slo.iter()
        .find(|e| &e.binding == binding)
        .or_else(|| slo.first())
}

/// Our signed LogoutResponse, back to the IdP by the binding the request came by (when its
/// metadata offers it), with the RelayState as it came.
fn answer_idp(
    state: &AppState,
    idp: &Idp,
    verified: &VerifiedLogoutRequest,
    status: LogoutStatus,
    now: OffsetDateTime,
) -> Response {
    let slo = state.slo_endpoints(idp);
    let Some(endpoint) = endpoint_for(&slo, &verified.binding) else {
        return logged_out::ended_by_idp();
    };
    let destination = endpoint
        .response_location
        .clone()
        .unwrap_or_else(|| endpoint.location.clone());
    let response = LogoutResponse {
        id: new_request_id(),
        issue_instant: now,
        destination: destination.clone(),
        in_response_to: verified.id.clone(),
        issuer: state.config.sp.entity_id.clone(),
        status,
    };
    let signing = SigningKey {
        key: &state.config.sp.key.key,
        certificate: Some(&state.config.sp.cert),
    };
    match encode(
        &endpoint.binding,
        &destination,
        InboundKind::Response,
        &response.to_xml(),
        verified.relay_state.as_deref(),
        Some(signing),
    ) {
        Ok(outbound) => send(outbound),
        Err(e) => {
            tracing::error!(idp = %idp.name, "single logout: signing the LogoutResponse: {e}");
            logged_out::ended_by_idp()
        }
    }
}

/// A logout message on its way to the IdP: a 303 or an auto-submitting form.
pub fn send(outbound: Outbound) -> Response {
    match outbound {
        Outbound::Redirect(url) => match HeaderValue::from_str(&url) {
            Ok(location) => (
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, location),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
            )
                .into_response(),
            Err(_) => logged_out::refused(StatusCode::INTERNAL_SERVER_ERROR),
        },
        Outbound::Post(page) => (
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            Html(page),
        )
            .into_response(),
    }
}

/// The IdP's LogoutResponse to the LogoutRequest this browser took there when it signed out:
/// checked against the request ID sealed in this browser's logout cookie, so a response meant
/// for another browser (or none) is refused. The page says whether the IdP session ended; it
/// never redirects anywhere, whatever the RelayState says.
async fn answered(state: &Arc<AppState>, headers: &HeaderMap, inbound: Inbound) -> Response {
    let https = state.config.server.is_https();
    let clear = cookies::clear_logout_cookie(https);
    let with_clear = |mut page: Response| {
        if let Ok(v) = HeaderValue::from_str(&clear) {
            page.headers_mut().append(header::SET_COOKIE, v);
        }
        page
    };
    let now = state.now();
    let pending = cookies::get(headers, cookies::logout_cookie_name(https))
        .and_then(|c| PendingLogout::open(c, &state.login_seal, now));
    let Some(pending) = pending else {
        return with_clear(refuse(state, &SloError::NoLogoutInProgress));
    };
    let Some(idp) = state.idp(&pending.idp) else {
        return with_clear(refuse(
            state,
            &SloError::IdpGone {
                idp: pending.idp.clone(),
            },
        ));
    };
    let url = slo_url(state);
    let slo = SloEndpoint {
        sp: &state.sp,
        url: &url,
    };
    let Some(policy) = state.current_policy(idp, now) else {
        return with_clear(refuse(
            state,
            &SloError::IdpGone {
                idp: pending.idp.clone(),
            },
        ));
    };
    match validate_logout_response(&inbound, &policy, slo, &pending.request_id, now) {
        Ok(verified) => {
            let ended_at_idp = verified.status.is_ok();
            if let Err(status) = &verified.status {
                tracing::warn!(idp = %idp.name, "single logout: the IdP did not end its session: {status}");
            }
            audit::single_logout_answered(&idp.name, ended_at_idp);
            state.metrics.inc(
                "samlgate_single_logouts_total",
                &[("idp", &idp.name), ("started_by", "sp")],
            );
            with_clear(if ended_at_idp {
                logged_out::everywhere(&idp.name)
            } else {
                logged_out::idp_session_may_be_open(&idp.name)
            })
        }
        Err(rejection) => with_clear(refuse(state, &rejected(&idp.name, rejection))),
    }
}

/// A logout message not acted on: the reason in the log and the audit trail, a metric by kind,
/// a generic page for the browser.
pub(super) fn refuse(state: &AppState, e: &SloError) -> Response {
    record_refusal(state, e);
    if let SloError::Unavailable(_) = e {
        return super::errors::unavailable();
    }
    logged_out::refused(StatusCode::BAD_REQUEST)
}

/// The log line, the audit line and the metric of a refusal.
pub(super) fn record_refusal(state: &AppState, e: &SloError) {
    if let SloError::Unavailable(detail) = e {
        tracing::error!("single logout: {detail}");
        return;
    }
    let reference: String = random_token().chars().take(12).collect();
    let kind = e.kind();
    audit::logout_rejection(e.idp(), kind, &reference, &e.to_string());
    state.metrics.inc(
        "samlgate_logout_rejections_total",
        &[("idp", e.idp()), ("kind", kind)],
    );
}
