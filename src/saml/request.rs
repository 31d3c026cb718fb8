//! AuthnRequest out: the XML, and its two front-channel bindings.
//!
//! - HTTP-Redirect (SAML bindings 3.4): raw DEFLATE, base64, URL-encoded; when signed, the
//!   signature covers the exact query string `SAMLRequest=..&RelayState=..&SigAlg=..`
//!   (bindings 3.4.4.1), not the XML.
//! - HTTP-POST (bindings 3.5): base64 of the XML in an auto-submitting form; when signed, the
//!   XML carries an enveloped signature ([`sign_for_post`]).

use crate::xml::escape::escape;
use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use openssl::pkey::{Id, PKeyRef, Private};
use openssl::x509::X509Ref;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::RngCore;
use time::OffsetDateTime;

use super::time::format_instant;
use crate::crypto::algorithms::{DigestAlgorithm, SignatureAlgorithm};
use crate::crypto::primitive::sign_bytes;
use crate::crypto::sign::{SignError, sign_enveloped};

pub use super::metadata::{BINDING_POST, BINDING_REDIRECT};

/// Everything an AuthnRequest says.
#[derive(Clone, Debug)]
pub struct AuthnRequest {
    /// `_` + 32 hex digits (128 random bits): unguessable, and an NCName as xs:ID requires.
    pub id: String,
    pub issue_instant: OffsetDateTime,
    /// The IdP's SSO endpoint; IdPs compare it with their own URL.
    pub destination: String,
    pub acs_url: String,
    pub sp_entity_id: String,
    pub force_authn: bool,
    pub is_passive: bool,
    pub name_id_format: Option<String>,
    /// Requested AuthnContextClassRefs (Comparison="exact"); empty means none requested.
    pub authn_context: Vec<String>,
}

/// A fresh request ID: `_` followed by 128 random bits in hex.
pub fn new_request_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("_{hex}")
}

/// Why a request could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("compressing the AuthnRequest failed: {0}")]
    Deflate(#[from] std::io::Error),
    #[error("signing the AuthnRequest failed: {0}")]
    Signing(#[from] SignError),
    #[error("signing AuthnRequests with a {0} key is not supported (use an RSA or EC SP key)")]
    UnsupportedKey(String),
}

/// RSA-SHA256 for RSA keys, ECDSA-SHA256 for EC keys: what every IdP accepts.
pub fn signature_algorithm_for(key: &PKeyRef<Private>) -> Result<SignatureAlgorithm, RequestError> {
    match key.id() {
        Id::RSA => Ok(SignatureAlgorithm::RsaSha256),
        Id::EC => Ok(SignatureAlgorithm::EcdsaSha256),
        other => Err(RequestError::UnsupportedKey(format!("{other:?}"))),
    }
}

/// The request XML with an enveloped signature, for the HTTP-POST binding.
pub fn sign_for_post(
    xml: &str,
    key: &PKeyRef<Private>,
    certificate: Option<&X509Ref>,
) -> Result<String, RequestError> {
    let algorithm = signature_algorithm_for(key)?;
    Ok(sign_enveloped(
        xml,
        None,
        key,
        certificate,
        algorithm,
        DigestAlgorithm::Sha256,
    )?)
}

impl AuthnRequest {
    /// The request as XML (no declaration, no signature).
    pub fn to_xml(&self) -> String {
        let mut xml = format!(
            concat!(
                r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" "#,
                r#"xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" "#,
                r#"IssueInstant="{instant}" Destination="{dest}" AssertionConsumerServiceURL="{acs}" "#,
                r#"ProtocolBinding="{binding}""#
            ),
            id = escape(&self.id),
            instant = format_instant(self.issue_instant),
            dest = escape(&self.destination),
            acs = escape(&self.acs_url),
            binding = BINDING_POST,
        );
        if self.force_authn {
            xml.push_str(r#" ForceAuthn="true""#);
        }
        if self.is_passive {
            xml.push_str(r#" IsPassive="true""#);
        }
        xml.push('>');
        xml.push_str(&format!(
            "<saml:Issuer>{}</saml:Issuer>",
            escape(&self.sp_entity_id)
        ));
        match &self.name_id_format {
            Some(format) => xml.push_str(&format!(
                r#"<samlp:NameIDPolicy Format="{}" AllowCreate="true"/>"#,
                escape(format)
            )),
            None => xml.push_str(r#"<samlp:NameIDPolicy AllowCreate="true"/>"#),
        }
        if !self.authn_context.is_empty() {
            xml.push_str(r#"<samlp:RequestedAuthnContext Comparison="exact">"#);
            for class in &self.authn_context {
                xml.push_str(&format!(
                    "<saml:AuthnContextClassRef>{}</saml:AuthnContextClassRef>",
                    escape(class)
                ));
            }
            xml.push_str("</samlp:RequestedAuthnContext>");
        }
        xml.push_str("</samlp:AuthnRequest>");
        xml
    }
}

/// Characters left as they are in query values: RFC 3986 unreserved.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn enc(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// Raw DEFLATE (RFC 1951, no zlib header) then base64, as the Redirect binding requires.
pub fn deflate_base64(xml: &str) -> Result<String, RequestError> {
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(xml.as_bytes())?;
    Ok(B64.encode(encoder.finish()?))
}

/// The full IdP URL for the HTTP-Redirect binding. With `signing_key`, appends `SigAlg` and
/// `Signature` over the query string exactly as sent.
pub fn redirect_url(
    destination: &str,
    xml: &str,
    relay_state: &str,
    signing_key: Option<&PKeyRef<Private>>,
) -> Result<String, RequestError> {
    let relay_state = (!relay_state.is_empty()).then_some(relay_state);
    redirect_url_for(destination, "SAMLRequest", xml, relay_state, signing_key)
}

/// The HTTP-Redirect binding's URL for any message (`parameter`: `SAMLRequest` or
/// `SAMLResponse`): deflated, base64, URL-encoded, and with `signing_key` the detached signature
/// over the query string exactly as sent (SAML bindings section 3.4.4.1).
pub fn redirect_url_for(
    destination: &str,
    parameter: &str,
    xml: &str,
    relay_state: Option<&str>,
    signing_key: Option<&PKeyRef<Private>>,
) -> Result<String, RequestError> {
    let mut query = format!("{parameter}={}", enc(&deflate_base64(xml)?));
    if let Some(relay) = relay_state {
        query.push_str(&format!("&RelayState={}", enc(relay)));
    }
    if let Some(key) = signing_key {
        let algorithm = signature_algorithm_for(key)?;
        query.push_str(&format!("&SigAlg={}", enc(algorithm.uri())));
        let signature = sign_bytes(algorithm, key, query.as_bytes()).map_err(SignError::from)?;
        query.push_str(&format!("&Signature={}", enc(&B64.encode(signature))));
    }
    // An SSO or SLO URL may already carry a query (ADFS, some Shibboleth setups).
    let sep = if destination.contains('?') { '&' } else { '?' };
    Ok(format!("{destination}{sep}{query}"))
}

/// An HTML page that posts `SAMLRequest` (base64 of the XML, not deflated) and `RelayState`
/// to the IdP, submitting itself; a button covers browsers without JavaScript.
pub fn post_form(destination: &str, xml: &str, relay_state: &str) -> String {
    let request = B64.encode(xml.as_bytes());
    let relay = if relay_state.is_empty() {
        String::new()
    } else {
        format!(
            r#"<input type="hidden" name="RelayState" value="{}"/>"#,
            escape(relay_state)
        )
    };
    format!(
        concat!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Signing in</title></head>",
            "<body onload=\"document.forms[0].submit()\">",
            "<form method=\"post\" action=\"{action}\">",
            "<input type=\"hidden\" name=\"SAMLRequest\" value=\"{request}\"/>{relay}",
            "<noscript><button type=\"submit\">Continue to sign in</button></noscript>",
            "</form></body></html>\n"
        ),
        action = escape(destination),
        request = request,
        relay = relay,
    )
}

#[cfg(test)]
mod tests;
