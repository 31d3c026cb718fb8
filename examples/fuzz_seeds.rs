//! Writes the fuzz seed corpus (fuzz/seeds/acs): valid Responses in each signing mode, signed
//! with fuzz/keys/idp.key, plus attack shapes, so mutations start from inputs that reach the
//! signature code. Run: `cargo run --example fuzz_seeds`.

use std::path::Path;

use openssl::pkey::PKey;
use openssl::x509::X509;
use samlgate::crypto::algorithms::{DigestAlgorithm, SignatureAlgorithm};
use samlgate::crypto::enc_algorithms::ContentAlgorithm;
use samlgate::crypto::encrypt::{EncryptionOptions, KeyPlacement, encrypt_assertion};
use samlgate::saml::issue::{ResponseSigner, ResponseSpec, SignParts};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let key = PKey::private_key_from_pem(&std::fs::read(root.join("keys/idp.key"))?)?;
    let cert = X509::from_pem(&std::fs::read(root.join("keys/idp.crt"))?)?;
    let now = time::macros::datetime!(2026-05-23 09:14:20 UTC);
    let mut spec = ResponseSpec::new(
        "https://idp.example.org/saml",
        "https://app.example.com/saml/metadata",
        "https://app.example.com/saml/acs",
        "alice@example.com",
        now,
    );
    spec.in_response_to = Some("_req".to_string());
    spec.attributes = vec![
        ("mail".into(), vec!["alice@example.com".into()]),
        ("groups".into(), vec!["Admins".into(), "Staff".into()]),
    ];
    let signer = ResponseSigner {
        key: &key,
        certificate: Some(&cert),
        signature_algorithm: SignatureAlgorithm::RsaSha256,
        digest_algorithm: DigestAlgorithm::Sha256,
    };
    let out = root.join("seeds/acs");
    std::fs::create_dir_all(&out)?;
    for (name, parts) in [
        ("signed-both.xml", SignParts::Both),
        ("signed-assertion.xml", SignParts::Assertion),
        ("signed-response.xml", SignParts::Response),
        ("unsigned.xml", SignParts::None),
    ] {
        std::fs::write(out.join(name), signer.response(&spec, parts)?)?;
    }
    // Encrypted to fuzz/keys/sp.crt, so mutations reach the decryptor (GCM and CBC, key inside
    // KeyInfo and Okta's key-beside-data shape).
    let sp_cert = X509::from_pem(&std::fs::read(root.join("keys/sp.crt"))?)?;
    let signed_assertion = signer.signed_assertion(&spec)?;
    for (name, options) in [
        ("encrypted-gcm.xml", EncryptionOptions::default()),
        (
            "encrypted-cbc-beside.xml",
            EncryptionOptions {
                content: ContentAlgorithm::Aes256Cbc,
                placement: KeyPlacement::BesideWithRetrievalMethod,
                ..EncryptionOptions::default()
            },
        ),
    ] {
        let encrypted = encrypt_assertion(signed_assertion.as_bytes(), &sp_cert, &options)?;
        std::fs::write(out.join(name), spec.response_xml_around(&encrypted))?;
    }
    let original = signer.signed_assertion(&spec)?;
    let mut evil = spec.clone();
    evil.name_id = "admin@example.com".into();
    std::fs::write(
        out.join("xsw-two-assertions.xml"),
        spec.response_xml_around(&format!("{}{original}", evil.assertion_xml())),
    )?;
    evil.assertion_extra = format!("<saml:Advice>{original}</saml:Advice>");
    std::fs::write(
        out.join("xsw-advice.xml"),
        spec.response_xml_around(&evil.assertion_xml()),
    )?;
    println!("seeds written to {}", out.display());
    Ok(())
}
