//! `POST /saml/slo/soap`: Single Logout's back channel (SAML SOAP binding), for IdPs that call
//! SPs directly rather than through the browser (Shibboleth IdP, ADFS). The same checks as the
//! front channel (`saml::logout`, the message enveloped-signed inside the SOAP Body), the same
//! single use and the same ending of sessions ([`super::slo::act_on`]); the answer is our signed
//! LogoutResponse in a SOAP envelope on the same connection. A refusal is a SOAP Fault (the
//! precise reason goes to the log). Only LogoutRequests come this way: samlgate sends its own
//! LogoutRequests through the browser.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::message_body::MessageBodyError;
use super::slo::{SloError, act_on, record_refusal, rejected, slo_idp, verify_request};
use super::state::AppState;
use crate::saml::logout::binding::{InboundKind, from_soap_envelope, soap_envelope, soap_fault};
use crate::saml::logout::{LogoutRejection, LogoutResponse};
use crate::saml::request::{new_request_id, sign_for_post};
use crate::server::offload::OffloadError;

/// `POST /saml/slo/soap`.
pub async fn soap(State(state): State<Arc<AppState>>, body: Body) -> Response {
    let body = match super::message_body::read(&state, body).await {
        Ok(b) => b,
        Err(e @ MessageBodyError::TooSlow { .. }) => {
            return super::message_body::too_slow("single logout (SOAP)", &e);
        }
        Err(e) => {
            tracing::warn!("single logout (SOAP): {e}");
            return fault(StatusCode::PAYLOAD_TOO_LARGE, true);
        }
    };
    match back_channel(&state, body.to_vec()).await {
        Ok(answer) => xml(StatusCode::OK, answer),
        Err(e) => {
            record_refusal(&state, &e);
            let ours = matches!(e, SloError::Unavailable(_));
            fault(StatusCode::INTERNAL_SERVER_ERROR, !ours)
        }
    }
}

async fn back_channel(state: &Arc<AppState>, body: Vec<u8>) -> Result<String, SloError> {
    let now = state.now();
    let shared = Arc::clone(state);
    let verified = state
        .acs_work
        .run(move || {
            let inbound = from_soap_envelope(&body).map_err(|r| rejected("unknown", r))?;
            if inbound.kind != InboundKind::Request {
                return Err(rejected(
                    "unknown",
                    LogoutRejection::WrongMessage {
                        expected: "LogoutRequest",
                        found: "samlp:LogoutResponse (over SOAP)".into(),
                    },
                ));
            }
            let url = shared.config.server.url_for("/saml/slo/soap");
            verify_request(&shared, &inbound, &url, now)
        })
        .await
        .map_err(|e: OffloadError| SloError::Unavailable(e.to_string()))??;
    let idp = slo_idp(state, &verified)?;
    let status = act_on(state, idp, &verified, now).await?;
    let response = LogoutResponse {
        id: new_request_id(),
        issue_instant: now,
        destination: String::new(),
        in_response_to: verified.id.clone(),
        issuer: state.config.sp.entity_id.clone(),
        status,
    };
    let signed = sign_for_post(
        &response.to_xml(),
        &state.config.sp.key.key,
        Some(&state.config.sp.cert),
    )
    .map_err(|e| SloError::Unavailable(format!("signing the LogoutResponse: {e}")))?;
    Ok(soap_envelope(&signed))
}

fn xml(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/xml; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

fn fault(status: StatusCode, client_fault: bool) -> Response {
    let reason = if client_fault {
        "the logout request was not accepted"
    } else {
        "the logout request could not be processed now"
    };
    xml(status, soap_fault(client_fault, reason))
}
