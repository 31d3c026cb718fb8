//! `samlgate keygen`: RSA-3072, self-signed SHA-256 certificate, key file 0600, no silent overwrite.

use std::os::unix::fs::PermissionsExt;

use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::X509;
use samlgate::cli::keygen::{KeygenArgs, write_credentials};
use samlgate::crypto::DecryptionKey;
use samlgate::crypto::decrypt::{EncryptionPolicy, decrypt_element};
use samlgate::crypto::encrypt::{EncryptionOptions, encrypt_assertion};
use samlgate::crypto::keygen::{KeygenError, generate_sp_credentials};
use samlgate::xml::{self, ParseLimits};

#[test]
fn generates_rsa_3072_key_with_self_signed_sha256_certificate() {
    let (key_pem, cert_pem) = generate_sp_credentials("sp.example.org", 365).unwrap();
    assert!(
        key_pem.starts_with("-----BEGIN PRIVATE KEY-----"),
        "PKCS#8 PEM"
    );
    let key = PKey::private_key_from_pem(key_pem.as_bytes()).unwrap();
    let cert = X509::from_pem(cert_pem.as_bytes()).unwrap();
    assert_eq!(key.rsa().unwrap().size() * 8, 3072);
    assert!(
        cert.public_key().unwrap().public_eq(&key),
        "certificate holds the generated key"
    );
    assert!(cert.verify(&key).unwrap(), "self-signed");
    assert_eq!(
        cert.signature_algorithm().object().nid(),
        Nid::SHA256WITHRSAENCRYPTION
    );
    let cn = cert
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .unwrap();
    assert_eq!(cn.data().as_slice(), b"sp.example.org");
    assert_eq!(
        cert.subject_name().to_der().unwrap(),
        cert.issuer_name().to_der().unwrap()
    );
    let validity = cert.not_before().diff(cert.not_after()).unwrap();
    assert_eq!(validity.days, 365);
}

#[test]
fn generated_credentials_decrypt_what_is_encrypted_to_their_certificate() {
    let (key_pem, cert_pem) = generate_sp_credentials("sp", 30).unwrap();
    let cert = X509::from_pem(cert_pem.as_bytes()).unwrap();
    let assertion =
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_k"/>"#;
    let text =
        encrypt_assertion(assertion.as_bytes(), &cert, &EncryptionOptions::default()).unwrap();
    let doc = xml::parse(text.as_bytes(), &ParseLimits::default()).unwrap();
    let key = DecryptionKey::from_pem(key_pem.as_bytes(), "generated sp.key").unwrap();
    let decrypted = decrypt_element(doc.root(), &[key], &EncryptionPolicy::default()).unwrap();
    assert_eq!(decrypted.plaintext, assertion.as_bytes());
}

fn args(dir: &std::path::Path, force: bool) -> KeygenArgs {
    KeygenArgs {
        out_dir: dir.join("certs"),
        cn: "sp.example.org".into(),
        days: 30,
        force,
    }
}

#[test]
fn writes_sp_key_with_mode_0600_and_sp_crt() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, cert_path) = write_credentials(&args(dir.path(), false)).unwrap();
    assert_eq!(key_path, dir.path().join("certs/sp.key"));
    assert_eq!(cert_path, dir.path().join("certs/sp.crt"));
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let key = PKey::private_key_from_pem(&std::fs::read(&key_path).unwrap()).unwrap();
    let cert = X509::from_pem(&std::fs::read(&cert_path).unwrap()).unwrap();
    assert!(cert.public_key().unwrap().public_eq(&key));
}

#[test]
fn refuses_to_overwrite_an_existing_key_without_force_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("certs")).unwrap();
    std::fs::write(dir.path().join("certs/sp.key"), "precious").unwrap();
    let err = write_credentials(&args(dir.path(), false)).unwrap_err();
    assert!(
        matches!(&err, KeygenError::Exists(p) if p.ends_with("certs/sp.key")),
        "{err}"
    );
    assert!(err.to_string().contains("sp.key") && err.to_string().contains("--force"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("certs/sp.key")).unwrap(),
        "precious"
    );
    assert!(
        !dir.path().join("certs/sp.crt").exists(),
        "nothing half-written"
    );
}

#[test]
fn refuses_to_overwrite_an_existing_certificate_without_force() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("certs")).unwrap();
    std::fs::write(dir.path().join("certs/sp.crt"), "precious").unwrap();
    let err = write_credentials(&args(dir.path(), false)).unwrap_err();
    assert!(
        matches!(&err, KeygenError::Exists(p) if p.ends_with("certs/sp.crt")),
        "{err}"
    );
    assert!(!dir.path().join("certs/sp.key").exists());
}

#[test]
fn force_replaces_both_files_and_tightens_the_key_mode() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::write(certs.join("sp.key"), "old").unwrap();
    std::fs::set_permissions(certs.join("sp.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(certs.join("sp.crt"), "old").unwrap();
    write_credentials(&args(dir.path(), true)).unwrap();
    let key_pem = std::fs::read(certs.join("sp.key")).unwrap();
    assert!(PKey::private_key_from_pem(&key_pem).is_ok());
    assert!(X509::from_pem(&std::fs::read(certs.join("sp.crt")).unwrap()).is_ok());
    let mode = std::fs::metadata(certs.join("sp.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}
