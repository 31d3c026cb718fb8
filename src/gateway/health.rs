//! `/healthz` (the process answers), `/readyz` (it can serve logins: stores reachable),
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
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
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
