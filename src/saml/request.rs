//! AuthnRequest out: the XML, and its two front-channel bindings.
//!
//! - HTTP-Redirect (SAML bindings 3.4): raw DEFLATE, base64, URL-encoded; when signed, the
//!   signature covers the exact query string `SAMLRequest=..&RelayState=..&SigAlg=..`
//!   (bindings 3.4.4.1), not the XML.
//! - HTTP-POST (bindings 3.5): base64 of the XML in an auto-submitting form; when signed, the
//!   XML carries an enveloped signature ([`sign_for_post`]).

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

pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

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

/// Escape text for an XML attribute value or text node.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
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
            id = xml_escape(&self.id),
            instant = format_instant(self.issue_instant),
            dest = xml_escape(&self.destination),
            acs = xml_escape(&self.acs_url),
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
            xml_escape(&self.sp_entity_id)
        ));
        match &self.name_id_format {
            Some(format) => xml.push_str(&format!(
                r#"<samlp:NameIDPolicy Format="{}" AllowCreate="true"/>"#,
                xml_escape(format)
            )),
            None => xml.push_str(r#"<samlp:NameIDPolicy AllowCreate="true"/>"#),
        }
        if !self.authn_context.is_empty() {
            xml.push_str(r#"<samlp:RequestedAuthnContext Comparison="exact">"#);
            for class in &self.authn_context {
                xml.push_str(&format!(
                    "<saml:AuthnContextClassRef>{}</saml:AuthnContextClassRef>",
                    xml_escape(class)
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
    let mut query = format!("SAMLRequest={}", enc(&deflate_base64(xml)?));
    if !relay_state.is_empty() {
        query.push_str(&format!("&RelayState={}", enc(relay_state)));
    }
    if let Some(key) = signing_key {
        let algorithm = signature_algorithm_for(key)?;
        query.push_str(&format!("&SigAlg={}", enc(algorithm.uri())));
        let signature = sign_bytes(algorithm, key, query.as_bytes()).map_err(SignError::from)?;
        query.push_str(&format!("&Signature={}", enc(&B64.encode(signature))));
    }
    // An SSO URL may already carry a query (ADFS, some Shibboleth setups).
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
            xml_escape(relay_state)
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
        action = xml_escape(destination),
        request = request,
        relay = relay,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::sign::Verifier;
    use std::io::Read;
    use time::macros::datetime;

    fn request() -> AuthnRequest {
        AuthnRequest {
            id: "_0123456789abcdef0123456789abcdef".into(),
            issue_instant: datetime!(2026-05-23 09:14:20 UTC),
            destination: "https://idp.example.com/sso?tenant=a&x=1".into(),
            acs_url: "https://app.example.com/saml/acs".into(),
            sp_entity_id: "https://app.example.com/saml/metadata".into(),
            force_authn: true,
            is_passive: false,
            name_id_format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into()),
            authn_context: vec![
                "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport".into(),
            ],
        }
    }

    fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
        let query = url.split_once('?')?.1;
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    }

    fn decode(v: &str) -> String {
        percent_encoding::percent_decode_str(v)
            .decode_utf8()
            .map(|c| c.into_owned())
            .unwrap()
    }

    #[test]
    fn request_ids_are_128_random_bits_with_an_underscore() {
        let a = new_request_id();
        let b = new_request_id();
        assert_eq!(a.len(), 33);
        assert!(a.starts_with('_'));
        assert!(a[1..].bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn xml_parses_with_the_strict_parser_and_carries_every_field() {
        let xml = request().to_xml();
        let doc = crate::xml::parse(xml.as_bytes(), &crate::xml::ParseLimits::default()).unwrap();
        let root = doc.root();
        assert!(root.is(crate::xml::ns::SAMLP, "AuthnRequest"));
        assert_eq!(root.attr("ID"), Some("_0123456789abcdef0123456789abcdef"));
        assert_eq!(root.attr("IssueInstant"), Some("2026-05-23T09:14:20Z"));
        assert_eq!(
            root.attr("Destination"),
            Some("https://idp.example.com/sso?tenant=a&x=1")
        );
        assert_eq!(root.attr("ForceAuthn"), Some("true"));
        assert_eq!(root.attr("IsPassive"), None);
        let issuer = root
            .first_child_named(crate::xml::ns::SAML, "Issuer")
            .unwrap();
        assert_eq!(
            issuer.text().unwrap(),
            "https://app.example.com/saml/metadata"
        );
        let policy = root
            .first_child_named(crate::xml::ns::SAMLP, "NameIDPolicy")
            .unwrap();
        assert_eq!(
            policy.attr("Format"),
            Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
        );
        assert!(
            root.first_child_named(crate::xml::ns::SAMLP, "RequestedAuthnContext")
                .is_some()
        );
    }

    #[test]
    fn redirect_binding_inflates_back_to_the_request_and_keeps_the_idp_query() {
        let xml = request().to_xml();
        let url = redirect_url(
            "https://idp.example.com/sso?tenant=a",
            &xml,
            "r3lay/+=",
            None,
        )
        .unwrap();
        assert!(url.starts_with("https://idp.example.com/sso?tenant=a&SAMLRequest="));
        let compressed = B64
            .decode(decode(query_param(&url, "SAMLRequest").unwrap()))
            .unwrap();
        let mut inflated = String::new();
        flate2::read::DeflateDecoder::new(compressed.as_slice())
            .read_to_string(&mut inflated)
            .unwrap();
        assert_eq!(inflated, xml);
        assert_eq!(query_param(&url, "RelayState"), Some("r3lay%2F%2B%3D"));
        assert!(query_param(&url, "Signature").is_none());
    }

    #[test]
    fn redirect_signature_covers_the_query_string_in_binding_order() {
        let rsa = Rsa::generate(2048).unwrap();
        let key = PKey::from_rsa(rsa).unwrap();
        let url = redirect_url("https://idp.example.com/sso", "<x/>", "abc", Some(&key)).unwrap();
        let query = url.split_once('?').unwrap().1;
        let (signed, sig) = query.split_once("&Signature=").unwrap();
        assert!(signed.starts_with("SAMLRequest="));
        assert!(signed.contains("&RelayState=abc&SigAlg="));
        assert_eq!(
            decode(query_param(&url, "SigAlg").unwrap()),
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
        );
        let signature = B64.decode(decode(sig)).unwrap();
        let public = PKey::public_key_from_pem(&key.public_key_to_pem().unwrap()).unwrap();
        let mut verifier = Verifier::new(MessageDigest::sha256(), &public).unwrap();
        verifier.update(signed.as_bytes()).unwrap();
        assert!(verifier.verify(&signature).unwrap());
    }

    #[test]
    fn redirect_signing_refuses_keys_other_than_rsa_and_ec() {
        let key = PKey::generate_ed25519().unwrap();
        assert!(matches!(
            redirect_url("https://idp/sso", "<x/>", "", Some(&key)),
            Err(RequestError::UnsupportedKey(_))
        ));
    }

    #[test]
    fn post_request_signature_verifies_with_the_project_verifier() {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let signed = sign_for_post(&request().to_xml(), &key, None).unwrap();
        let doc =
            crate::xml::parse(signed.as_bytes(), &crate::xml::ParseLimits::default()).unwrap();
        let public = PKey::public_key_from_pem(&key.public_key_to_pem().unwrap()).unwrap();
        let vk = crate::crypto::keys::VerificationKey {
            key: public,
            certificate: None,
            description: "sp".into(),
        };
        let verified =
            crate::crypto::dsig::verify(&doc, doc.root(), std::slice::from_ref(&vk), false);
        assert!(verified.is_ok(), "{verified:?}");
    }

    #[test]
    fn post_form_escapes_the_action_and_relay_state() {
        let page = post_form(
            "https://idp.example.com/sso?a=1&b=\"2\"",
            "<x/>",
            "<script>",
        );
        assert!(page.contains(r#"action="https://idp.example.com/sso?a=1&amp;b=&quot;2&quot;""#));
        assert!(page.contains(r#"name="RelayState" value="&lt;script&gt;""#));
        assert!(page.contains(&format!(
            r#"name="SAMLRequest" value="{}""#,
            B64.encode("<x/>")
        )));
    }
}
