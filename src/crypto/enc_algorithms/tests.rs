//! Unit tests of `crypto::enc_algorithms`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
use super::*;

fn key(algorithm: ContentAlgorithm) -> Vec<u8> {
    (0..algorithm.key_len()).map(|i| i as u8).collect()
}

#[test]
fn every_content_algorithm_round_trips() {
    for algorithm in ContentAlgorithm::ALL {
        for len in [0usize, 1, 7, 8, 15, 16, 17, 100] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let sealed = encrypt_content(algorithm, &key(algorithm), &plain).unwrap();
            assert_eq!(
                decrypt_content(algorithm, &key(algorithm), &sealed).unwrap(),
                plain,
                "{algorithm} len {len}"
            );
        }
    }
}

#[test]
fn cbc_accepts_xml_enc_padding_with_arbitrary_filler_bytes() {
    // Built with OpenSSL directly: 5 bytes of text, then 10 filler bytes 0xEE that a PKCS#7
    // check would refuse, then the pad length 11.
    let algorithm = ContentAlgorithm::Aes128Cbc;
    let k = key(algorithm);
    let iv = [9u8; 16];
    let mut block = b"hello".to_vec();
    block.extend_from_slice(&[0xEE; 10]);
    block.push(11);
    let body = openssl::symm::Crypter::new(Cipher::aes_128_cbc(), Mode::Encrypt, &k, Some(&iv))
        .map(|mut c| {
            c.pad(false);
            let mut out = vec![0u8; 32];
            let n = c.update(&block, &mut out).unwrap();
            out.truncate(n);
            out
        })
        .unwrap();
    let mut data = iv.to_vec();
    data.extend_from_slice(&body);
    assert_eq!(decrypt_content(algorithm, &k, &data).unwrap(), b"hello");
}

#[test]
fn cbc_refuses_pad_length_zero_or_over_block_size() {
    let algorithm = ContentAlgorithm::Aes256Cbc;
    let k = key(algorithm);
    for last in [0u8, 17, 255] {
        let mut block = [0x41u8; 16];
        block[15] = last;
        let mut c =
            Crypter::new(Cipher::aes_256_cbc(), Mode::Encrypt, &k, Some(&[0u8; 16])).unwrap();
        c.pad(false);
        let mut out = vec![0u8; 32];
        let n = c.update(&block, &mut out).unwrap();
        let mut data = vec![0u8; 16];
        data.extend_from_slice(&out[..n]);
        assert_eq!(
            decrypt_content(algorithm, &k, &data),
            Err(CipherError::BadPadding {
                algorithm,
                pad: last,
                block: 16
            })
        );
    }
}

#[test]
fn gcm_refuses_a_flipped_tag_bit() {
    let algorithm = ContentAlgorithm::Aes128Gcm;
    let mut sealed = encrypt_content(algorithm, &key(algorithm), b"<x/>").unwrap();
    let last = sealed.len() - 1;
    sealed[last] ^= 1;
    assert_eq!(
        decrypt_content(algorithm, &key(algorithm), &sealed),
        Err(CipherError::TagMismatch { algorithm })
    );
}

#[test]
fn short_or_misaligned_ciphertexts_are_errors() {
    assert!(matches!(
        decrypt_content(ContentAlgorithm::Aes256Gcm, &[0; 32], &[0; 27]),
        Err(CipherError::TooShort { min: 28, .. })
    ));
    assert!(matches!(
        decrypt_content(ContentAlgorithm::Aes128Cbc, &[0; 16], &[0; 31]),
        Err(CipherError::TooShort { min: 32, .. })
    ));
    assert!(matches!(
        decrypt_content(ContentAlgorithm::Aes128Cbc, &[0; 16], &[0; 33]),
        Err(CipherError::NotBlockAligned { len: 17, .. })
    ));
    assert!(matches!(
        decrypt_content(ContentAlgorithm::Aes128Cbc, &[0; 15], &[0; 32]),
        Err(CipherError::KeyLength {
            expected: 16,
            found: 15,
            ..
        })
    ));
}

#[test]
fn algorithm_uris_map_both_ways() {
    for algorithm in ContentAlgorithm::ALL {
        assert_eq!(ContentAlgorithm::from_uri(algorithm.uri()), Some(algorithm));
    }
    assert_eq!(
        ContentAlgorithm::from_uri("http://www.w3.org/2001/04/xmlenc#aes128-cbc"),
        Some(ContentAlgorithm::Aes128Cbc)
    );
    assert_eq!(
        OaepHash::from_digest_uri("http://www.w3.org/2001/04/xmlenc#sha256"),
        Some(OaepHash::Sha256)
    );
    assert_eq!(
        OaepHash::from_mgf_uri("http://www.w3.org/2009/xmlenc11#mgf1sha256"),
        Some(OaepHash::Sha256)
    );
    assert_eq!(
        OaepHash::from_digest_uri("http://www.w3.org/2001/04/xmldsig-more#md5"),
        None
    );
}
