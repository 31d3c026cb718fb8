//! XML Encryption round trips: every accepted content algorithm under every accepted key
//! transport, every key placement real IdPs use, every SAML encrypted element, and key rollover.

use samlgate::crypto::decrypt::{EncryptionPolicy, decrypt_element};
use samlgate::crypto::enc_algorithms::{ContentAlgorithm, KeyTransport, OaepHash};
use samlgate::crypto::encrypt::{
    EncryptedElementKind, EncryptionOptions, KeyPlacement, encrypt_element,
};
use samlgate::xml::{self, ParseLimits};

use crate::support::xmlenc::*;

fn decrypts_under_every_oaep_transport(content: ContentAlgorithm) {
    for (name, key_transport) in oaep_transports() {
        let options = EncryptionOptions {
            content,
            key_transport,
            placement: KeyPlacement::InsideKeyInfo,
        };
        let decrypted =
            round_trip(&options).unwrap_or_else(|e| panic!("{content} with {name}: {e}"));
        assert_eq!(
            decrypted.plaintext,
            ASSERTION.as_bytes(),
            "{content} with {name}"
        );
        assert_eq!(decrypted.content_algorithm, content);
        assert_eq!(decrypted.key_used, 0);
    }
}

#[test]
fn decrypts_aes128_gcm_under_each_oaep_form() {
    decrypts_under_every_oaep_transport(ContentAlgorithm::Aes128Gcm);
}

#[test]
fn decrypts_aes192_gcm_under_each_oaep_form() {
    decrypts_under_every_oaep_transport(ContentAlgorithm::Aes192Gcm);
}

#[test]
fn decrypts_aes256_gcm_under_each_oaep_form() {
    decrypts_under_every_oaep_transport(ContentAlgorithm::Aes256Gcm);
}

#[test]
fn decrypts_aes128_cbc_under_each_oaep_form() {
    decrypts_under_every_oaep_transport(ContentAlgorithm::Aes128Cbc);
}

#[test]
fn decrypts_aes192_cbc_under_each_oaep_form() {
    decrypts_under_every_oaep_transport(ContentAlgorithm::Aes192Cbc);
}

#[test]
fn decrypts_aes256_cbc_under_each_oaep_form() {
    decrypts_under_every_oaep_transport(ContentAlgorithm::Aes256Cbc);
}

#[test]
fn decrypts_xmlenc11_rsa_oaep_with_sha512_digest_and_default_mgf1_sha1() {
    // The encryptor always writes an MGF element; strip it to test the spec default when it is
    // absent (MGF1 with SHA-1) on the decrypting side.
    let options = EncryptionOptions {
        key_transport: KeyTransport::RsaOaep {
            digest: OaepHash::Sha512,
            mgf: OaepHash::Sha1,
            label: Vec::new(),
        },
        ..EncryptionOptions::default()
    };
    let text = encrypted(&options);
    let mgf_start = text.find("<xenc11:MGF").unwrap();
    let mgf_end = mgf_start + text[mgf_start..].find("/>").unwrap() + 2;
    let without_mgf = format!("{}{}", &text[..mgf_start], &text[mgf_end..]);
    assert!(
        !without_mgf.contains("<xenc11:MGF"),
        "the MGF element is gone"
    );
    let decrypted = decrypt_in_response(
        &response_with(&without_mgf),
        &sp_keys(),
        &EncryptionPolicy::default(),
    )
    .unwrap();
    assert_eq!(decrypted.plaintext, ASSERTION.as_bytes());
}

#[test]
fn decrypts_rsa_oaep_with_an_oaep_label() {
    for key_transport in [
        KeyTransport::RsaOaepMgf1p {
            digest: OaepHash::Sha1,
            label: b"samlgate label".to_vec(),
        },
        KeyTransport::RsaOaep {
            digest: OaepHash::Sha256,
            mgf: OaepHash::Sha256,
            label: b"samlgate label".to_vec(),
        },
    ] {
        let options = EncryptionOptions {
            key_transport,
            ..EncryptionOptions::default()
        };
        assert!(encrypted(&options).contains("<xenc:OAEPparams>"));
        assert_eq!(
            round_trip(&options).unwrap().plaintext,
            ASSERTION.as_bytes()
        );
    }
}

#[test]
fn reports_cbc_so_the_pipeline_can_demand_a_covering_signature() {
    let cbc = round_trip(&EncryptionOptions {
        content: ContentAlgorithm::Aes256Cbc,
        ..EncryptionOptions::default()
    })
    .unwrap();
    assert!(cbc.needs_covering_signature());
    let gcm = round_trip(&EncryptionOptions::default()).unwrap();
    assert!(!gcm.needs_covering_signature());
}

fn decrypts_with_placement(placement: KeyPlacement) {
    for content in [ContentAlgorithm::Aes256Gcm, ContentAlgorithm::Aes128Cbc] {
        let options = EncryptionOptions {
            content,
            placement,
            ..EncryptionOptions::default()
        };
        let text = encrypted(&options);
        // The EncryptedKey really is beside the EncryptedData, not inside it.
        let data_end = text.find("</xenc:EncryptedData>").unwrap();
        assert!(
            text[data_end..].contains("<xenc:EncryptedKey"),
            "{placement:?}: {text}"
        );
        assert!(
            !text[..data_end].contains("<xenc:EncryptedKey"),
            "{placement:?}"
        );
        let decrypted = decrypt_in_response(
            &response_with(&text),
            &sp_keys(),
            &EncryptionPolicy::default(),
        )
        .unwrap_or_else(|e| panic!("{placement:?} {content}: {e}"));
        assert_eq!(decrypted.plaintext, ASSERTION.as_bytes());
    }
}

#[test]
fn accepts_okta_encrypted_key_beside_data_by_retrieval_method() {
    decrypts_with_placement(KeyPlacement::BesideWithRetrievalMethod);
}

#[test]
fn accepts_encrypted_key_beside_data_by_data_reference_alone() {
    decrypts_with_placement(KeyPlacement::BesideWithDataReference);
}

#[test]
fn accepts_encrypted_key_beside_data_by_key_name() {
    decrypts_with_placement(KeyPlacement::BesideWithKeyName);
}

#[test]
fn decrypts_encrypted_id_and_encrypted_attribute() {
    let name_id =
        r#"<saml:NameID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">alice</saml:NameID>"#;
    let attribute = r#"<saml:Attribute xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" Name="mail"><saml:AttributeValue>alice@example.org</saml:AttributeValue></saml:Attribute>"#;
    for (kind, plaintext) in [
        (EncryptedElementKind::Id, name_id),
        (EncryptedElementKind::Attribute, attribute),
    ] {
        let text = encrypt_element(
            plaintext.as_bytes(),
            kind,
            &current_sp().certificate,
            &EncryptionOptions::default(),
        )
        .unwrap();
        let decrypted = decrypt_in_response(
            &response_with(&text),
            &sp_keys(),
            &EncryptionPolicy::default(),
        )
        .unwrap();
        assert_eq!(decrypted.plaintext, plaintext.as_bytes(), "{kind:?}");
    }
}

#[test]
fn rollover_assertion_encrypted_to_old_key_decrypts_with_new_then_old() {
    let text = encrypt_assertion_for(old_sp());
    let keys = vec![
        current_sp().decryption_key("sp.key (new)"),
        old_sp().decryption_key("sp-old.key"),
    ];
    let decrypted =
        decrypt_in_response(&response_with(&text), &keys, &EncryptionPolicy::default()).unwrap();
    assert_eq!(decrypted.plaintext, ASSERTION.as_bytes());
    assert_eq!(decrypted.key_used, 1);
}

#[test]
fn rollover_assertion_encrypted_to_new_key_reports_the_new_key() {
    let text = encrypt_assertion_for(current_sp());
    let keys = vec![
        old_sp().decryption_key("sp-old.key"),
        current_sp().decryption_key("sp.key (new)"),
    ];
    let decrypted =
        decrypt_in_response(&response_with(&text), &keys, &EncryptionPolicy::default()).unwrap();
    assert_eq!(decrypted.key_used, 1);
}

fn encrypt_assertion_for(sp: &SpCredentials) -> String {
    samlgate::crypto::encrypt::encrypt_assertion(
        ASSERTION.as_bytes(),
        &sp.certificate,
        &EncryptionOptions::default(),
    )
    .unwrap()
}

#[test]
fn decrypted_assertion_reparses_with_the_namespaces_in_scope_at_the_encrypted_element() {
    // The Assertion relies on the `saml` prefix declared on the Response, as some IdPs emit it
    // when they serialize the element in place before encrypting.
    let bare = r#"<saml:Assertion ID="_x" Version="2.0" IssueInstant="2026-11-22T12:00:00Z"><saml:Issuer>https://idp.example.org/saml</saml:Issuer></saml:Assertion>"#;
    let text = encrypt_element(
        bare.as_bytes(),
        EncryptedElementKind::Assertion,
        &current_sp().certificate,
        &EncryptionOptions::default(),
    )
    .unwrap();
    let response = format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r">{text}</samlp:Response>"#
    );
    let doc = xml::parse(response.as_bytes(), &ParseLimits::default()).unwrap();
    let encrypted = doc.root().child_elements().next().unwrap();
    let decrypted = decrypt_element(encrypted, &sp_keys(), &EncryptionPolicy::default()).unwrap();
    let assertion = xml::parse_with_context(
        &decrypted.plaintext,
        &ParseLimits::default(),
        &encrypted.in_scope_namespaces(),
    )
    .unwrap();
    assert!(assertion.root().is(samlgate::xml::ns::SAML, "Assertion"));
    assert_eq!(assertion.root().attr("ID"), Some("_x"));
}

#[test]
fn accepts_an_unlinked_encrypted_key_beside_data_that_has_no_key_info() {
    // SAML core 6.2: the key may simply sit beside the data. With no KeyInfo on the data and no
    // ReferenceList on the key, the key applies.
    let text = encrypted(&EncryptionOptions {
        placement: KeyPlacement::BesideWithDataReference,
        ..EncryptionOptions::default()
    });
    let start = text.find("<xenc:ReferenceList>").unwrap();
    let end = text.find("</xenc:ReferenceList>").unwrap() + "</xenc:ReferenceList>".len();
    let unlinked = format!("{}{}", &text[..start], &text[end..]);
    assert!(!unlinked.contains("DataReference") && !unlinked.contains("RetrievalMethod"));
    let decrypted = decrypt_in_response(
        &response_with(&unlinked),
        &sp_keys(),
        &EncryptionPolicy::default(),
    )
    .unwrap();
    assert_eq!(decrypted.plaintext, ASSERTION.as_bytes());
}
