//! `[[idp]] slo`: Single Logout with this IdP. On by default when the IdP's metadata has a
//! SingleLogoutService with a binding samlgate speaks (HTTP-Redirect, HTTP-POST); `slo = false`
//! turns it off; `slo = true` with no such endpoint is an error (the admin expects logout to
//! reach the IdP, and it could not). `encrypt_logout_name_id = true` sends the NameID of our
//! LogoutRequests as an EncryptedID, to the IdP's encryption certificate from its metadata.

use crate::config::as_written::RawIdp;
use crate::config::problems::Problems;
use crate::saml::metadata::{Binding, Endpoint};

/// The endpoints of `offered` with a binding samlgate speaks for Single Logout.
pub fn usable_endpoints(offered: &[Endpoint]) -> Vec<Endpoint> {
    offered
        .iter()
        .filter(|e| matches!(e.binding, Binding::HttpRedirect | Binding::HttpPost))
        .cloned()
        .collect()
}

/// The SLO endpoints the gateway will use for this IdP with the metadata in hand at load.
pub fn endpoints(
    raw: &RawIdp,
    key: &str,
    entity_id: &str,
    offered: &[Endpoint],
    p: &mut Problems,
) -> Vec<Endpoint> {
    let usable = usable_endpoints(offered);
    match &raw.slo {
        Some(flag) if !*flag.get_ref() => Vec::new(),
        Some(flag) if usable.is_empty() => {
            p.error(
                key,
                Some(flag.span()),
                format!(
                    "slo = true, but the metadata of IdP {entity_id} has no SingleLogoutService with the HTTP-Redirect or HTTP-POST binding; remove the key (or set slo = false) to sign out of samlgate only"
                ),
            );
            Vec::new()
        }
        _ => usable,
    }
}

/// With `encrypt_logout_name_id = true`: the IdP certificate to encrypt the NameID to (the
/// first encryption certificate of its metadata); an error when there is none.
pub fn name_id_encryption(
    raw: &RawIdp,
    key: &str,
    entity_id: &str,
    certificates: &[openssl::x509::X509],
    p: &mut Problems,
) -> Option<openssl::x509::X509> {
    let flag = raw.encrypt_logout_name_id.as_ref()?;
    if !*flag.get_ref() {
        return None;
    }
    match certificates.first() {
        Some(cert) => Some(cert.clone()),
        None => {
            p.error(
                key,
                Some(flag.span()),
                format!(
                    "encrypt_logout_name_id = true, but the metadata of IdP {entity_id} has no encryption certificate (KeyDescriptor use=\"encryption\" or without use)"
                ),
            );
            None
        }
    }
}
