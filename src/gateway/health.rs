//! `/healthz` (the process answers), `/readyz` (it can serve logins: stores reachable, and
//! which IdPs have no usable metadata),
//! `/metrics` (Prometheus text).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::state::AppState;

pub async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    // The stores are on the login path; a store that cannot answer means not ready. A ping
    // (Redis) and a probe insert under a reserved name, expiring at once, check it end to end.
    let now = state.now();
    let probe = match state.stores.check().await {
        Ok(()) => state
            .replay
            .insert("samlgate-readyz", "probe", now, now)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match probe {
        Ok(()) => idps_ready(&state, now),
        Err(e) => {
            tracing::warn!(store = %state.stores.describe(), "readyz: {e}");
            // The detail (host, error) goes to the log only.
            let kind = if state.stores.redis.is_some() {
                "redis"
            } else {
                "memory"
            };
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("store unavailable ({kind})\n"),
            )
                .into_response()
        }
    }
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// The stores answer: ready, naming the IdPs whose logins are refused (metadata expired or never
/// fetched; the reason goes to the log). Not ready (503) only when no IdP can sign anyone in:
/// one IdP down must not take the node out for the others.
fn idps_ready(state: &AppState, now: time::OffsetDateTime) -> Response {
    let not_ready = state.idp_metadata.not_ready(now);
    if not_ready.is_empty() {
        return (StatusCode::OK, "ready\n").into_response();
    }
    let mut body = String::new();
    for n in &not_ready {
        tracing::warn!(idp = n.idp(), "readyz: {n}");
        body.push_str(&format!("idp {} not ready: {}\n", n.idp(), n.short()));
    }
    if not_ready.len() >= state.idp_metadata.len() {
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    } else {
        (StatusCode::OK, format!("ready\n{body}")).into_response()
    }
}
