//! Encrypted assertions through the whole ACS pipeline (docs/security.md "Encryption"): the decrypted
//! Assertion takes the same parse and checks as a plain one, its own signature included.

use std::sync::OnceLock;

use samlgate::crypto::enc_algorithms::{ContentAlgorithm, KeyTransport, OaepHash};
use samlgate::crypto::encrypt::{
    EncryptedElementKind, EncryptionOptions, KeyPlacement, encrypt_assertion, encrypt_element,
};
use samlgate::crypto::keys::DecryptionKey;
use samlgate::saml::issue::ResponseSpec;
use samlgate::saml::response::validate_xml;
use samlgate::saml::{ExpectedRequest, IdpPolicy, Rejection, SpIdentity, VerifiedAssertion};

use crate::support::test_idp::*;

fn sp_keys() -> &'static KeyPair {
    static K: OnceLock<KeyPair> = OnceLock::new();
    K.get_or_init(|| make_key_pair("SP current"))
}

fn old_sp_keys() -> &'static KeyPair {
    static K: OnceLock<KeyPair> = OnceLock::new();
    K.get_or_init(|| make_key_pair("SP old"))
}

fn dk(k: &KeyPair, name: &str) -> DecryptionKey {
    DecryptionKey {
        key: k.key.clone(),
        certificate: Some(k.cert.clone()),
        description: name.to_string(),
    }
}

fn sp_with(keys: Vec<DecryptionKey>) -> SpIdentity {
    SpIdentity {
        decryption_keys: keys,
        ..sp()
    }
}

fn opts(content: ContentAlgorithm) -> EncryptionOptions {
    EncryptionOptions {
        content,
        ..EncryptionOptions::default()
    }
}

/// Response around an EncryptedAssertion: the Assertion signed or not, then encrypted to
/// `to`, then the Response signed or not.
fn encrypted_response(
    spec: &ResponseSpec,
    sign_assertion: bool,
    sign_response: bool,
    to: &KeyPair,
    options: &EncryptionOptions,
) -> String {
    let assertion = if sign_assertion {
        signer().signed_assertion(spec).expect("sign")
    } else {
        spec.assertion_xml()
    };
    let encrypted = encrypt_assertion(assertion.as_bytes(), &to.cert, options).expect("encrypt");
    let response = spec.response_xml_around(&encrypted);
    if sign_response {
        sign_element(&response, &spec.response_id)
    } else {
        response
    }
}

fn check_with(
    xml: &str,
    policy: &IdpPolicy,
    sp: &SpIdentity,
) -> Result<VerifiedAssertion, Rejection> {
    validate_xml(
        xml.as_bytes(),
        policy,
        sp,
        ExpectedRequest::Solicited(REQUEST_ID),
        NOW,
    )
}

fn check(xml: &str) -> Result<VerifiedAssertion, Rejection> {
    check_with(xml, &policy(), &sp_with(vec![dk(sp_keys(), "sp.key")]))
}

#[track_caller]
fn kind(r: Result<VerifiedAssertion, Rejection>) -> (String, String) {
    match r {
        Ok(v) => panic!("accepted: {:?}", v.name_id()),
        Err(e) => (e.kind().to_string(), e.to_string()),
    }
}

#[test]
fn accepts_signed_assertion_encrypted_with_aes_gcm() {
    let s = spec();
    for content in [
        ContentAlgorithm::Aes128Gcm,
        ContentAlgorithm::Aes192Gcm,
        ContentAlgorithm::Aes256Gcm,
    ] {
        let xml = encrypted_response(&s, true, false, sp_keys(), &opts(content));
        let v = check(&xml).unwrap_or_else(|e| panic!("{content:?}: {e}"));
        assert!(v.was_encrypted && v.signed.assertion);
        assert_eq!(v.name_id().value, "alice@example.com");
    }
}

#[test]
fn accepts_unsigned_assertion_encrypted_inside_a_signed_response() {
    let xml = encrypted_response(
        &spec(),
        false,
        true,
        sp_keys(),
        &EncryptionOptions::default(),
    );
    let v = check(&xml).expect("valid");
    assert!(v.signed.response && !v.signed.assertion && v.was_encrypted);
}

#[test]
fn accepts_cbc_only_under_a_signature() {
    let s = spec();
    let xml = encrypted_response(
        &s,
        true,
        false,
        sp_keys(),
        &opts(ContentAlgorithm::Aes256Cbc),
    );
    assert!(
        check(&xml).is_ok(),
        "CBC with a signed Assertion is accepted"
    );
    let xml = encrypted_response(
        &s,
        false,
        false,
        sp_keys(),
        &opts(ContentAlgorithm::Aes256Cbc),
    );
    let (k, _) = kind(check(&xml));
    assert!(k == "unsigned" || k == "cbc_without_signature", "{k}");
}

#[test]
fn refuses_cbc_when_the_idp_policy_forbids_it() {
    let mut p = policy();
    p.allow_cbc = false;
    let xml = encrypted_response(
        &spec(),
        true,
        true,
        sp_keys(),
        &opts(ContentAlgorithm::Aes128Cbc),
    );
    let (k, _) = kind(check_with(
        &xml,
        &p,
        &sp_with(vec![dk(sp_keys(), "sp.key")]),
    ));
    assert_eq!(k, "decryption_failed");
}

#[test]
fn refuses_3des_unless_the_idp_opts_in() {
    let xml = encrypted_response(
        &spec(),
        true,
        true,
        sp_keys(),
        &opts(ContentAlgorithm::TripleDesCbc),
    );
    let (k, _) = kind(check(&xml));
    assert_eq!(k, "decryption_failed");
    let mut p = policy();
    p.allow_3des = true;
    assert!(check_with(&xml, &p, &sp_with(vec![dk(sp_keys(), "sp.key")])).is_ok());
}

#[test]
fn refuses_rsa_1_5_key_transport_saying_why() {
    let o = EncryptionOptions {
        key_transport: KeyTransport::Rsa15,
        ..EncryptionOptions::default()
    };
    let xml = encrypted_response(&spec(), true, true, sp_keys(), &o);
    let (k, line) = kind(check(&xml));
    assert_eq!(k, "decryption_failed");
    assert!(
        line.to_lowercase().contains("rsa-1_5") || line.contains("RSA1_5"),
        "{line}"
    );
}

#[test]
fn decrypts_with_the_old_key_during_rollover() {
    let xml = encrypted_response(
        &spec(),
        true,
        false,
        old_sp_keys(),
        &EncryptionOptions::default(),
    );
    let sp = sp_with(vec![
        dk(sp_keys(), "sp.key"),
        dk(old_sp_keys(), "sp-old.key"),
    ]);
    assert!(check_with(&xml, &policy(), &sp).is_ok());
    // Without the old key, the same Response fails as any other decryption failure.
    let (k, _) = kind(check(&xml));
    assert_eq!(k, "decryption_failed");
}

#[test]
fn every_decryption_failure_has_one_outward_kind() {
    let s = spec();
    let good = encrypted_response(&s, true, false, sp_keys(), &EncryptionOptions::default());
    let unknown_key = encrypted_response(
        &s,
        true,
        false,
        old_sp_keys(),
        &EncryptionOptions::default(),
    );
    let cipher_start =
        good.rfind("<xenc:CipherValue>").expect("cipher") + "<xenc:CipherValue>".len();
    let mut tampered_body = good.clone().into_bytes();
    let i = cipher_start + 40;
    tampered_body[i] = if tampered_body[i] == b'A' { b'B' } else { b'A' };
    let tampered_body = String::from_utf8(tampered_body).expect("ascii");
    let bad_base64 = format!("{}%%%{}", &good[..cipher_start], &good[cipher_start..]);
    let mut lines = Vec::new();
    for xml in [unknown_key, tampered_body, bad_base64] {
        let (k, line) = kind(check(&xml));
        assert_eq!(k, "decryption_failed", "{line}");
        lines.push(line);
    }
    // The log keeps the precise cause: the three lines are not all the same.
    lines.dedup();
    assert!(lines.len() > 1, "{lines:?}");
}

#[test]
fn accepts_okta_encrypted_key_beside_data() {
    for placement in [
        KeyPlacement::BesideWithRetrievalMethod,
        KeyPlacement::BesideWithDataReference,
        KeyPlacement::BesideWithKeyName,
    ] {
        let o = EncryptionOptions {
            content: ContentAlgorithm::Aes128Cbc,
            key_transport: KeyTransport::RsaOaepMgf1p {
                digest: OaepHash::Sha1,
                label: Vec::new(),
            },
            placement,
        };
        let xml = encrypted_response(&spec(), true, true, sp_keys(), &o);
        assert!(check(&xml).is_ok(), "{placement:?}");
    }
}

#[test]
fn decrypted_assertion_is_held_to_its_own_signature() {
    let s = spec();
    let signed_assertion = signer().signed_assertion(&s).expect("sign");
    let forged = signed_assertion.replace(">Admins<", ">Domain Admins<");
    let encrypted = encrypt_assertion(
        forged.as_bytes(),
        &sp_keys().cert,
        &EncryptionOptions::default(),
    )
    .expect("encrypt");
    let xml = s.response_xml_around(&encrypted);
    let (k, line) = kind(check(&xml));
    assert!(
        k.starts_with("digest") || line.contains("igest"),
        "[{k}] {line}"
    );
}

#[test]
fn decrypted_assertion_is_held_to_every_condition() {
    let mut s = spec();
    s.sp_entity_id = "https://someone-else.example.com".to_string();
    let xml = encrypted_response(&s, true, false, sp_keys(), &EncryptionOptions::default());
    let (k, _) = kind(check(&xml));
    assert_eq!(k, "audience_mismatch");
}

#[test]
fn refuses_assertion_hidden_in_advice_of_the_decrypted_one() {
    let s = spec();
    let inner = signer().signed_assertion(&s).expect("sign");
    let mut outer = s.clone();
    outer.assertion_id = "_outer".to_string();
    outer.assertion_extra = format!("<saml:Advice>{inner}</saml:Advice>");
    let xml = encrypted_response(
        &outer,
        true,
        false,
        sp_keys(),
        &EncryptionOptions::default(),
    );
    let (k, _) = kind(check(&xml));
    assert_eq!(k, "assertion_out_of_place");
}

#[test]
fn reads_an_encrypted_name_id() {
    let s = spec();
    let name_id = "<saml:NameID xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">bob-7731</saml:NameID>";
    let encrypted_id = encrypt_element(
        name_id.as_bytes(),
        EncryptedElementKind::Id,
        &sp_keys().cert,
        &EncryptionOptions::default(),
    )
    .expect("encrypt");
    let plain = format!(
        "<saml:NameID Format=\"{}\">alice@example.com</saml:NameID>",
        s.name_id_format
    );
    let assertion = s.assertion_xml().replacen(&plain, &encrypted_id, 1);
    assert_ne!(assertion, s.assertion_xml(), "NameID was replaced");
    let response = s.response_xml_around(&assertion);
    let xml = sign_element(&response, &s.response_id);
    let v = check(&xml).expect("valid");
    assert_eq!(v.name_id().value, "bob-7731");
    assert_eq!(
        v.name_id().format.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
    );
}

#[test]
fn encrypted_response_without_any_sp_key_is_a_decryption_failure() {
    let xml = encrypted_response(
        &spec(),
        true,
        true,
        sp_keys(),
        &EncryptionOptions::default(),
    );
    let (k, _) = kind(check_with(&xml, &policy(), &sp_with(Vec::new())));
    assert_eq!(k, "decryption_failed");
}
