//! Reads an IdP's metadata file for the configuration, through `saml::metadata` (the strict
//! parser), and keeps what the gateway needs: signing keys and the SSO endpoint to use.

use crate::crypto::keys::VerificationKey;
use crate::saml::metadata::{Binding, Endpoint, parse_idp_metadata};

use crate::config::model::{SsoBinding, SsoEndpoint};

/// What the gateway needs from one IdP's metadata.
#[derive(Debug)]
pub struct IdpMeta {
    pub entity_id: String,
    pub signing_keys: Vec<VerificationKey>,
    pub sso: Vec<SsoEndpoint>,
    pub want_authn_requests_signed: bool,
    /// Its SingleLogoutService endpoints, every binding (`slo` keeps those samlgate speaks).
    pub slo: Vec<Endpoint>,
    /// Its encryption certificates (for `encrypt_logout_name_id`).
    pub encryption_certificates: Vec<openssl::x509::X509>,
    /// The metadata's `validUntil`, reported by `check` (not enforced at login).
    pub valid_until: Option<time::OffsetDateTime>,
}

/// Parse `bytes` (a file named `source` for messages); pick `entity_id` out of an aggregate.
pub fn read(bytes: &[u8], source: &str, entity_id: Option<&str>) -> Result<IdpMeta, String> {
    let meta = parse_idp_metadata(bytes, source, entity_id).map_err(|e| e.to_string())?;
    let sso = meta
        .sso_endpoints
        .iter()
        .filter_map(|e| {
            let binding = match e.binding {
                Binding::HttpRedirect => SsoBinding::Redirect,
                Binding::HttpPost => SsoBinding::Post,
                Binding::Other(_) => return None,
            };
            Some(SsoEndpoint {
                binding,
                location: e.location.clone(),
            })
        })
        .collect();
    Ok(IdpMeta {
        entity_id: meta.entity_id,
        signing_keys: meta.signing_keys,
        sso,
        want_authn_requests_signed: meta.want_authn_requests_signed,
        slo: meta.slo_endpoints,
        encryption_certificates: meta.encryption_certificates,
        valid_until: meta.valid_until,
    })
}
