//! Shared fixtures for the xmlenc_* integration tests: SP keys, a sample Assertion, and helpers
//! that wrap an EncryptedAssertion in a Response, parse it strictly and decrypt it.

use std::sync::OnceLock;

use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::X509;
use samlgate::crypto::DecryptionKey;
use samlgate::crypto::decrypt::{Decrypted, DecryptionError, EncryptionPolicy, decrypt_element};
use samlgate::crypto::enc_algorithms::{KeyTransport, OaepHash};
use samlgate::crypto::encrypt::{EncryptionOptions, encrypt_assertion};
use samlgate::crypto::keygen::self_signed_certificate;
use samlgate::xml::{self, ParseLimits, ns};

pub const ASSERTION: &str = r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a7c1" Version="2.0" IssueInstant="2026-11-22T12:00:00Z"><saml:Issuer>https://idp.example.org/saml</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">alice@example.org</saml:NameID></saml:Subject><saml:AttributeStatement><saml:Attribute Name="groups"><saml:AttributeValue>MyOrg:Administrators &amp; friends</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#;

/// An SP key pair with its self-signed certificate, as the IdP would see it in SP metadata.
pub struct SpCredentials {
    pub key: PKey<Private>,
    pub certificate: X509,
}

impl SpCredentials {
    pub fn decryption_key(&self, description: &str) -> DecryptionKey {
        DecryptionKey {
            key: self.key.clone(),
            certificate: Some(self.certificate.clone()),
            description: description.to_string(),
        }
    }
}

fn generate(cn: &str) -> SpCredentials {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let certificate = self_signed_certificate(&key, cn, 30).unwrap();
    SpCredentials { key, certificate }
}

/// The SP's current key.
pub fn current_sp() -> &'static SpCredentials {
    static SP: OnceLock<SpCredentials> = OnceLock::new();
    SP.get_or_init(|| generate("sp-current"))
}

/// The SP's previous key, still configured during rollover.
pub fn old_sp() -> &'static SpCredentials {
    static SP: OnceLock<SpCredentials> = OnceLock::new();
    SP.get_or_init(|| generate("sp-old"))
}

/// A key the SP never had.
pub fn stranger() -> &'static SpCredentials {
    static SP: OnceLock<SpCredentials> = OnceLock::new();
    SP.get_or_init(|| generate("stranger"))
}

pub fn sp_keys() -> Vec<DecryptionKey> {
    vec![current_sp().decryption_key("current sp.key")]
}

/// The three OAEP forms the project must accept.
pub fn oaep_transports() -> Vec<(&'static str, KeyTransport)> {
    vec![
        (
            "rsa-oaep-mgf1p, SHA-1 digest",
            KeyTransport::RsaOaepMgf1p {
                digest: OaepHash::Sha1,
                label: Vec::new(),
            },
        ),
        (
            "rsa-oaep-mgf1p, SHA-256 digest",
            KeyTransport::RsaOaepMgf1p {
                digest: OaepHash::Sha256,
                label: Vec::new(),
            },
        ),
        (
            "xmlenc11 rsa-oaep, SHA-256 digest, MGF1-SHA256",
            KeyTransport::RsaOaep {
                digest: OaepHash::Sha256,
                mgf: OaepHash::Sha256,
                label: Vec::new(),
            },
        ),
    ]
}

/// Encrypts the sample Assertion for the current SP key.
pub fn encrypted(options: &EncryptionOptions) -> String {
    encrypt_assertion(ASSERTION.as_bytes(), &current_sp().certificate, options).unwrap()
}

/// A Response carrying `encrypted_assertion`, as an IdP posts it.
pub fn response_with(encrypted_assertion: &str) -> String {
    format!(
        r#"<samlp:Response xmlns:samlp="{}" ID="_r1" Version="2.0" IssueInstant="2026-11-22T12:00:00Z">{encrypted_assertion}</samlp:Response>"#,
        ns::SAMLP
    )
}

/// Parses a whole Response strictly, finds its EncryptedAssertion (or EncryptedID /
/// EncryptedAttribute anywhere) and decrypts it.
pub fn decrypt_in_response(
    response_xml: &str,
    keys: &[DecryptionKey],
    policy: &EncryptionPolicy,
) -> Result<Decrypted, DecryptionError> {
    let doc =
        xml::parse(response_xml.as_bytes(), &ParseLimits::default()).expect("test Response parses");
    let encrypted = doc
        .elements()
        .find(|e| {
            e.namespace() == Some(ns::SAML)
                && matches!(
                    e.local_name(),
                    "EncryptedAssertion" | "EncryptedID" | "EncryptedAttribute"
                )
        })
        .expect("test Response holds an encrypted element");
    decrypt_element(encrypted, keys, policy)
}

/// Encrypts the sample Assertion with `options`, posts it in a Response and decrypts it with the
/// current SP key and the default policy.
pub fn round_trip(options: &EncryptionOptions) -> Result<Decrypted, DecryptionError> {
    decrypt_in_response(
        &response_with(&encrypted(options)),
        &sp_keys(),
        &EncryptionPolicy::default(),
    )
}
