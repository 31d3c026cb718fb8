//! Tampered ciphertexts fail with an error, never a panic, and never decrypt to the original.
//! CBC without a signature cannot detect every change (that is why the pipeline demands a
//! covering signature for CBC); the tests say which changes CBC itself catches.

use base64::Engine;
use samlgate::crypto::decrypt::{DecryptionError, EncryptionPolicy};
use samlgate::crypto::enc_algorithms::{CipherError, ContentAlgorithm};
use samlgate::crypto::encrypt::EncryptionOptions;

use crate::support::xmlenc::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The EncryptedData's CipherValue text (the last CipherValue in encryptor output with the key
/// inside KeyInfo) and its byte range.
fn data_cipher_value(text: &str) -> (std::ops::Range<usize>, Vec<u8>) {
    let open = "<xenc:CipherValue>";
    let start = text.rfind(open).unwrap() + open.len();
    let end = start + text[start..].find("</xenc:CipherValue>").unwrap();
    (start..end, B64.decode(&text[start..end]).unwrap())
}

fn with_data_cipher_value(text: &str, value: &str) -> String {
    let (range, _) = data_cipher_value(text);
    let mut out = text.to_string();
    out.replace_range(range, value);
    out
}

fn with_data_bytes(text: &str, bytes: &[u8]) -> String {
    with_data_cipher_value(text, &B64.encode(bytes))
}

fn decrypt_text(text: &str) -> Result<samlgate::crypto::decrypt::Decrypted, DecryptionError> {
    decrypt_in_response(
        &response_with(text),
        &sp_keys(),
        &EncryptionPolicy::default(),
    )
}

fn with_content(content: ContentAlgorithm) -> String {
    encrypted(&EncryptionOptions {
        content,
        ..EncryptionOptions::default()
    })
}

#[test]
fn gcm_detects_a_flipped_tag_byte() {
    let text = with_content(ContentAlgorithm::Aes256Gcm);
    let (_, mut bytes) = data_cipher_value(&text);
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    assert_eq!(
        decrypt_text(&with_data_bytes(&text, &bytes)).unwrap_err(),
        DecryptionError::Content(CipherError::TagMismatch {
            algorithm: ContentAlgorithm::Aes256Gcm
        })
    );
}

#[test]
fn gcm_detects_every_single_byte_flip() {
    let text = with_content(ContentAlgorithm::Aes128Gcm);
    let (_, bytes) = data_cipher_value(&text);
    for i in 0..bytes.len() {
        let mut tampered = bytes.clone();
        tampered[i] ^= 0x40;
        let err = decrypt_text(&with_data_bytes(&text, &tampered)).unwrap_err();
        assert!(
            matches!(
                err,
                DecryptionError::Content(CipherError::TagMismatch { .. })
            ),
            "byte {i}: {err}"
        );
    }
}

#[test]
fn cbc_detects_a_flip_that_breaks_the_pad_length() {
    // Flipping the top bit of the last byte of the next-to-last block (or of the IV, for a
    // one-block body) flips the top bit of the pad-length byte: 1..=16 becomes 129..=144.
    for content in [ContentAlgorithm::Aes128Cbc, ContentAlgorithm::Aes256Cbc] {
        let text = with_content(content);
        let (_, mut bytes) = data_cipher_value(&text);
        let target = bytes.len() - 16 - 1;
        bytes[target] ^= 0x80;
        let err = decrypt_text(&with_data_bytes(&text, &bytes)).unwrap_err();
        assert!(
            matches!(err, DecryptionError::Content(CipherError::BadPadding { pad, .. }) if pad > 16),
            "{content}: {err}"
        );
    }
}

#[test]
fn cbc_iv_or_body_flip_never_yields_the_original_and_is_marked_as_needing_a_signature() {
    let text = with_content(ContentAlgorithm::Aes256Cbc);
    let (_, bytes) = data_cipher_value(&text);
    // First IV byte, a body byte in the middle, the last byte.
    for i in [0, 16 + 5, bytes.len() / 2, bytes.len() - 1] {
        let mut tampered = bytes.clone();
        tampered[i] ^= 0x01;
        match decrypt_text(&with_data_bytes(&text, &tampered)) {
            Err(DecryptionError::Content(_)) => {}
            Ok(decrypted) => {
                // CBC is malleable: the change goes undetected here, so the pipeline's rule
                // (CBC only under a verified signature) is what refuses it.
                assert_ne!(decrypted.plaintext, ASSERTION.as_bytes(), "byte {i}");
                assert!(decrypted.needs_covering_signature());
            }
            Err(other) => panic!("byte {i}: unexpected {other:?}"),
        }
    }
}

#[test]
fn a_truncated_cipher_value_is_an_error() {
    for content in [ContentAlgorithm::Aes256Gcm, ContentAlgorithm::Aes256Cbc] {
        let text = with_content(content);
        let (_, bytes) = data_cipher_value(&text);
        for keep in [0usize, 1, 11, 12, 27, 31, bytes.len() - 1] {
            let result = if keep == 0 {
                decrypt_text(&with_data_cipher_value(&text, ""))
            } else {
                decrypt_text(&with_data_bytes(&text, &bytes[..keep]))
            };
            let err = result.expect_err("truncated ciphertext must not decrypt");
            assert!(
                matches!(
                    err,
                    DecryptionError::Content(_) | DecryptionError::Empty { .. }
                ),
                "{content} keep {keep}: {err}"
            );
        }
    }
}

#[test]
fn an_empty_cipher_value_is_an_error() {
    let text = with_content(ContentAlgorithm::Aes128Gcm);
    for empty in ["", "   \n\t "] {
        assert_eq!(
            decrypt_text(&with_data_cipher_value(&text, empty)).unwrap_err(),
            DecryptionError::Empty {
                what: "EncryptedData CipherValue"
            }
        );
    }
}

#[test]
fn bad_base64_is_an_error() {
    let text = with_content(ContentAlgorithm::Aes128Gcm);
    for bad in ["!!!!", "AAA", "AAAA=AAA", "ÄÖÜ="] {
        assert!(
            matches!(
                decrypt_text(&with_data_cipher_value(&text, bad)).unwrap_err(),
                DecryptionError::Base64 { .. }
            ),
            "{bad}"
        );
    }
}

#[test]
fn base64_with_line_breaks_is_accepted() {
    // Java and .NET encoders wrap base64 at 64 or 76 columns.
    let text = with_content(ContentAlgorithm::Aes128Gcm);
    let (_, bytes) = data_cipher_value(&text);
    let encoded = B64.encode(&bytes);
    let wrapped: Vec<String> = encoded
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let decrypted = decrypt_text(&with_data_cipher_value(
        &text,
        &format!("\n{}\n", wrapped.join("\r\n")),
    ))
    .unwrap();
    assert_eq!(decrypted.plaintext, ASSERTION.as_bytes());
}

#[test]
fn a_tampered_encrypted_key_fails_as_key_unwrap_not_as_a_crash() {
    let text = with_content(ContentAlgorithm::Aes256Gcm);
    let open = "<xenc:CipherValue>";
    let start = text.find(open).unwrap() + open.len();
    let end = start + text[start..].find("</xenc:CipherValue>").unwrap();
    let mut wrapped = B64.decode(&text[start..end]).unwrap();
    for (i, flip) in [(0usize, 0x01u8), (100, 0x80), (255, 0xff)] {
        wrapped[i] ^= flip;
        let mut tampered = text.clone();
        tampered.replace_range(start..end, &B64.encode(&wrapped));
        assert!(matches!(
            decrypt_text(&tampered).unwrap_err(),
            DecryptionError::KeyUnwrapFailed { .. }
        ));
        wrapped[i] ^= flip;
    }
    // A wrapped key of the wrong length never reaches RSA as a valid block either.
    let mut short = text.clone();
    short.replace_range(start..end, &B64.encode(&wrapped[..100]));
    assert!(matches!(
        decrypt_text(&short).unwrap_err(),
        DecryptionError::KeyUnwrapFailed { .. }
    ));
}
