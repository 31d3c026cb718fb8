//! `GET /saml/metadata`: the SP metadata built at start (`samlgate metadata` prints the same).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::state::AppState;

pub async fn metadata(State(state): State<Arc<AppState>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        state.sp_metadata.clone(),
    )
        .into_response()
}
