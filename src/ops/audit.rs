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
