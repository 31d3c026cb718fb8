//! The body of a SAML message posted to the gateway (ACS, Single Logout by POST or SOAP): at
//! most `[server] max_acs_body` bytes, all of it within `[server] saml_body_timeout` of the
//! head. These messages are small, so a client that sends one slowly only holds a connection:
//! it gets 408 and the connection is closed.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::Response;

use super::state::AppState;

/// Why a SAML message's body was not read.
#[derive(Debug, thiserror::Error)]
pub enum MessageBodyError {
    #[error("body unreadable or over {limit} bytes: {detail}")]
    TooLarge { limit: usize, detail: String },
    #[error(
        "body not complete within server.saml_body_timeout ({}s)",
        timeout.as_secs()
    )]
    TooSlow { timeout: Duration },
}

/// Read a SAML message's body, bounded in size and time.
pub async fn read(state: &AppState, body: Body) -> Result<Bytes, MessageBodyError> {
    let limit = state.config.server.max_acs_body;
    let timeout = state.config.server.connections.saml_body_timeout;
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(MessageBodyError::TooLarge {
            limit,
            detail: e.to_string(),
        }),
        Err(_) => Err(MessageBodyError::TooSlow { timeout }),
    }
}

/// The answer to a body that did not arrive in time (`e`, logged for `what` under a fresh
/// reference): the proxy's 408 page, which closes the connection.
pub fn too_slow(what: &str, e: &MessageBodyError) -> Response {
    let reference = crate::proxy::new_reference();
    tracing::info!(%reference, "{what}: {e}: 408");
    crate::proxy::error_page(StatusCode::REQUEST_TIMEOUT, &reference)
}
