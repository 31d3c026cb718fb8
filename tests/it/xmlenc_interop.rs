//! Decrypting what IdPs nobody here wrote produce: pysaml2 (every content algorithm it has) and
//! Lasso, both through xmlsec1's encryption code. The decrypted Assertion must re-parse with the
//! strict parser in the namespace context of its EncryptedAssertion and carry the NameID the
//! peer was asked to write; RSA1_5 from a real peer is refused.
//! Skipped with a message when the peers are missing (scripts/install-test-deps), failed under CI=true.

use samlgate::crypto::DecryptionKey;
use samlgate::crypto::decrypt::{DecryptionError, EncryptionPolicy, decrypt_element};
use samlgate::xml::{self, ParseLimits, ns};

use crate::support::peers::{
    self, DataEncryption, Encryption, KeyTransport, Peer, PeerRequest, SignMode,
};

fn sp_key() -> (DecryptionKey, std::path::PathBuf) {
    let (key_pem, cert_pem) = peers::sp_key_pair().unwrap();
    let key = DecryptionKey::from_pem(&std::fs::read(&key_pem).unwrap(), "interop sp key").unwrap();
    (key, cert_pem)
}

fn request(
    cert: &std::path::Path,
    data: DataEncryption,
    key_transport: KeyTransport,
) -> PeerRequest {
    PeerRequest {
        name_id: "carol@interop.example".into(),
        sign: SignMode::Assertion,
        encrypt: Some(Encryption {
            data,
            key_transport,
            sp_cert: cert.to_path_buf(),
        }),
        ..PeerRequest::default()
    }
}

/// 3DES is opt-in; the peers produce it, so these tests opt in.
fn policy() -> EncryptionPolicy {
    EncryptionPolicy {
        allow_3des: true,
        ..EncryptionPolicy::default()
    }
}

fn decrypts_every_algorithm_of(peer: Peer) {
    let (key, cert) = sp_key();
    for &data in peer.data_encryptions() {
        let output = peers::peer_response(peer, &request(&cert, data, KeyTransport::RsaOaepMgf1p))
            .unwrap_or_else(|e| panic!("{} {}: {e}", peer.name(), data.arg()));
        let doc = xml::parse(&output.xml, &ParseLimits::default()).unwrap();
        let encrypted = doc
            .root()
            .first_child_named(ns::SAML, "EncryptedAssertion")
            .expect("the peer encrypted the assertion");
        let decrypted = decrypt_element(encrypted, std::slice::from_ref(&key), &policy())
            .unwrap_or_else(|e| panic!("{} {}: {e}", peer.name(), data.arg()));
        assert_eq!(
            decrypted.content_algorithm.uri(),
            data.uri(),
            "{}",
            peer.name()
        );
        let assertion = xml::parse_with_context(
            &decrypted.plaintext,
            &ParseLimits::default(),
            &encrypted.in_scope_namespaces(),
        )
        .unwrap_or_else(|e| {
            panic!(
                "{} {}: plaintext does not re-parse: {e}",
                peer.name(),
                data.arg()
            )
        });
        let root = assertion.root();
        assert!(
            root.is(ns::SAML, "Assertion"),
            "{} {}",
            peer.name(),
            data.arg()
        );
        let name_id = root
            .first_child_named(ns::SAML, "Subject")
            .and_then(|s| s.first_child_named(ns::SAML, "NameID"))
            .expect("Subject/NameID");
        assert_eq!(name_id.text().unwrap(), "carol@interop.example");
    }
}

#[test]
fn decrypts_pysaml2_encrypted_assertions_in_every_content_algorithm() {
    if !peers::require(Peer::Pysaml2) {
        return;
    }
    decrypts_every_algorithm_of(Peer::Pysaml2);
}

#[test]
fn decrypts_lasso_encrypted_assertions_in_every_content_algorithm() {
    if !peers::require(Peer::Lasso) {
        return;
    }
    decrypts_every_algorithm_of(Peer::Lasso);
}

#[test]
fn refuses_pysaml2_rsa_1_5_key_transport() {
    if !peers::require(Peer::Pysaml2) {
        return;
    }
    let (key, cert) = sp_key();
    let output = peers::pysaml2_response(&request(
        &cert,
        DataEncryption::Aes256Gcm,
        KeyTransport::Rsa15,
    ))
    .unwrap();
    let doc = xml::parse(&output.xml, &ParseLimits::default()).unwrap();
    let encrypted = doc
        .root()
        .first_child_named(ns::SAML, "EncryptedAssertion")
        .unwrap();
    assert_eq!(
        decrypt_element(encrypted, &[key], &policy()).unwrap_err(),
        DecryptionError::Rsa15Refused
    );
}
