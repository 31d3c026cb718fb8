//! The audit trail: one structured line per login, logout and refused response, under the
//! `samlgate::audit` target so it can be routed to its own sink.

/// A successful login.
pub fn login(
    idp: &str,
    user: &str,
    access_group: &str,
    assertion_id: &str,
    session_not_after: &str,
) {
    tracing::info!(
        target: "samlgate::audit",
        event = "login",
        idp,
        user,
        access_group,
        assertion_id,
        session_not_after,
        "login accepted"
    );
}

/// A refused SAML response: the precise reason, never shown to the browser.
pub fn rejection(idp: &str, kind: &str, reference: &str, detail: &str) {
    tracing::warn!(
        target: "samlgate::audit",
        event = "rejection",
        idp,
        kind,
        reference,
        "login refused: {detail}"
    );
}

/// A local logout.
pub fn logout(user: &str) {
    tracing::info!(target: "samlgate::audit", event = "logout", user, "logout");
}

/// A Single Logout acted on: who, which IdP, which side started it (`idp`: its LogoutRequest
/// arrived; `sp`: the user signed out here), how many sessions ended and how many could not be.
pub fn single_logout(idp: &str, name_id: &str, started_by: &str, ended: usize, failed: usize) {
    tracing::info!(
        target: "samlgate::audit",
        event = "single_logout",
        idp,
        name_id,
        started_by,
        sessions_ended = ended,
        sessions_not_ended = failed,
        "single logout"
    );
}

/// The IdP's answer to a sign-out started here: whether it says its session ended.
pub fn single_logout_answered(idp: &str, idp_session_ended: bool) {
    tracing::info!(
        target: "samlgate::audit",
        event = "single_logout_answered",
        idp,
        idp_session_ended,
        "single logout answered by the IdP"
    );
}

/// A refused LogoutRequest or LogoutResponse: the precise reason, never shown to the browser.
pub fn logout_rejection(idp: &str, kind: &str, reference: &str, detail: &str) {
    tracing::warn!(
        target: "samlgate::audit",
        event = "logout_rejection",
        idp,
        kind,
        reference,
        "logout message refused: {detail}"
    );
}

/// A refresh of an IdP's metadata added or removed signing keys.
pub fn idp_keys_changed(idp: &str, added: &str, removed: &str) {
    tracing::warn!(
        target: "samlgate::audit",
        event = "idp_keys_changed",
        idp,
        added,
        removed,
        "IdP signing keys changed"
    );
}
