//! The signed identity token (`[identity_token]`): added to each proxied request and each
//! forward-auth answer of a signed-in session, and the public keys at `/.well-known/jwks.json`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::state::AppState;
use crate::session::SignedIn;

/// Where the public keys are published.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The token header and value for `signed_in`, when tokens are enabled: the session's cached
/// token, or a new one. A token that cannot be signed is logged and left out (a backend that
/// verifies tokens then refuses the request; one that trusts the headers is unaffected).
pub fn token_for<'s>(
    state: &'s AppState,
    signed_in: &SignedIn,
) -> Option<(&'s HeaderName, HeaderValue)> {
    let signer = state.config.identity_token.as_ref()?;
    let value = signed_in.token.get_or_sign(
        signer,
        &signed_in.identity,
        signed_in.idp_entity_id(),
        state.now(),
        signed_in.not_after(),
        new_jti,
    );
    match value {
        Ok(value) => Some((signer.header(), value)),
        Err(e) => {
            tracing::error!(user = %signed_in.identity.user, "{e}");
            None
        }
    }
}

/// The token header and value for an API client's access token (the `idp` claim names the
/// token's issuer), cached with the verified token; `None` when tokens are off.
pub fn token_for_bearer<'s>(
    state: &'s AppState,
    who: &crate::oauth::bearer::Authenticated,
) -> Option<(&'s HeaderName, HeaderValue)> {
    let signer = state.config.identity_token.as_ref()?;
    let value = who.identity_token.get_or_sign(
        signer,
        &who.identity,
        &who.token.issuer,
        state.now(),
        who.token.expires_at,
        new_jti,
    );
    match value {
        Ok(value) => Some((signer.header(), value)),
        Err(e) => {
            tracing::error!(user = %who.identity.user, "{e}");
            None
        }
    }
}

/// 128 random bits, base64url.
fn new_jti() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// `GET /.well-known/jwks.json`: the current key and the next one. 404 when tokens are off.
pub async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    match &state.config.identity_token {
        Some(signer) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/jwk-set+json"),
                (header::CACHE_CONTROL, "max-age=300"),
            ],
            signer.jwks(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
