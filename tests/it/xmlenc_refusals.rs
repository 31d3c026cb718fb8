//! What the decryptor refuses (docs/security.md "Encryption"), each with the variant that names why,
//! and all of them under the one outward rejection kind.

use samlgate::crypto::decrypt::{DecryptionError, EncryptionPolicy, MAX_ENCRYPTED_KEYS};
use samlgate::crypto::enc_algorithms::{ContentAlgorithm, KeyTransport};
use samlgate::crypto::encrypt::{EncryptionOptions, KeyPlacement};
use samlgate::saml::rejection::Rejection;

use crate::support::xmlenc::*;

fn decrypt_text(
    encrypted_assertion: &str,
) -> Result<samlgate::crypto::decrypt::Decrypted, DecryptionError> {
    decrypt_in_response(
        &response_with(encrypted_assertion),
        &sp_keys(),
        &EncryptionPolicy::default(),
    )
}

fn rsa_1_5() -> EncryptionOptions {
    EncryptionOptions {
        key_transport: KeyTransport::Rsa15,
        ..EncryptionOptions::default()
    }
}

#[test]
fn refuses_rsa_1_5_key_transport_with_the_bleichenbacher_reason() {
    let err = decrypt_text(&encrypted(&rsa_1_5())).unwrap_err();
    assert_eq!(err, DecryptionError::Rsa15Refused);
    assert!(err.to_string().contains("Bleichenbacher"), "{err}");
}

#[test]
fn refuses_rsa_1_5_before_any_rsa_operation() {
    // With no SP key configured at all, an RSA operation could not even start; the RSA1_5 refusal
    // still comes first, which shows it is decided from the message alone.
    let text = encrypted(&rsa_1_5());
    let err =
        decrypt_in_response(&response_with(&text), &[], &EncryptionPolicy::default()).unwrap_err();
    assert_eq!(err, DecryptionError::Rsa15Refused);
    // And an OAEP message under the same conditions gets as far as needing a key.
    let oaep = encrypted(&EncryptionOptions::default());
    let err =
        decrypt_in_response(&response_with(&oaep), &[], &EncryptionPolicy::default()).unwrap_err();
    assert_eq!(err, DecryptionError::NoDecryptionKeys);
}

#[test]
fn refuses_rsa_1_5_beside_the_data_too() {
    let options = EncryptionOptions {
        placement: KeyPlacement::BesideWithRetrievalMethod,
        ..rsa_1_5()
    };
    assert_eq!(
        decrypt_text(&encrypted(&options)).unwrap_err(),
        DecryptionError::Rsa15Refused
    );
}

#[test]
fn refuses_3des_by_default() {
    let options = EncryptionOptions {
        content: ContentAlgorithm::TripleDesCbc,
        ..EncryptionOptions::default()
    };
    assert_eq!(
        decrypt_text(&encrypted(&options)).unwrap_err(),
        DecryptionError::TripleDesNotAllowed
    );
}

#[test]
fn accepts_3des_when_the_policy_allows_it() {
    let options = EncryptionOptions {
        content: ContentAlgorithm::TripleDesCbc,
        ..EncryptionOptions::default()
    };
    let policy = EncryptionPolicy {
        allow_3des: true,
        ..EncryptionPolicy::default()
    };
    let decrypted =
        decrypt_in_response(&response_with(&encrypted(&options)), &sp_keys(), &policy).unwrap();
    assert_eq!(decrypted.plaintext, ASSERTION.as_bytes());
    assert_eq!(decrypted.content_algorithm, ContentAlgorithm::TripleDesCbc);
    assert!(decrypted.needs_covering_signature());
}

#[test]
fn refuses_aes_cbc_when_the_idp_policy_disallows_cbc() {
    let options = EncryptionOptions {
        content: ContentAlgorithm::Aes256Cbc,
        ..EncryptionOptions::default()
    };
    let policy = EncryptionPolicy {
        allow_cbc: false,
        ..EncryptionPolicy::default()
    };
    let err =
        decrypt_in_response(&response_with(&encrypted(&options)), &sp_keys(), &policy).unwrap_err();
    assert_eq!(
        err,
        DecryptionError::CbcNotAllowed(ContentAlgorithm::Aes256Cbc)
    );
}

#[test]
fn an_unknown_key_fails_with_key_unwrap_error_and_the_uniform_kind() {
    let text = samlgate::crypto::encrypt::encrypt_assertion(
        ASSERTION.as_bytes(),
        &stranger().certificate,
        &EncryptionOptions::default(),
    )
    .unwrap();
    let keys = vec![
        current_sp().decryption_key("sp.key"),
        old_sp().decryption_key("sp-old.key"),
    ];
    let err = decrypt_in_response(&response_with(&text), &keys, &EncryptionPolicy::default())
        .unwrap_err();
    match &err {
        DecryptionError::KeyUnwrapFailed {
            keys,
            encrypted_keys,
            ..
        } => {
            assert_eq!((*keys, *encrypted_keys), (2, 1));
        }
        other => panic!("expected KeyUnwrapFailed, got {other:?}"),
    }
    assert_eq!(Rejection::from(err).kind(), "decryption_failed");
}

#[test]
fn every_refusal_surfaces_as_the_one_decryption_failed_kind() {
    let errors = [
        DecryptionError::Rsa15Refused,
        DecryptionError::TripleDesNotAllowed,
        DecryptionError::NoEncryptedKey,
        DecryptionError::ExternalRetrievalMethod {
            uri: "https://evil.example/k".into(),
        },
        DecryptionError::Empty { what: "x" },
    ];
    for err in errors {
        let rejection = Rejection::from(err);
        assert_eq!(rejection.kind(), "decryption_failed");
        assert_eq!(rejection.category(), "decryption");
    }
}

fn beside_by_retrieval_method() -> String {
    encrypted(&EncryptionOptions {
        placement: KeyPlacement::BesideWithRetrievalMethod,
        ..EncryptionOptions::default()
    })
}

/// Replaces the RetrievalMethod's URI in Okta-shaped encryptor output.
fn with_retrieval_uri(text: &str, uri: &str) -> String {
    let start =
        text.find("<ds:RetrievalMethod URI=\"").unwrap() + "<ds:RetrievalMethod URI=\"".len();
    let end = start + text[start..].find('"').unwrap();
    // Drop the DataReference too, so the RetrievalMethod is the only tie.
    let mut out = format!("{}{}{}", &text[..start], uri, &text[end..]);
    let list_start = out.find("<xenc:ReferenceList>").unwrap();
    let list_end = out.find("</xenc:ReferenceList>").unwrap() + "</xenc:ReferenceList>".len();
    out.replace_range(list_start..list_end, "");
    out
}

#[test]
fn refuses_a_retrieval_method_to_another_document() {
    for uri in ["https://evil.example/key.xml", "key.xml#_ek1", ""] {
        let text = with_retrieval_uri(&beside_by_retrieval_method(), uri);
        assert_eq!(
            decrypt_text(&text).unwrap_err(),
            DecryptionError::ExternalRetrievalMethod {
                uri: uri.to_string()
            },
            "{uri}"
        );
    }
}

#[test]
fn refuses_a_retrieval_method_to_an_id_that_is_not_there() {
    let text = with_retrieval_uri(&beside_by_retrieval_method(), "#_nowhere");
    assert!(matches!(
        decrypt_text(&text).unwrap_err(),
        DecryptionError::UnresolvedRetrievalMethod { id, .. } if id == "_nowhere"
    ));
}

#[test]
fn refuses_a_retrieval_method_of_another_type() {
    let text = beside_by_retrieval_method().replace(
        "Type=\"http://www.w3.org/2001/04/xmlenc#EncryptedKey\"",
        "Type=\"http://www.w3.org/2000/09/xmldsig#X509Data\"",
    );
    assert!(matches!(
        decrypt_text(&text).unwrap_err(),
        DecryptionError::UnsupportedRetrievalType(_)
    ));
}

#[test]
fn refuses_a_retrieval_method_when_the_id_is_duplicated() {
    let text = beside_by_retrieval_method();
    let key_id = {
        let start = text
            .find("<xenc:EncryptedKey xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" Id=\"")
            .unwrap();
        let rest = &text[start..];
        let id_start = rest.find("Id=\"").unwrap() + 4;
        rest[id_start..id_start + rest[id_start..].find('"').unwrap()].to_string()
    };
    // A second element carrying the same Id, placed first: which one is "#id"? Neither.
    let decoy = format!(
        "<xenc:EncryptedKey xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" Id=\"{key_id}\"><xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p\"/><xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey>"
    );
    let insert_at = text.find("</saml:EncryptedAssertion>").unwrap();
    let mut tampered = text.clone();
    tampered.insert_str(insert_at, &decoy);
    assert!(matches!(
        decrypt_text(&tampered).unwrap_err(),
        DecryptionError::DuplicateId { id, .. } if id == key_id
    ));
}

#[test]
fn refuses_cipher_reference_instead_of_fetching_it() {
    let text = encrypted(&EncryptionOptions::default());
    let start = text.rfind("<xenc:CipherData><xenc:CipherValue>").unwrap();
    let end = text.rfind("</xenc:CipherData>").unwrap();
    let tampered = format!(
        "{}<xenc:CipherData><xenc:CipherReference URI=\"https://evil.example/ct\"/>{}",
        &text[..start],
        &text[end..]
    );
    assert_eq!(
        decrypt_text(&tampered).unwrap_err(),
        DecryptionError::CipherReference {
            what: "EncryptedData CipherValue"
        }
    );
}

#[test]
fn refuses_unknown_content_and_key_transport_algorithms() {
    let text = encrypted(&EncryptionOptions::default());
    let content = text.replace(
        "http://www.w3.org/2009/xmlenc11#aes256-gcm",
        "http://www.w3.org/2001/04/xmldsig-more#camellia256-cbc",
    );
    assert!(matches!(
        decrypt_text(&content).unwrap_err(),
        DecryptionError::UnsupportedContentAlgorithm(_)
    ));
    let transport = text.replace(
        "http://www.w3.org/2009/xmlenc11#rsa-oaep\"",
        "http://www.w3.org/2001/04/xmlenc#kw-aes256\"",
    );
    assert!(matches!(
        decrypt_text(&transport).unwrap_err(),
        DecryptionError::UnsupportedKeyTransport(_)
    ));
    let digest = text.replace(
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2001/04/xmldsig-more#md5",
    );
    assert!(matches!(
        decrypt_text(&digest).unwrap_err(),
        DecryptionError::UnsupportedOaepDigest(_)
    ));
}

#[test]
fn refuses_encrypted_content_type() {
    let text = encrypted(&EncryptionOptions::default()).replace(
        "http://www.w3.org/2001/04/xmlenc#Element",
        "http://www.w3.org/2001/04/xmlenc#Content",
    );
    assert!(matches!(
        decrypt_text(&text).unwrap_err(),
        DecryptionError::UnsupportedDataType(_)
    ));
}

#[test]
fn refuses_a_cipher_value_over_the_size_cap() {
    let policy = EncryptionPolicy {
        max_cipher_value_len: 64,
        ..EncryptionPolicy::default()
    };
    let err = decrypt_in_response(
        &response_with(&encrypted(&EncryptionOptions::default())),
        &sp_keys(),
        &policy,
    )
    .unwrap_err();
    assert!(
        matches!(err, DecryptionError::TooLarge { limit: 64, .. }),
        "{err}"
    );
}

#[test]
fn refuses_more_encrypted_keys_than_the_cap() {
    let text = encrypted(&EncryptionOptions::default());
    let start = text.find("<xenc:EncryptedKey").unwrap();
    let end = text.find("</xenc:EncryptedKey>").unwrap() + "</xenc:EncryptedKey>".len();
    let one_key = &text[start..end];
    let many = one_key.repeat(MAX_ENCRYPTED_KEYS + 1);
    let tampered = format!("{}{}{}", &text[..start], many, &text[end..]);
    // Ids repeat, but nothing resolves by Id here: the keys sit inline in KeyInfo.
    assert!(matches!(
        decrypt_text(&tampered).unwrap_err(),
        DecryptionError::TooManyEncryptedKeys { count, limit } if count == MAX_ENCRYPTED_KEYS + 1 && limit == MAX_ENCRYPTED_KEYS
    ));
}

#[test]
fn refuses_more_retrieval_methods_than_the_cap_and_decrypts_with_repeated_ones_within_it() {
    // Each RetrievalMethod is a search of the EncryptedAssertion, so their number is capped
    // before any is resolved; within the cap, references to one key make it one key to try.
    let text = beside_by_retrieval_method();
    let start = text.find("<ds:RetrievalMethod").unwrap();
    let end = start + text[start..].find("/>").unwrap() + 2;
    let method = &text[start..end];
    let repeated = |n: usize| format!("{}{}{}", &text[..start], method.repeat(n), &text[end..]);
    assert_eq!(
        decrypt_text(&repeated(MAX_ENCRYPTED_KEYS + 1)).unwrap_err(),
        DecryptionError::TooManyKeyReferences {
            count: MAX_ENCRYPTED_KEYS + 1,
            limit: MAX_ENCRYPTED_KEYS
        }
    );
    let decrypted = decrypt_text(&repeated(MAX_ENCRYPTED_KEYS)).unwrap();
    assert_eq!(decrypted, decrypt_text(&text).unwrap());
}

#[test]
fn refuses_more_key_names_than_the_cap() {
    let text = encrypted(&EncryptionOptions::default());
    let at = text.find("<ds:KeyInfo").unwrap();
    let at = at + text[at..].find('>').unwrap() + 1;
    let names = "<ds:KeyName>sp</ds:KeyName>".repeat(MAX_ENCRYPTED_KEYS + 1);
    let tampered = format!("{}{names}{}", &text[..at], &text[at..]);
    assert_eq!(
        decrypt_text(&tampered).unwrap_err(),
        DecryptionError::TooManyKeyReferences {
            count: MAX_ENCRYPTED_KEYS + 1,
            limit: MAX_ENCRYPTED_KEYS
        }
    );
}

#[test]
fn refuses_two_encrypted_data_and_foreign_children() {
    let text = encrypted(&EncryptionOptions::default());
    let start = text.find("<xenc:EncryptedData").unwrap();
    let end = text.find("</xenc:EncryptedData>").unwrap() + "</xenc:EncryptedData>".len();
    let doubled = format!("{}{}{}", &text[..end], &text[start..end], &text[end..]);
    assert!(matches!(
        decrypt_text(&doubled).unwrap_err(),
        DecryptionError::EncryptedDataCount { count: 2, .. }
    ));
    let foreign = format!(
        "{}<saml:Assertion ID=\"_evil\"/>{}",
        &text[..end],
        &text[end..]
    );
    assert!(matches!(
        decrypt_text(&foreign).unwrap_err(),
        DecryptionError::UnexpectedChild { .. }
    ));
}

#[test]
fn refuses_an_element_that_is_not_a_saml_encrypted_element() {
    let doc =
        samlgate::xml::parse(ASSERTION.as_bytes(), &samlgate::xml::ParseLimits::default()).unwrap();
    let err = samlgate::crypto::decrypt::decrypt_element(
        doc.root(),
        &sp_keys(),
        &EncryptionPolicy::default(),
    )
    .unwrap_err();
    assert!(matches!(err, DecryptionError::NotAnEncryptedElement { .. }));
}

#[test]
fn refuses_encrypted_data_with_no_key_to_be_found() {
    // DataReference pointing at some other EncryptedData: the key is not for this data.
    let text = encrypted(&EncryptionOptions {
        placement: KeyPlacement::BesideWithDataReference,
        ..EncryptionOptions::default()
    });
    let start =
        text.find("<xenc:DataReference URI=\"#").unwrap() + "<xenc:DataReference URI=\"#".len();
    let end = start + text[start..].find('"').unwrap();
    let tampered = format!("{}_other{}", &text[..start], &text[end..]);
    assert_eq!(
        decrypt_text(&tampered).unwrap_err(),
        DecryptionError::NoEncryptedKey
    );
}

#[test]
fn okta_shape_key_referenced_twice_costs_one_rsa_attempt_per_sp_key() {
    // RetrievalMethod and DataReference both name the same EncryptedKey: it is tried once.
    let text = samlgate::crypto::encrypt::encrypt_assertion(
        ASSERTION.as_bytes(),
        &stranger().certificate,
        &EncryptionOptions {
            placement: KeyPlacement::BesideWithRetrievalMethod,
            ..EncryptionOptions::default()
        },
    )
    .unwrap();
    let err = decrypt_text(&text).unwrap_err();
    assert!(
        matches!(
            err,
            DecryptionError::KeyUnwrapFailed {
                keys: 1,
                encrypted_keys: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn refuses_3des_when_cbc_is_disallowed_even_with_the_3des_flag() {
    let options = EncryptionOptions {
        content: ContentAlgorithm::TripleDesCbc,
        ..EncryptionOptions::default()
    };
    let policy = EncryptionPolicy {
        allow_3des: true,
        allow_cbc: false,
        ..EncryptionPolicy::default()
    };
    let err =
        decrypt_in_response(&response_with(&encrypted(&options)), &sp_keys(), &policy).unwrap_err();
    assert_eq!(
        err,
        DecryptionError::CbcNotAllowed(ContentAlgorithm::TripleDesCbc)
    );
}
