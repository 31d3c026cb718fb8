//! xmlsec1 as an independent oracle, both ways: what samlgate encrypts, xmlsec1 decrypts; what
//! xmlsec1 encrypts (from a template, its own RSA-OAEP and AES code), samlgate decrypts.
//! Skipped with a message when xmlsec1 is missing, failed when CI=true.
//! xmlsec1 1.2 knows only SHA-1 for the OAEP digest, so the SHA-256 and xmlenc11 forms are
//! covered by the round-trip tests alone.

use std::path::Path;
use std::process::Command;

use samlgate::crypto::decrypt::EncryptionPolicy;
use samlgate::crypto::enc_algorithms::{ContentAlgorithm, KeyTransport, OaepHash};
use samlgate::crypto::encrypt::{EncryptionOptions, KeyPlacement};

use crate::support;
use crate::support::peers;
use crate::support::xmlenc::*;

fn write_sp_files(dir: &Path) {
    let sp = current_sp();
    std::fs::write(
        dir.join("sp.key"),
        sp.key.private_key_to_pem_pkcs8().unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("sp.crt"), sp.certificate.to_pem().unwrap()).unwrap();
}

fn xmlsec1(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("xmlsec1")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "xmlsec1 {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn xmlsec1_decrypts(options: &EncryptionOptions) {
    let dir = tempfile::tempdir().unwrap();
    write_sp_files(dir.path());
    std::fs::write(
        dir.path().join("response.xml"),
        response_with(&encrypted(options)),
    )
    .unwrap();
    // `--id-attr` lets xmlsec1 resolve `RetrievalMethod URI="#..."` to the EncryptedKey's Id.
    let out = xmlsec1(
        dir.path(),
        &[
            "--decrypt",
            "--privkey-pem",
            "sp.key",
            "--id-attr:Id",
            "http://www.w3.org/2001/04/xmlenc#:EncryptedKey",
            "response.xml",
        ],
    );
    // xmlsec1 re-serializes through libxml2, so compare what the Assertion says, not its bytes.
    assert!(out.contains(r#"ID="_a7c1""#), "{options:?}: {out}");
    assert!(
        out.contains(">alice@example.org</saml:NameID>"),
        "{options:?}: {out}"
    );
    assert!(!out.contains("EncryptedData"), "{options:?}: {out}");
}

#[test]
fn xmlsec1_decrypts_what_samlgate_encrypts_with_gcm_and_cbc() {
    if !peers::require_xmlsec1() {
        return;
    }
    for content in [
        ContentAlgorithm::Aes128Gcm,
        ContentAlgorithm::Aes256Gcm,
        ContentAlgorithm::Aes128Cbc,
        ContentAlgorithm::Aes256Cbc,
    ] {
        xmlsec1_decrypts(&EncryptionOptions {
            content,
            key_transport: KeyTransport::RsaOaepMgf1p {
                digest: OaepHash::Sha1,
                label: Vec::new(),
            },
            placement: KeyPlacement::InsideKeyInfo,
        });
    }
}

#[test]
fn xmlsec1_decrypts_samlgate_okta_shape_with_retrieval_method() {
    if !peers::require_xmlsec1() {
        return;
    }
    xmlsec1_decrypts(&EncryptionOptions {
        content: ContentAlgorithm::Aes256Gcm,
        key_transport: KeyTransport::RsaOaepMgf1p {
            digest: OaepHash::Sha1,
            label: Vec::new(),
        },
        placement: KeyPlacement::BesideWithRetrievalMethod,
    });
}

/// Encrypts the sample Assertion with xmlsec1 from a template and returns the EncryptedData.
fn xmlsec1_encrypts(
    content: ContentAlgorithm,
    session_key: &str,
    key_transport_method: &str,
) -> String {
    let dir = tempfile::tempdir().unwrap();
    write_sp_files(dir.path());
    std::fs::write(dir.path().join("assertion.xml"), ASSERTION).unwrap();
    let template = format!(
        r#"<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="{content}"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey>{key_transport_method}<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>"#,
        content = content.uri()
    );
    std::fs::write(dir.path().join("template.xml"), template).unwrap();
    let out = xmlsec1(
        dir.path(),
        &[
            "--encrypt",
            "--pubkey-cert-pem",
            "sp.crt",
            "--session-key",
            session_key,
            "--xml-data",
            "assertion.xml",
            "--node-name",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            "template.xml",
        ],
    );
    let start = out
        .find("<xenc:EncryptedData")
        .expect("xmlsec1 output holds EncryptedData");
    out[start..].trim_end().to_string()
}

fn samlgate_decrypts_xmlsec1(
    content: ContentAlgorithm,
    session_key: &str,
    key_transport_method: &str,
) {
    let data = xmlsec1_encrypts(content, session_key, key_transport_method);
    let encrypted_assertion = format!(
        r#"<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{data}</saml:EncryptedAssertion>"#
    );
    let decrypted = decrypt_in_response(
        &response_with(&encrypted_assertion),
        &sp_keys(),
        &EncryptionPolicy::default(),
    )
    .unwrap_or_else(|e| panic!("{content} / {key_transport_method}: {e}"));
    assert_eq!(decrypted.plaintext, ASSERTION.as_bytes(), "{content}");
    assert_eq!(decrypted.content_algorithm, content);
}

const MGF1P_SHA1: &str =
    r#"<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/>"#;

#[test]
fn samlgate_decrypts_what_xmlsec1_encrypts_with_gcm() {
    if !peers::require_xmlsec1() {
        return;
    }
    samlgate_decrypts_xmlsec1(ContentAlgorithm::Aes128Gcm, "aes-128", MGF1P_SHA1);
    samlgate_decrypts_xmlsec1(ContentAlgorithm::Aes256Gcm, "aes-256", MGF1P_SHA1);
}

#[test]
fn samlgate_decrypts_what_xmlsec1_encrypts_with_cbc_and_its_padding() {
    if !peers::require_xmlsec1() {
        return;
    }
    samlgate_decrypts_xmlsec1(ContentAlgorithm::Aes128Cbc, "aes-128", MGF1P_SHA1);
    samlgate_decrypts_xmlsec1(ContentAlgorithm::Aes192Cbc, "aes-192", MGF1P_SHA1);
    samlgate_decrypts_xmlsec1(ContentAlgorithm::Aes256Cbc, "aes-256", MGF1P_SHA1);
}

/// The xmlenc11 RSA-OAEP form with SHA-256 digest and MGF1-SHA256, which xmlsec1 1.2 cannot
/// produce, built with the `openssl` command line instead (its own OAEP and AES code).
#[test]
fn samlgate_decrypts_xmlenc11_oaep_sha256_built_with_the_openssl_cli() {
    use base64::Engine;
    if skip_without_openssl_cli() {
        return;
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let dir = tempfile::tempdir().unwrap();
    write_sp_files(dir.path());
    let content_key: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    let iv: Vec<u8> = (0u8..16).map(|i| i.wrapping_mul(13)).collect();
    std::fs::write(dir.path().join("content.key"), &content_key).unwrap();
    std::fs::write(dir.path().join("assertion.xml"), ASSERTION).unwrap();
    let run = |args: &[&str]| {
        let output = Command::new("openssl")
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(&[
        "pkeyutl",
        "-encrypt",
        "-certin",
        "-inkey",
        "sp.crt",
        "-in",
        "content.key",
        "-out",
        "wrapped.bin",
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha256",
        "-pkeyopt",
        "rsa_mgf1_md:sha256",
    ]);
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    // PKCS#7 padding is one valid XML Encryption padding (the last byte is the pad length).
    run(&[
        "enc",
        "-aes-256-cbc",
        "-K",
        &hex(&content_key),
        "-iv",
        &hex(&iv),
        "-in",
        "assertion.xml",
        "-out",
        "body.bin",
    ]);
    let wrapped = std::fs::read(dir.path().join("wrapped.bin")).unwrap();
    let mut data = iv.clone();
    data.extend_from_slice(&std::fs::read(dir.path().join("body.bin")).unwrap());
    let encrypted_assertion = format!(
        r##"<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Id="_d" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:RetrievalMethod URI="#_k" Type="http://www.w3.org/2001/04/xmlenc#EncryptedKey"/></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{data}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData><xenc:EncryptedKey xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Id="_k"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#rsa-oaep"><ds:DigestMethod xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><xenc11:MGF xmlns:xenc11="http://www.w3.org/2009/xmlenc11#" Algorithm="http://www.w3.org/2009/xmlenc11#mgf1sha256"/></xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue>{key}</xenc:CipherValue></xenc:CipherData><xenc:ReferenceList><xenc:DataReference URI="#_d"/></xenc:ReferenceList></xenc:EncryptedKey></saml:EncryptedAssertion>"##,
        data = b64.encode(&data),
        key = b64.encode(&wrapped),
    );
    let decrypted = decrypt_in_response(
        &response_with(&encrypted_assertion),
        &sp_keys(),
        &EncryptionPolicy::default(),
    )
    .unwrap();
    assert_eq!(decrypted.plaintext, ASSERTION.as_bytes());
    assert_eq!(decrypted.content_algorithm, ContentAlgorithm::Aes256Cbc);
}

fn skip_without_openssl_cli() -> bool {
    !support::require_tool("openssl")
}
