//! `/saml/logout`: local logout. The session is deleted from the store (the cookie alone would
//! not be enough: a copied cookie must stop working too). Single Logout with the IdP is not
//! supported yet: the IdP session stays, so the next visit may sign in again without a prompt.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use tower_sessions::Session;

use crate::ops::audit;

use super::errors;
use super::session;
use super::state::AppState;

pub async fn logout(State(state): State<Arc<AppState>>, session: Session) -> Response {
    match session::end(&session, &state.session_cache).await {
        Ok(Some(record)) => {
            audit::logout(&record.identity.user);
            state.metrics.inc("samlgate_logouts_total", &[]);
            errors::signed_out()
        }
        Ok(None) => errors::signed_out(),
        Err(e) => {
            tracing::error!("logout: {e}");
            errors::unavailable()
        }
    }
}
