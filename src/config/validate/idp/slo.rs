//! `[[idp]] slo`: Single Logout with this IdP. On by default when the IdP's metadata has a
//! SingleLogoutService with a binding samlgate speaks (HTTP-Redirect, HTTP-POST); `slo = false`
//! turns it off; `slo = true` with no such endpoint is an error (the admin expects logout to
//! reach the IdP, and it could not).

use crate::config::as_written::RawIdp;
use crate::config::problems::Problems;
use crate::saml::metadata::{Binding, Endpoint};

/// The SLO endpoints the gateway will use for this IdP.
pub fn endpoints(
    raw: &RawIdp,
    key: &str,
    entity_id: &str,
    offered: &[Endpoint],
    p: &mut Problems,
) -> Vec<Endpoint> {
    let usable: Vec<Endpoint> = offered
        .iter()
        .filter(|e| matches!(e.binding, Binding::HttpRedirect | Binding::HttpPost))
        .cloned()
        .collect();
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
