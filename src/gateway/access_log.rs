//! The access log (`[server] access_log = true`): one line per request, written when its
//! response head is ready: method, path (without the query, which may carry tokens), status,
//! the signed-in user when there is one, the time taken and a request ID (the client's
//! `X-Request-Id` when it sent a sensible one, else a fresh one).

use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderMap, Method};

use crate::identity::shared_text::Text;
use crate::server::Answer;

/// Put on a response by the gate when a signed-in user's request was forwarded.
#[derive(Clone, Debug)]
pub struct AccessUser(pub Text);

/// What the line says of the request, taken before the request is answered.
pub struct Seen {
    method: Method,
    path: String,
    request_id: String,
    start: Instant,
}

impl Seen {
    pub fn of(req: &Request) -> Self {
        Seen {
            method: req.method().clone(),
            path: req.uri().path().to_string(),
            request_id: request_id(req.headers()),
            start: Instant::now(),
        }
    }

    /// `answer`, logged when it is ready.
    pub fn logged(self, answer: Answer) -> Answer {
        let Seen {
            method,
            path,
            request_id,
            start,
        } = self;
        Box::pin(async move {
            let response = answer.await?;
            let user = response.extensions().get::<AccessUser>().map(|u| &u.0);
            tracing::info!(
                target: "samlgate::access",
                method = %method,
                path = %path,
                status = response.status().as_u16(),
                user = user.map(|u| u.as_str()).unwrap_or("-"),
                duration_ms = start.elapsed().as_secs_f64() * 1000.0,
                request_id = %request_id,
                "{method} {path} {}",
                response.status().as_u16()
            );
            Ok(response)
        })
    }
}

/// The client's `X-Request-Id` when it is short printable ASCII, else 64 random bits in hex.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| {
            let bytes: [u8; 8] = rand::random();
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        })
}
