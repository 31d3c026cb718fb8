//! `POST /saml/acs`: the IdP's Response comes back; a session goes out.
//!
//! Reads top-down ([`sign_in`]): size-capped body -> [`verify`] off the event loops (form ->
//! which login this answers, from the browser's sealed login cookie -> `saml::response::validate`
//! -> mapping) -> [`mark_used`] (AuthnRequest ID, then Assertion ID, in the replay cache) -> a NEW
//! session ID -> redirect to the login's return path. Nothing is written for a POST whose
//! Response does not verify. Every refusal is an [`AcsError`]: the browser gets the same page
//! whatever failed; the reason goes to the log line and to `samlgate_rejections_total{kind}`.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::{Duration, OffsetDateTime};
use tower_sessions::Session;

use crate::config::Idp;
use crate::saml::key_set::KeyFact;

use super::idp_sources::KeyChange;
use crate::ops::audit;
use crate::saml::VerifiedAssertion;
use crate::saml::policy::ExpectedRequest;
use crate::saml::rejection::{PolicyFailure, Rejection, ReplayFailure};
use crate::saml::response::validate;
use crate::saml::time::format_instant;
use crate::store::replay::Seen;
use crate::store::{SessionIndexKey, StoreError};

pub use super::acs_error::{AcsError, FormError};
use super::cookies;
use super::errors;
use super::message_body::MessageBodyError;
use super::relay_state::{PendingLogin, PendingLogins, is_relay_token, random_token};
use super::state::AppState;
use crate::identity::Operator;
use crate::server::offload::OffloadError;
use crate::session::{self, LoginDetails, SessionRecord};

/// An answered AuthnRequest ID stays in the replay cache this long past its login's expiry, so a
/// node whose clock runs behind the one that started the login still finds it there.
const REQUEST_ID_CLOCK_MARGIN: Duration = Duration::minutes(5);

/// `GET /saml/acs`: someone followed or bookmarked the ACS address. Only the IdP's POST belongs
/// here; the page says so and where to go instead (405, `Allow: POST`).
pub async fn explain() -> Response {
    let mut page = crate::text::page::html_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "Nothing to see here",
        "<p>This address receives the sign-in response your identity provider sends after you \
         sign in; a browser does not open it directly.</p>\
         <p>To sign in, open the application's <a href=\"/\">start page</a>.</p>",
    );
    page.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    page
}

pub async fn acs(
    State(state): State<Arc<AppState>>,
    session: Session,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match sign_in(&state, &session, &headers, body).await {
        Ok(signed_in) => signed_in,
        Err(AcsError::BodyTooSlow(e)) => {
            state.metrics.inc(
                "samlgate_rejections_total",
                &[("idp", "unknown"), ("kind", "body_too_slow")],
            );
            super::message_body::too_slow("ACS", &e)
        }
        Err(e) => refuse(&state, &e),
    }
}

async fn sign_in(
    state: &Arc<AppState>,
    session: &Session,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, AcsError> {
    let body = read_body(state, body).await?;
    let now = state.now();
    let https = state.config.server.is_https();
    let login_cookie = cookies::get(headers, cookies::login_cookie_name(https)).map(str::to_string);
    let login = off_the_event_loop(state, move |state| {
        verify(state, &body, login_cookie.as_deref(), now)
    })
    .await?;
    mark_used(state, &login, now).await?;
    establish_session(state, session, &login, now).await?;
    Ok(back_to_the_app(state, login, now))
}

/// A Response that verified, mapped to the identity the session will hold.
struct VerifiedLogin {
    /// The IdP's configured name.
    idp: String,
    verified: VerifiedAssertion,
    identity: Operator,
    /// The mapping rule that chose the access group.
    matched_rule: crate::mapping::MatchedRule,
    not_after: OffsetDateTime,
    /// SP-initiated: the login it answers, and the browser's other logins in flight.
    answered: Option<Answered>,
}

struct Answered {
    login: PendingLogin,
    others: PendingLogins,
}

async fn read_body(state: &AppState, body: Body) -> Result<Bytes, AcsError> {
    super::message_body::read(state, body)
        .await
        .map_err(|e| match e {
            MessageBodyError::TooLarge { limit, detail } => AcsError::Body { limit, detail },
            e @ MessageBodyError::TooSlow { .. } => AcsError::BodyTooSlow(e),
        })
}

/// Run `work` (decode, parse, verify, decrypt, map: CPU-heavy on hostile input) off the event
/// loops, at most `[server] acs_concurrency` at once (see [`crate::server::offload`]).
async fn off_the_event_loop<T: Send + 'static>(
    state: &Arc<AppState>,
    work: impl FnOnce(&AppState) -> Result<T, AcsError> + Send + 'static,
) -> Result<T, AcsError> {
    let shared = Arc::clone(state);
    match state.acs_work.run(move || work(&shared)).await {
        Ok(result) => result,
        Err(OffloadError::Busy { waited, slots, .. }) => Err(AcsError::Busy { waited, slots }),
        Err(e @ OffloadError::Failed { .. }) => Err(AcsError::Unavailable {
            idp: "unknown".into(),
            what: "ACS validation task",
            detail: e.to_string(),
        }),
    }
}

/// Everything about the POST that needs no store: which login it answers, the Response's
/// verdict, the mapped identity, the session's end.
fn verify(
    state: &AppState,
    body: &[u8],
    login_cookie: Option<&str>,
    now: OffsetDateTime,
) -> Result<VerifiedLogin, AcsError> {
    let form = AcsForm::parse(body)?;
    let (idp, verified, answered) = match form.relay_state.as_deref() {
        Some(relay_state) if is_relay_token(relay_state) => {
            let (idp, verified, answered) =
                solicited(state, &form.saml_response, relay_state, login_cookie, now)?;
            (idp, verified, Some(answered))
        }
        other => {
            let note = match other {
                None => " (no RelayState)",
                Some(_) => " (RelayState is not one samlgate issued)",
            };
            let (idp, verified) = unsolicited(state, &form.saml_response, note, now)?;
            (idp, verified, None)
        }
    };
    let (identity, matched_rule) = crate::mapping::sign_in_explained(&idp.mapping, &verified)
        .map_err(|refusal| AcsError::Mapping {
            idp: idp.name.clone(),
            refusal,
        })?;
    let not_after = session::not_after(
        now,
        state.config.session.absolute_timeout,
        verified.session_not_on_or_after,
    );
    if not_after <= now {
        return Err(AcsError::SessionAlreadyOver {
            idp: idp.name.clone(),
            not_after: format_instant(not_after),
            now: format_instant(now),
        });
    }
    Ok(VerifiedLogin {
        idp: idp.name.clone(),
        verified,
        identity,
        matched_rule,
        not_after,
        answered,
    })
}

/// The two fields of the HTTP-POST binding.
struct AcsForm {
    saml_response: Vec<u8>,
    relay_state: Option<String>,
}

impl AcsForm {
    fn parse(body: &[u8]) -> Result<Self, FormError> {
        let mut saml_response = None;
        let mut relay_state = None;
        for (k, v) in url::form_urlencoded::parse(body) {
            let field = match k.as_ref() {
                "SAMLResponse" => &mut saml_response,
                "RelayState" => &mut relay_state,
                _ => continue,
            };
            if field.replace(v.into_owned()).is_some() {
                return Err(FormError::Duplicated);
            }
        }
        Ok(AcsForm {
            saml_response: saml_response.ok_or(FormError::NoSamlResponse)?.into_bytes(),
            relay_state,
        })
    }
}

/// SP-initiated login: the login `relay_state` names in the browser's login cookie, and the
/// Response validated as the answer to its AuthnRequest.
fn solicited<'s>(
    state: &'s AppState,
    saml_response: &[u8],
    relay_state: &str,
    login_cookie: Option<&str>,
    now: OffsetDateTime,
) -> Result<(&'s Idp, VerifiedAssertion, Answered), AcsError> {
    let mut in_flight = PendingLogins::open(login_cookie, &state.login_seal, relay_state)?;
    let login = in_flight.take(relay_state, now)?;
    let idp = state
        .idp(&login.idp)
        .ok_or_else(|| AcsError::IdpGone(login.idp.clone()))?;
    let expected = ExpectedRequest::Solicited(&login.request_id);
    let verified = validate_for(state, idp, saml_response, expected, now, "")?;
    let answered = Answered {
        login,
        others: in_flight,
    };
    Ok((idp, verified, answered))
}

/// How long after a change of an IdP's keys a signature refusal explains it.
const KEY_CHANGE_HINT_WINDOW: Duration = Duration::days(7);

/// Validate `saml_response` for `idp` with the metadata in use now (the login keeps this copy
/// to its end, whatever a refresh swaps in meanwhile).
fn validate_for(
    state: &AppState,
    idp: &Idp,
    saml_response: &[u8],
    expected: ExpectedRequest<'_>,
    now: OffsetDateTime,
    note: &'static str,
) -> Result<VerifiedAssertion, AcsError> {
    let (metadata, key_change) =
        state
            .idp_metadata
            .usable(&idp.name, now)
            .map_err(|not_ready| AcsError::IdpNotReady {
                idp: idp.name.clone(),
                reason: not_ready.to_string(),
            })?;
    let policy = metadata.policy(&idp.policy);
    validate(saml_response, &policy, &state.sp, expected, now).map_err(|rejection| {
        let recent = key_change.filter(|c| now - c.at < KEY_CHANGE_HINT_WINDOW);
        match (&rejection, recent) {
            (Rejection::Signature(_), Some(change)) => AcsError::KeysChanged {
                idp: idp.name.clone(),
                hint: key_change_hint(state, &policy, &change, saml_response, expected, now),
                rejection,
            },
            _ => AcsError::Rejected {
                idp: idp.name.clone(),
                rejection,
                note,
            },
        }
    })
}

/// What to tell the admin when a signature fails after the IdP's keys changed: which removed
/// key signed the Response, when it did (tried with each removed key, still only from
/// metadata, never from the message), or that none did.
fn key_change_hint(
    state: &AppState,
    policy: &crate::saml::IdpPolicy,
    change: &KeyChange,
    saml_response: &[u8],
    expected: ExpectedRequest<'_>,
    now: OffsetDateTime,
) -> String {
    let at = format_instant(change.at);
    for key in &change.removed_keys {
        let old = crate::saml::IdpPolicy {
            signing_keys: vec![key.clone()],
            ..policy.clone()
        };
        let signed_by_it = !matches!(
            validate(saml_response, &old, &state.sp, expected, now),
            Err(Rejection::Signature(_))
        );
        if signed_by_it {
            return format!(
                "the IdP's keys changed at {at}; this Response was signed by a key that is not in the current metadata: {}",
                KeyFact::of(key)
            );
        }
    }
    format!(
        "the IdP's keys changed at {at} ({}); this Response's signature matches none of the current keys",
        change.change
    )
}

/// IdP-initiated login: try each IdP that allows it. Only a Response whose signature verifies
/// with that IdP's keys can pass, so trying several cannot mix them up.
fn unsolicited<'s>(
    state: &'s AppState,
    saml_response: &[u8],
    note: &'static str,
    now: OffsetDateTime,
) -> Result<(&'s Idp, VerifiedAssertion), AcsError> {
    let mut first_error: Option<(String, Rejection)> = None;
    for idp in state.config.idps.iter().filter(|i| i.allow_idp_initiated) {
        // An IdP that is not ready has no keys to try; the others still can.
        let Ok((metadata, _)) = state.idp_metadata.usable(&idp.name, now) else {
            continue;
        };
        match validate(
            saml_response,
            &metadata.policy(&idp.policy),
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
    let (idp, rejection) = first_error.unwrap_or_else(|| {
        (
            "unknown".to_string(),
            PolicyFailure::UnsolicitedNotAllowed.into(),
        )
    });
    Err(AcsError::Rejected {
        idp,
        rejection,
        note,
    })
}

/// One login per AuthnRequest, one per Assertion: atomic inserts in the replay cache, made
/// only now that the Response verified (an anonymous POST writes nothing).
async fn mark_used(
    state: &AppState,
    login: &VerifiedLogin,
    now: OffsetDateTime,
) -> Result<(), AcsError> {
    let unavailable = |e: StoreError| AcsError::Unavailable {
        idp: login.idp.clone(),
        what: "replay cache",
        detail: e.to_string(),
    };
    if let Some(Answered { login: pending, .. }) = &login.answered {
        let until = pending.expires + REQUEST_ID_CLOCK_MARGIN;
        let seen = state
            .replay
            .insert_request(&pending.request_id, until, now)
            .await
            .map_err(unavailable)?;
        if seen == Seen::Again {
            return Err(AcsError::RequestReplay {
                idp: login.idp.clone(),
                request_id: pending.request_id.clone(),
            });
        }
    }
    let v = &login.verified;
    let seen = state
        .replay
        .insert(v.idp_entity_id(), &v.assertion_id, v.replay_until, now)
        .await
        .map_err(unavailable)?;
    if seen == Seen::Again {
        return Err(AcsError::Rejected {
            idp: login.idp.clone(),
            rejection: Rejection::Replay(ReplayFailure {
                idp: v.idp_entity_id().to_string(),
                assertion_id: v.assertion_id.clone(),
            }),
            note: "",
        });
    }
    Ok(())
}

/// What the session page shows of this login beyond the identity.
fn login_details(login: &VerifiedLogin) -> LoginDetails {
    let claims = &login.verified.claims;
    LoginDetails {
        attributes: claims
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.values.clone()))
            .collect(),
        name_id_format: claims.name_id.format.clone(),
        matched_rule: login.matched_rule.to_string(),
    }
}

/// A session under a NEW session ID, indexed for single logout.
async fn establish_session(
    state: &AppState,
    session: &Session,
    login: &VerifiedLogin,
    now: OffsetDateTime,
) -> Result<(), AcsError> {
    let verified = &login.verified;
    let record = SessionRecord {
        identity: login.identity.clone(),
        idp: login.idp.clone(),
        idp_entity_id: verified.idp_entity_id().to_string(),
        name_id: verified.name_id().value.clone(),
        session_index: verified.session_index.clone(),
        name_id_details: name_id_details(verified.name_id()),
        created: now,
        last_seen: now,
        not_after: login.not_after,
        details: state
            .config
            .server
            .session_page
            .then(|| Box::new(login_details(login))),
    };
    let unavailable = |what, detail: String| AcsError::Unavailable {
        idp: login.idp.clone(),
        what,
        detail,
    };
    state
        .sessions
        .establish(session, &record)
        .await
        .map_err(|e| unavailable("session store", e.to_string()))?;
    if let Err(e) = index_session(state, session, verified, &record, now).await {
        let _ = session.flush().await;
        return Err(unavailable("session index", e.to_string()));
    }
    Ok(())
}

/// What the LogoutRequest at sign-out must repeat of the NameID besides its value.
fn name_id_details(name_id: &crate::saml::NameId) -> Option<session::NameIdDetails> {
    let details = session::NameIdDetails {
        format: name_id.format.clone(),
        name_qualifier: name_id.name_qualifier.clone(),
        sp_name_qualifier: name_id.sp_name_qualifier.clone(),
    };
    (details != session::NameIdDetails::default()).then_some(details)
}

/// Record the new session under (IdP, NameID, SessionIndex), so single logout can find it on
/// any node.
async fn index_session(
    state: &AppState,
    session: &Session,
    verified: &VerifiedAssertion,
    record: &SessionRecord,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let Some(id) = session.id() else {
        return Err(StoreError::Unavailable(
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

/// Audit, count, and send the browser to the page it first asked for; the login cookie keeps
/// only the browser's other logins in flight.
fn back_to_the_app(state: &AppState, login: VerifiedLogin, now: OffsetDateTime) -> Response {
    audit::login(
        &login.idp,
        &login.identity.user,
        &login.identity.access_group,
        &login.verified.assertion_id,
        &format_instant(login.not_after),
    );
    state
        .metrics
        .inc("samlgate_logins_total", &[("idp", &login.idp)]);
    let https = state.config.server.is_https();
    let (return_to, login_cookie) = match login.answered {
        Some(Answered { login, mut others }) => {
            let cookie = match others.to_cookie(&state.login_seal, now) {
                Ok(Some(value)) => cookies::login_cookie(&value, https),
                Ok(None) => cookies::clear_login_cookie(https),
                Err(e) => {
                    tracing::warn!("dropping the browser's other logins in flight: {e}");
                    cookies::clear_login_cookie(https)
                }
            };
            (login.return_to, Some(cookie))
        }
        None => ("/".to_string(), None),
    };
    let location = HeaderValue::from_str(&return_to).unwrap_or(HeaderValue::from_static("/"));
    let mut response = (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response();
    if let Some(cookie) = login_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// A refusal: the log line with the detail, the metric by kind, the generic page. When the
/// gateway itself could not decide (busy, a store down): 503.
fn refuse(state: &AppState, e: &AcsError) -> Response {
    if e.is_ours() {
        match e {
            AcsError::Busy { .. } => {
                tracing::warn!("ACS: {e}");
                state.metrics.inc("samlgate_acs_busy_total", &[]);
            }
            _ => tracing::error!(idp = e.idp(), "ACS: {e}"),
        }
        return errors::unavailable();
    }
    if let AcsError::IdpNotReady { idp, .. } = e {
        tracing::warn!(idp = %idp, "ACS: login refused: {e}");
        state.metrics.inc(
            "samlgate_rejections_total",
            &[("idp", idp.as_str()), ("kind", "idp_not_ready")],
        );
        return errors::idp_not_ready();
    }
    let reference: String = random_token().chars().take(12).collect();
    let kind = e.kind();
    audit::rejection(e.idp(), &kind, &reference, &e.to_string());
    state.metrics.inc(
        "samlgate_rejections_total",
        &[("idp", e.idp()), ("kind", kind.as_ref())],
    );
    errors::login_failed(&reference, &state.config.server.url_for("/"))
}
