//! When the backend gives no response: why (for the log, with the whole cause chain), and the
//! generic page the browser gets instead (no backend detail in it).

use std::time::Duration;

use axum::body::Body;
use axum::http::uri::Authority;
use axum::http::{Response, StatusCode};

use super::pool::SendError;

/// Why the backend gave no response.
pub(super) enum Failure {
    Send(SendError),
    Body(Box<dyn std::error::Error + Send + Sync>),
    Timeout(Duration),
    /// The client stopped sending its request body (see `body::EndSignal`).
    ClientBodyStalled(Duration),
}

impl Failure {
    /// Log why, under a fresh reference, and answer the page that shows the reference.
    pub(super) fn into_page(self, backend: &Authority) -> Response<Body> {
        let reference = new_reference();
        let status = match self {
            Failure::Timeout(after) => {
                tracing::warn!(%backend, %reference, timeout_ms = after.as_millis() as u64, "backend did not answer within the response timeout: 504");
                StatusCode::GATEWAY_TIMEOUT
            }
            Failure::ClientBodyStalled(after) => {
                tracing::info!(%backend, %reference, timeout_ms = after.as_millis() as u64, "the client sent no request body bytes within the body timeout: the backend request was abandoned, 408");
                StatusCode::REQUEST_TIMEOUT
            }
            Failure::Send(SendError::Connect(e)) if caused_by_timeout(e.as_ref()) => {
                tracing::warn!(%backend, %reference, error = %chain(e.as_ref()), "backend connect timed out: 504");
                StatusCode::GATEWAY_TIMEOUT
            }
            Failure::Send(SendError::Connect(e)) => {
                tracing::warn!(%backend, %reference, error = %chain(e.as_ref()), "cannot connect to the backend: 502");
                StatusCode::BAD_GATEWAY
            }
            Failure::Send(SendError::Handshake(e)) => {
                tracing::warn!(%backend, %reference, error = %chain(&e), "TLS handshake with the backend failed: 502");
                StatusCode::BAD_GATEWAY
            }
            // A deadline given to the pool (`Proxy::send` maps it to `Timeout` first).
            Failure::Send(SendError::TimedOut) => {
                tracing::warn!(%backend, %reference, "backend did not answer within the response timeout: 504");
                StatusCode::GATEWAY_TIMEOUT
            }
            Failure::Send(SendError::Request(e)) => {
                tracing::warn!(%backend, %reference, error = %chain(&e), "backend request failed: 502");
                StatusCode::BAD_GATEWAY
            }
            Failure::Send(SendError::Exchange(e)) => {
                tracing::warn!(%backend, %reference, error = %chain(&e), "backend request failed: 502");
                StatusCode::BAD_GATEWAY
            }
            Failure::Body(e) => {
                tracing::warn!(%backend, %reference, error = %chain(e.as_ref()), "backend response body failed before its first byte: 502");
                StatusCode::BAD_GATEWAY
            }
        };
        error_page(status, &reference)
    }
}

/// 48 random bits in hex: enough to find one log line, too short to mean anything else.
pub fn new_reference() -> String {
    let bytes: [u8; 6] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn caused_by_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(err) = source {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        source = err.source();
    }
    false
}

/// The error and its causes on one line: hyper's top-level messages alone ("client error (Connect)") do not
/// tell an admin what happened.
pub(super) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(err) = source {
        out.push_str(": ");
        out.push_str(&err.to_string());
        source = err.source();
    }
    out
}

/// The page the browser sees when the backend fails, or the client's request body does not
/// arrive in time: no backend detail in it, only the `reference` (hex, from [`new_reference`])
/// that the log line carries too. A 408 also closes the connection: the rest of the request
/// body may still be on its way, so the connection cannot be reused.
pub fn error_page(status: StatusCode, reference: &str) -> Response<Body> {
    let (title, text) = match status {
        StatusCode::GATEWAY_TIMEOUT => (
            "504 Gateway Timeout",
            "The application behind this gateway did not answer in time. Please try again in a moment.",
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "408 Request Timeout",
            "Your browser stopped sending the request before it was complete. Please try again.",
        ),
        _ => (
            "502 Bad Gateway",
            "The application behind this gateway cannot be reached right now. Please try again in a moment.",
        ),
    };
    let reference: String = reference
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let mut page = crate::text::page::html_page(
        status,
        title,
        &format!(
            "<p>{text}</p>{}",
            crate::text::page::reference_html(&reference)
        ),
    );
    if status == StatusCode::REQUEST_TIMEOUT {
        page.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::CONTENT_TYPE;

    #[test]
    fn error_pages_name_no_backend_detail() {
        for status in [
            StatusCode::BAD_GATEWAY,
            StatusCode::GATEWAY_TIMEOUT,
            StatusCode::REQUEST_TIMEOUT,
        ] {
            let page = error_page(status, "0a1b2c3d4e5f");
            assert_eq!(page.status(), status);
            assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
            // Only a 408 closes the connection: the rest of the request body may follow.
            assert_eq!(
                page.headers().get(axum::http::header::CONNECTION).is_some(),
                status == StatusCode::REQUEST_TIMEOUT
            );
        }
    }
}
