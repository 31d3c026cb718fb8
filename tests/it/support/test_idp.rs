//! The project's own test IdP: an RSA-2048 key and self-signed certificate (made once per test
//! binary), policies, and signed Responses built with `samlgate::saml::issue`.

use std::sync::OnceLock;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};
use samlgate::crypto::algorithms::{DigestAlgorithm, SignatureAlgorithm};
use samlgate::crypto::keys::VerificationKey;
use samlgate::saml::issue::{ResponseSigner, ResponseSpec, SignParts};
use samlgate::saml::{IdpPolicy, SpIdentity};
use time::OffsetDateTime;
use time::macros::datetime;

pub const IDP: &str = "https://idp.example.org/saml";
pub const SP: &str = "https://app.example.com/saml/metadata";
pub const ACS: &str = "https://app.example.com/saml/acs";
pub const REQUEST_ID: &str = "_4fee3b046395c4e751011e97f8900b5273d56685";

/// The fixed "now" of the tests (the pipeline takes the clock as a value).
pub const NOW: OffsetDateTime = datetime!(2026-05-23 09:14:20 UTC);

pub struct KeyPair {
    pub key: PKey<Private>,
    pub cert: X509,
}

pub fn make_key_pair(cn: &str) -> KeyPair {
    let rsa = Rsa::generate(2048).expect("rsa");
    let key = PKey::from_rsa(rsa).expect("pkey");
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", cn).expect("cn");
    let name = name.build();
    let mut b = X509::builder().expect("builder");
    b.set_version(2).expect("version");
    let serial = BigNum::from_u32(1)
        .and_then(|n| n.to_asn1_integer())
        .expect("serial");
    b.set_serial_number(&serial).expect("serial");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(&name).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    b.set_not_before(&Asn1Time::days_from_now(0).expect("t"))
        .expect("nb");
    b.set_not_after(&Asn1Time::days_from_now(365).expect("t"))
        .expect("na");
    b.sign(&key, MessageDigest::sha256()).expect("sign");
    KeyPair {
        key,
        cert: b.build(),
    }
}

/// The IdP's key pair, shared by every test in one binary (RSA key generation is slow).
pub fn idp_keys() -> &'static KeyPair {
    static KEYS: OnceLock<KeyPair> = OnceLock::new();
    KEYS.get_or_init(|| make_key_pair("Test IdP"))
}

/// An attacker's key pair: a valid certificate that no metadata trusts.
pub fn attacker_keys() -> &'static KeyPair {
    static KEYS: OnceLock<KeyPair> = OnceLock::new();
    KEYS.get_or_init(|| make_key_pair("Test IdP"))
}

pub fn policy() -> IdpPolicy {
    let keys = idp_keys();
    let vk = VerificationKey::from_certificate(keys.cert.clone(), "test metadata").expect("key");
    IdpPolicy::new(IDP, vec![vk])
}

pub fn sp() -> SpIdentity {
    SpIdentity {
        entity_id: SP.to_string(),
        acs_url: ACS.to_string(),
        decryption_keys: Vec::new(),
    }
}

/// A valid Response spec answering REQUEST_ID at NOW, with a few attributes.
pub fn spec() -> ResponseSpec {
    let mut s = ResponseSpec::new(IDP, SP, ACS, "alice@example.com", NOW);
    s.in_response_to = Some(REQUEST_ID.to_string());
    s.attributes = vec![
        ("mail".to_string(), vec!["alice@example.com".to_string()]),
        (
            "groups".to_string(),
            vec!["Admins".to_string(), "Staff".to_string()],
        ),
    ];
    s
}

pub fn signer_with(keys: &KeyPair) -> ResponseSigner<'_> {
    ResponseSigner {
        key: &keys.key,
        certificate: Some(&keys.cert),
        signature_algorithm: SignatureAlgorithm::RsaSha256,
        digest_algorithm: DigestAlgorithm::Sha256,
    }
}

pub fn signer() -> ResponseSigner<'static> {
    signer_with(idp_keys())
}

/// The Response XML for `spec`, with `parts` signed by the test IdP.
pub fn signed(spec: &ResponseSpec, parts: SignParts) -> String {
    signer().response(spec, parts).expect("sign")
}

/// IdP metadata for the test IdP (an EntityDescriptor with its signing certificate).
pub fn metadata_xml() -> String {
    use base64::Engine;
    let der = idp_keys().cert.to_der().expect("der");
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!(
        concat!(
            "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" ",
            "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{idp}\">",
            "<md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\" ",
            "WantAuthnRequestsSigned=\"true\">",
            "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}",
            "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
            "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" ",
            "Location=\"https://idp.example.org/sso\"/>",
            "</md:IDPSSODescriptor></md:EntityDescriptor>"
        ),
        idp = IDP,
        cert = b64
    )
}

/// Sign the element with ID `id` inside `xml` with the test IdP's key (RSA-SHA256), for tests
/// that edit a document before signing it.
pub fn sign_element(xml: &str, id: &str) -> String {
    samlgate::crypto::sign::sign_enveloped(
        xml,
        Some(id),
        &idp_keys().key,
        None,
        SignatureAlgorithm::RsaSha256,
        DigestAlgorithm::Sha256,
    )
    .expect("sign")
}
