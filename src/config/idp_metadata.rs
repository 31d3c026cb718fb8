//! Reads an IdP's metadata file for the configuration: its signing keys and SSO endpoints.
//!
//! TEMPORARY: a minimal reader over the strict parser, to be replaced by a call to
//! `saml::metadata::parse_idp_metadata` (the lead's) when it lands on main. Keep the
//! signature of [`read`] so only this file changes.

use crate::crypto::keys::VerificationKey;
use crate::xml::{self, ElementRef, ParseLimits, ns};

use super::model::{SsoBinding, SsoEndpoint};

const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// What the gateway needs from one IdP's metadata.
#[derive(Debug)]
pub struct IdpMeta {
    pub entity_id: String,
    pub signing_keys: Vec<VerificationKey>,
    pub sso: Vec<SsoEndpoint>,
    pub want_authn_requests_signed: bool,
}

/// Parse `bytes` (a file named `source` for messages); pick `entity_id` out of an aggregate.
pub fn read(bytes: &[u8], source: &str, entity_id: Option<&str>) -> Result<IdpMeta, String> {
    let doc = xml::parse(bytes, &ParseLimits::metadata()).map_err(|e| format!("{source}: {e}"))?;
    let root = doc.root();
    let candidates: Vec<ElementRef<'_>> = root
        .descendants_and_self()
        .filter(|e| e.is(ns::MD, "EntityDescriptor"))
        .filter(|e| e.first_child_named(ns::MD, "IDPSSODescriptor").is_some())
        .collect();
    let entity = match entity_id {
        Some(wanted) => candidates
            .iter()
            .find(|e| e.attr("entityID") == Some(wanted))
            .copied()
            .ok_or_else(|| format!("{source}: no IdP EntityDescriptor with entityID {wanted}"))?,
        None => match candidates.as_slice() {
            [one] => *one,
            [] => return Err(format!("{source}: no EntityDescriptor with an IDPSSODescriptor")),
            many => {
                return Err(format!(
                    "{source}: holds {} IdPs; set entity_id to pick one",
                    many.len()
                ));
            }
        },
    };
    let entity_id = entity
        .attr("entityID")
        .ok_or_else(|| format!("{source}: EntityDescriptor without entityID"))?
        .to_string();
    let idp = entity
        .first_child_named(ns::MD, "IDPSSODescriptor")
        .ok_or_else(|| format!("{source}: no IDPSSODescriptor"))?;
    let mut signing_keys = Vec::new();
    for kd in idp.child_elements().filter(|e| e.is(ns::MD, "KeyDescriptor")) {
        if kd.attr("use").is_some_and(|u| u != "signing") {
            continue;
        }
        for cert in kd
            .descendants_and_self()
            .filter(|e| e.is(ns::DS, "X509Certificate"))
        {
            let text = cert.text().map_err(|e| format!("{source}: {e}"))?;
            let key = VerificationKey::from_base64_certificate(&text, source)
                .map_err(|e| format!("{source}: signing certificate: {e}"))?;
            signing_keys.push(key);
        }
    }
    let sso = idp
        .child_elements()
        .filter(|e| e.is(ns::MD, "SingleSignOnService"))
        .filter_map(|e| {
            let binding = match e.attr("Binding")? {
                BINDING_REDIRECT => SsoBinding::Redirect,
                BINDING_POST => SsoBinding::Post,
                _ => return None,
            };
            Some(SsoEndpoint {
                binding,
                location: e.attr("Location")?.to_string(),
            })
        })
        .collect();
    Ok(IdpMeta {
        entity_id,
        signing_keys,
        sso,
        want_authn_requests_signed: idp.attr("WantAuthnRequestsSigned") == Some("true"),
    })
}
