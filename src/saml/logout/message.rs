//! LogoutRequest and LogoutResponse out (SAML core 3.7): the XML, unsigned. The bindings
//! ([`super::binding`]) sign it the way each requires.

use time::OffsetDateTime;

use crate::saml::NameId;
use crate::saml::time::format_instant;
use crate::xml::escape::escape;

const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const STATUS_RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
pub const STATUS_REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
pub const STATUS_PARTIAL_LOGOUT: &str = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";

/// A LogoutRequest from this SP to an IdP (SP-initiated logout).
#[derive(Clone, Debug)]
pub struct LogoutRequest {
    /// `_` + 128 random bits in hex (see `saml::request::new_request_id`).
    pub id: String,
    pub issue_instant: OffsetDateTime,
    /// Where it goes: the SingleLogoutService location for the binding used.
    pub destination: String,
    /// Who sends it: our SP entityID (or, in tests, an IdP's).
    pub issuer: String,
    /// After this the IdP must not act on it.
    pub not_on_or_after: Option<OffsetDateTime>,
    /// The NameID exactly as the IdP sent it at login (value, Format and qualifiers).
    pub name_id: NameId,
    /// In place of the NameID: its `saml:EncryptedID` (see [`encrypted_name_id`]).
    pub encrypted_id: Option<String>,
    /// The SessionIndex of the login being ended, if the IdP gave one.
    pub session_index: Option<String>,
}

impl LogoutRequest {
    pub fn to_xml(&self) -> String {
        let mut xml = format!(
            r#"<samlp:LogoutRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{}" Version="2.0" IssueInstant="{}" Destination="{}""#,
            escape(&self.id),
            format_instant(self.issue_instant),
            escape(&self.destination),
        );
        if let Some(until) = self.not_on_or_after {
            xml.push_str(&format!(r#" NotOnOrAfter="{}""#, format_instant(until)));
        }
        xml.push('>');
        xml.push_str(&format!(
            "<saml:Issuer>{}</saml:Issuer>",
            escape(&self.issuer)
        ));
        match &self.encrypted_id {
            Some(encrypted) => xml.push_str(encrypted),
            None => xml.push_str(&name_id_xml(&self.name_id)),
        }
        if let Some(index) = &self.session_index {
            xml.push_str(&format!(
                "<samlp:SessionIndex>{}</samlp:SessionIndex>",
                escape(index)
            ));
        }
        xml.push_str("</samlp:LogoutRequest>");
        xml
    }
}

/// `<saml:NameID>` with the attributes it came with.
pub fn name_id_xml(name_id: &NameId) -> String {
    let mut xml = String::from("<saml:NameID");
    for (attr, value) in [
        ("Format", &name_id.format),
        ("NameQualifier", &name_id.name_qualifier),
        ("SPNameQualifier", &name_id.sp_name_qualifier),
    ] {
        if let Some(v) = value {
            xml.push_str(&format!(r#" {attr}="{}""#, escape(v)));
        }
    }
    xml.push_str(&format!(">{}</saml:NameID>", escape(&name_id.value)));
    xml
}

/// `name_id` encrypted to the IdP's `certificate`: a `saml:EncryptedID`, AES-256-GCM content
/// and `xmlenc#rsa-oaep-mgf1p` key transport (XML Encryption 1.0's OAEP, which every IdP's
/// XML-Enc library reads; xmlsec1 1.2 has no `xmlenc11#rsa-oaep`).
pub fn encrypted_name_id(
    name_id: &NameId,
    certificate: &openssl::x509::X509Ref,
) -> Result<String, crate::crypto::encrypt::EncryptError> {
    // The plaintext declares its namespace: the IdP decrypts it on its own.
    let plain = name_id_xml(name_id).replacen(
        "<saml:NameID",
        &format!(r#"<saml:NameID xmlns:saml="{SAML}""#),
        1,
    );
    crate::crypto::encrypt::encrypt_element(
        plain.as_bytes(),
        crate::crypto::encrypt::EncryptedElementKind::Id,
        certificate,
        &crate::crypto::encrypt::EncryptionOptions {
            key_transport: crate::crypto::enc_algorithms::KeyTransport::RsaOaepMgf1p {
                digest: crate::crypto::enc_algorithms::OaepHash::Sha1,
                label: Vec::new(),
            },
            ..crate::crypto::encrypt::EncryptionOptions::default()
        },
    )
}

/// How a logout went, as a LogoutResponse says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogoutStatus {
    /// Every session named ended.
    Success,
    /// Some session could not be ended (a store failed): Responder / PartialLogout.
    PartialLogout,
    /// The request was refused: Requester.
    Refused,
}

/// A LogoutResponse from this SP to an IdP (answering an IdP-initiated logout).
#[derive(Clone, Debug)]
pub struct LogoutResponse {
    pub id: String,
    pub issue_instant: OffsetDateTime,
    /// Empty over SOAP, where the response goes back on the same connection.
    pub destination: String,
    pub in_response_to: String,
    /// Who sends it: our SP entityID (or, in tests, an IdP's).
    pub issuer: String,
    pub status: LogoutStatus,
}

impl LogoutResponse {
    pub fn to_xml(&self) -> String {
        let status = match self.status {
            LogoutStatus::Success => format!(r#"<samlp:StatusCode Value="{STATUS_SUCCESS}"/>"#),
            LogoutStatus::PartialLogout => format!(
                r#"<samlp:StatusCode Value="{STATUS_RESPONDER}"><samlp:StatusCode Value="{STATUS_PARTIAL_LOGOUT}"/></samlp:StatusCode>"#
            ),
            LogoutStatus::Refused => format!(r#"<samlp:StatusCode Value="{STATUS_REQUESTER}"/>"#),
        };
        format!(
            concat!(
                r#"<samlp:LogoutResponse xmlns:samlp="{samlp}" xmlns:saml="{saml}" ID="{id}" Version="2.0" "#,
                r#"IssueInstant="{instant}"{dest} InResponseTo="{irt}">"#,
                "<saml:Issuer>{issuer}</saml:Issuer><samlp:Status>{status}</samlp:Status>",
                "</samlp:LogoutResponse>"
            ),
            samlp = SAMLP,
            saml = SAML,
            id = escape(&self.id),
            instant = format_instant(self.issue_instant),
            dest = if self.destination.is_empty() {
                String::new()
            } else {
                format!(r#" Destination="{}""#, escape(&self.destination))
            },
            irt = escape(&self.in_response_to),
            issuer = escape(&self.issuer),
            status = status,
        )
    }
}
