//! The IdP side, minimal: build and sign a SAML Response. Used by the development IdP of
//! `samlgate demo`, and by the tests, benchmarks and fuzz seeds as the project's own test IdP.
//! Never part of the SP's trust path.

use crate::xml::escape::escape;
use openssl::pkey::{PKeyRef, Private};
use openssl::x509::X509Ref;
use time::{Duration, OffsetDateTime};

use super::time::format_instant;
use crate::crypto::algorithms::{DigestAlgorithm, SignatureAlgorithm};
use crate::crypto::sign::{SignError, sign_enveloped};

/// Which parts of the Response get a signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignParts {
    None,
    Assertion,
    Response,
    Both,
}

/// Everything a Response says. Defaults describe a valid SP-initiated login; tests change one
/// field at a time to build each attack.
#[derive(Clone, Debug)]
pub struct ResponseSpec {
    pub idp_entity_id: String,
    pub sp_entity_id: String,
    pub acs_url: String,
    pub response_id: String,
    pub assertion_id: String,
    pub in_response_to: Option<String>,
    pub issue_instant: OffsetDateTime,
    pub not_before: OffsetDateTime,
    pub not_on_or_after: OffsetDateTime,
    pub session_not_on_or_after: Option<OffsetDateTime>,
    pub session_index: String,
    pub name_id: String,
    pub name_id_format: String,
    pub attributes: Vec<(String, Vec<String>)>,
    pub status_code: String,
    /// Raw XML placed inside the Assertion after the AuthnStatement (for tests only).
    pub assertion_extra: String,
}

impl ResponseSpec {
    /// A valid Response for `now`, valid five minutes, answering `in_response_to`.
    pub fn new(
        idp_entity_id: &str,
        sp_entity_id: &str,
        acs_url: &str,
        name_id: &str,
        now: OffsetDateTime,
    ) -> Self {
        ResponseSpec {
            idp_entity_id: idp_entity_id.to_string(),
            sp_entity_id: sp_entity_id.to_string(),
            acs_url: acs_url.to_string(),
            response_id: random_id(),
            assertion_id: random_id(),
            in_response_to: None,
            issue_instant: now,
            not_before: now - Duration::seconds(30),
            not_on_or_after: now + Duration::minutes(5),
            session_not_on_or_after: Some(now + Duration::hours(8)),
            session_index: random_id(),
            name_id: name_id.to_string(),
            name_id_format: "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified".to_string(),
            attributes: Vec::new(),
            status_code: "urn:oasis:names:tc:SAML:2.0:status:Success".to_string(),
            assertion_extra: String::new(),
        }
    }

    /// The Assertion element alone (unsigned), with its namespace declarations on it so that it
    /// can stand alone (to be signed, or encrypted into an EncryptedAssertion).
    pub fn assertion_xml(&self) -> String {
        let in_response_to = self
            .in_response_to
            .as_deref()
            .map(|id| format!(" InResponseTo=\"{}\"", escape(id)))
            .unwrap_or_default();
        let session_limit = self
            .session_not_on_or_after
            .map(|t| format!(" SessionNotOnOrAfter=\"{}\"", format_instant(t)))
            .unwrap_or_default();
        let mut attributes = String::new();
        if !self.attributes.is_empty() {
            attributes.push_str("<saml:AttributeStatement>");
            for (name, values) in &self.attributes {
                attributes.push_str(&format!(
                    "<saml:Attribute Name=\"{}\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:basic\">",
                    escape(name)
                ));
                for v in values {
                    attributes.push_str(&format!(
                        "<saml:AttributeValue xsi:type=\"xs:string\">{}</saml:AttributeValue>",
                        escape(v)
                    ));
                }
                attributes.push_str("</saml:Attribute>");
            }
            attributes.push_str("</saml:AttributeStatement>");
        }
        format!(
            concat!(
                "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ",
                "xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" ",
                "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ",
                "ID=\"{aid}\" Version=\"2.0\" IssueInstant=\"{now}\">",
                "<saml:Issuer>{issuer}</saml:Issuer>",
                "<saml:Subject><saml:NameID Format=\"{fmt}\">{name_id}</saml:NameID>",
                "<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">",
                "<saml:SubjectConfirmationData NotOnOrAfter=\"{nooa}\" Recipient=\"{acs}\"{irt}/>",
                "</saml:SubjectConfirmation></saml:Subject>",
                "<saml:Conditions NotBefore=\"{nb}\" NotOnOrAfter=\"{nooa}\">",
                "<saml:AudienceRestriction><saml:Audience>{aud}</saml:Audience></saml:AudienceRestriction>",
                "</saml:Conditions>",
                "<saml:AuthnStatement AuthnInstant=\"{now}\" SessionIndex=\"{sidx}\"{slimit}>",
                "<saml:AuthnContext><saml:AuthnContextClassRef>",
                "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
                "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>",
                "{attrs}{extra}</saml:Assertion>"
            ),
            aid = escape(&self.assertion_id),
            now = format_instant(self.issue_instant),
            issuer = escape(&self.idp_entity_id),
            fmt = escape(&self.name_id_format),
            name_id = escape(&self.name_id),
            nooa = format_instant(self.not_on_or_after),
            acs = escape(&self.acs_url),
            irt = in_response_to,
            nb = format_instant(self.not_before),
            aud = escape(&self.sp_entity_id),
            sidx = escape(&self.session_index),
            slimit = session_limit,
            attrs = attributes,
            extra = self.assertion_extra,
        )
    }

    /// The Response around an already-built Assertion (plain, signed or encrypted XML).
    pub fn response_xml_around(&self, assertion: &str) -> String {
        let in_response_to = self
            .in_response_to
            .as_deref()
            .map(|id| format!(" InResponseTo=\"{}\"", escape(id)))
            .unwrap_or_default();
        format!(
            concat!(
                "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ",
                "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ",
                "ID=\"{rid}\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{acs}\"{irt}>",
                "<saml:Issuer>{issuer}</saml:Issuer>",
                "<samlp:Status><samlp:StatusCode Value=\"{status}\"/></samlp:Status>",
                "{assertion}</samlp:Response>"
            ),
            rid = escape(&self.response_id),
            now = format_instant(self.issue_instant),
            acs = escape(&self.acs_url),
            irt = in_response_to,
            issuer = escape(&self.idp_entity_id),
            status = escape(&self.status_code),
            assertion = assertion,
        )
    }
}

/// Signs what [`ResponseSpec`] builds.
pub struct ResponseSigner<'k> {
    pub key: &'k PKeyRef<Private>,
    pub certificate: Option<&'k X509Ref>,
    pub signature_algorithm: SignatureAlgorithm,
    pub digest_algorithm: DigestAlgorithm,
}

impl ResponseSigner<'_> {
    /// The signed Assertion XML (standalone), e.g. to encrypt afterwards.
    pub fn signed_assertion(&self, spec: &ResponseSpec) -> Result<String, SignError> {
        self.sign(&spec.assertion_xml(), &spec.assertion_id)
    }

    /// The whole Response XML with the chosen parts signed (the Assertion first, then the
    /// Response, so the Response signature covers the Assertion's).
    pub fn response(&self, spec: &ResponseSpec, parts: SignParts) -> Result<String, SignError> {
        let assertion = match parts {
            SignParts::Assertion | SignParts::Both => self.signed_assertion(spec)?,
            SignParts::None | SignParts::Response => spec.assertion_xml(),
        };
        let response = spec.response_xml_around(&assertion);
        match parts {
            SignParts::Response | SignParts::Both => self.sign(&response, &spec.response_id),
            SignParts::None | SignParts::Assertion => Ok(response),
        }
    }

    fn sign(&self, xml: &str, id: &str) -> Result<String, SignError> {
        sign_enveloped(
            xml,
            Some(id),
            self.key,
            self.certificate,
            self.signature_algorithm,
            self.digest_algorithm,
        )
    }
}

/// A fresh 128-bit random identifier in SAML's xs:ID form (`_` + hex).
pub fn random_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let mut s = String::with_capacity(33);
    s.push('_');
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}
