//! SP metadata out: the EntityDescriptor an admin hands to the IdP.
//!
//! It publishes the current certificate and, during a rollover, the next one, for both signing
//! and encryption, so the IdP learns the new key before the switch. The EncryptionMethods list
//! exactly what the decryptor accepts, so an IdP that reads it never picks RSA1_5 or 3DES.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use openssl::pkey::{PKeyRef, Private};
use openssl::x509::{X509, X509Ref};

use super::request::{BINDING_POST, new_request_id, signature_algorithm_for};
use crate::crypto::algorithms::DigestAlgorithm;
use crate::crypto::sign::{SignError, sign_enveloped};
use crate::xml::escape::escape;

pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";

/// Key transport and content encryption algorithms, best first.
const KEY_TRANSPORT: &[&str] = &[
    "http://www.w3.org/2009/xmlenc11#rsa-oaep",
    "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
];
const CONTENT_GCM: &[&str] = &[
    "http://www.w3.org/2009/xmlenc11#aes256-gcm",
    "http://www.w3.org/2009/xmlenc11#aes128-gcm",
];
const CONTENT_CBC: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
];

/// What the SP metadata says.
#[derive(Clone, Debug)]
pub struct SpMetadata<'a> {
    pub entity_id: &'a str,
    pub acs_url: &'a str,
    /// Single Logout endpoint (HTTP-Redirect and HTTP-POST; SOAP at `<slo_url>/soap`), when the
    /// gateway offers one.
    pub slo_url: Option<&'a str>,
    /// Current certificate first, then the next one during a rollover.
    pub certificates: Vec<&'a X509>,
    pub authn_requests_signed: bool,
    pub want_assertions_signed: bool,
    pub name_id_formats: Vec<String>,
    /// Publish AES-CBC content encryption (some IdP configured with `allow_cbc`).
    pub accept_cbc: bool,
}

/// Why metadata could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SpMetadataError {
    #[error("cannot encode the SP certificate as DER: {0}")]
    Certificate(#[from] openssl::error::ErrorStack),
    #[error("cannot sign the SP metadata: {0}")]
    Signing(String),
}

/// Sign `xml` (from [`SpMetadata::to_xml`]) with an enveloped signature, so an IdP that checks
/// metadata signatures can pin the SP certificate.
pub fn sign_metadata(
    xml: &str,
    key: &PKeyRef<Private>,
    certificate: &X509Ref,
) -> Result<String, SpMetadataError> {
    let algorithm =
        signature_algorithm_for(key).map_err(|e| SpMetadataError::Signing(e.to_string()))?;
    sign_enveloped(
        xml,
        None,
        key,
        Some(certificate),
        algorithm,
        DigestAlgorithm::Sha256,
    )
    .map_err(|e: SignError| SpMetadataError::Signing(e.to_string()))
}

fn key_descriptor(usage: &str, cert_b64: &str, methods: &[&str]) -> String {
    let mut out = format!(
        concat!(
            r#"<md:KeyDescriptor use="{usage}"><ds:KeyInfo><ds:X509Data>"#,
            "<ds:X509Certificate>{cert}</ds:X509Certificate>",
            "</ds:X509Data></ds:KeyInfo>"
        ),
        usage = usage,
        cert = cert_b64
    );
    for m in methods {
        out.push_str(&format!(r#"<md:EncryptionMethod Algorithm="{m}"/>"#));
    }
    out.push_str("</md:KeyDescriptor>");
    out
}

impl SpMetadata<'_> {
    /// The EntityDescriptor, in the element order the OASIS schema requires.
    pub fn to_xml(&self) -> Result<String, SpMetadataError> {
        let mut xml = String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        xml.push('\n');
        xml.push_str(&format!(
            concat!(
                r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" "#,
                r#"xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="{}" entityID="{}">"#,
                r#"<md:SPSSODescriptor AuthnRequestsSigned="{}" WantAssertionsSigned="{}" "#,
                r#"protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">"#
            ),
            new_request_id(),
            escape(self.entity_id),
            self.authn_requests_signed,
            self.want_assertions_signed
        ));
        let mut enc_methods: Vec<&str> = CONTENT_GCM.to_vec();
        if self.accept_cbc {
            enc_methods.extend_from_slice(CONTENT_CBC);
        }
        enc_methods.extend_from_slice(KEY_TRANSPORT);
        for cert in &self.certificates {
            let b64 = B64.encode(cert.to_der()?);
            xml.push_str(&key_descriptor("signing", &b64, &[]));
            xml.push_str(&key_descriptor("encryption", &b64, &enc_methods));
        }
        if let Some(slo) = self.slo_url {
            for binding in [
                super::request::BINDING_REDIRECT,
                super::request::BINDING_POST,
            ] {
                xml.push_str(&format!(
                    r#"<md:SingleLogoutService Binding="{}" Location="{}"/>"#,
                    binding,
                    escape(slo)
                ));
            }
            xml.push_str(&format!(
                r#"<md:SingleLogoutService Binding="{}" Location="{}/soap"/>"#,
                super::logout::binding::BINDING_SOAP,
                escape(slo)
            ));
        }
        let formats: Vec<&str> = if self.name_id_formats.is_empty() {
            vec![NAMEID_UNSPECIFIED]
        } else {
            self.name_id_formats.iter().map(String::as_str).collect()
        };
        for f in formats {
            xml.push_str(&format!("<md:NameIDFormat>{}</md:NameIDFormat>", escape(f)));
        }
        xml.push_str(&format!(
            r#"<md:AssertionConsumerService Binding="{}" Location="{}" index="0" isDefault="true"/>"#,
            BINDING_POST,
            escape(self.acs_url)
        ));
        xml.push_str("</md:SPSSODescriptor></md:EntityDescriptor>\n");
        Ok(xml)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{ParseLimits, ns, parse};

    fn cert() -> X509 {
        use openssl::{
            asn1::Asn1Time, hash::MessageDigest, pkey::PKey, rsa::Rsa, x509::X509NameBuilder,
        };
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "sp").unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(365).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        b.build()
    }

    #[test]
    fn publishes_both_certificates_for_signing_and_encryption_without_weak_algorithms() {
        let (current, next) = (cert(), cert());
        let md = SpMetadata {
            entity_id: "https://app.example.com/saml/metadata",
            acs_url: "https://app.example.com/saml/acs",
            slo_url: None,
            certificates: vec![&current, &next],
            authn_requests_signed: true,
            want_assertions_signed: true,
            name_id_formats: vec![],
            accept_cbc: false,
        };
        let xml = md.to_xml().unwrap();
        let doc = parse(xml.as_bytes(), &ParseLimits::default()).unwrap();
        let sp = doc
            .root()
            .first_child_named(ns::MD, "SPSSODescriptor")
            .unwrap();
        let kds: Vec<_> = sp
            .child_elements()
            .filter(|e| e.is(ns::MD, "KeyDescriptor"))
            .collect();
        assert_eq!(kds.len(), 4);
        assert_eq!(
            kds.iter()
                .filter(|k| k.attr("use") == Some("encryption"))
                .count(),
            2
        );
        let acs = sp
            .first_child_named(ns::MD, "AssertionConsumerService")
            .unwrap();
        assert_eq!(
            acs.attr("Location"),
            Some("https://app.example.com/saml/acs")
        );
        assert_eq!(acs.attr("Binding"), Some(BINDING_POST));
        assert!(!xml.contains("rsa-1_5"));
        assert!(!xml.contains("tripledes"));
        assert!(!xml.contains("aes256-cbc"));
        assert!(
            sp.first_child_named(ns::MD, "SingleLogoutService")
                .is_none()
        );
    }
}
