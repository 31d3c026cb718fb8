//! Unit tests of `crypto::algorithms`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
#[test]
fn digests_match_the_fips_180_vectors_and_the_plain_call() {
    let hex = |b: Vec<u8>| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(
        hex(HashFunction::Sha256.digest(b"abc").unwrap()),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hex(HashFunction::Sha1.digest(b"abc").unwrap()),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    for h in [
        HashFunction::Sha1,
        HashFunction::Sha256,
        HashFunction::Sha384,
        HashFunction::Sha512,
    ] {
        let data = vec![0x5au8; 10_000];
        let digest = h.digest(&data).unwrap();
        assert_eq!(digest.len(), h.output_len());
        assert_eq!(
            digest,
            openssl::hash::hash(h.message_digest(), &data)
                .unwrap()
                .to_vec()
        );
    }
}

use super::*;

#[test]
fn every_signature_algorithm_round_trips_through_its_uri() {
    for a in SignatureAlgorithm::ALL {
        assert_eq!(SignatureAlgorithm::from_uri(a.uri(), true), Ok(a));
    }
    for d in DigestAlgorithm::ALL {
        assert_eq!(DigestAlgorithm::from_uri(d.uri(), true), Ok(d));
    }
}

#[test]
fn sha2_signature_uris_are_the_rfc_6931_ones() {
    assert_eq!(
        SignatureAlgorithm::from_uri("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", false),
        Ok(SignatureAlgorithm::RsaSha256)
    );
    assert_eq!(
        SignatureAlgorithm::from_uri(
            "http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1",
            false
        ),
        Ok(SignatureAlgorithm::RsaPssSha384)
    );
    assert_eq!(
        SignatureAlgorithm::from_uri("http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512", false),
        Ok(SignatureAlgorithm::EcdsaSha512)
    );
    assert_eq!(
        DigestAlgorithm::from_uri("http://www.w3.org/2001/04/xmldsig-more#sha384", false),
        Ok(DigestAlgorithm::Sha384)
    );
}

#[test]
fn refuses_rsa_sha1_unless_allowed() {
    let uri = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
    assert_eq!(
        SignatureAlgorithm::from_uri(uri, false),
        Err(AlgorithmError::Sha1NotAllowed {
            role: AlgorithmRole::Signature,
            uri: uri.to_string()
        })
    );
    assert_eq!(
        SignatureAlgorithm::from_uri(uri, true),
        Ok(SignatureAlgorithm::RsaSha1)
    );
}

#[test]
fn refuses_sha1_digest_unless_allowed() {
    let uri = "http://www.w3.org/2000/09/xmldsig#sha1";
    assert_eq!(
        DigestAlgorithm::from_uri(uri, false).map_err(|e| e.kind()),
        Err("signature_algorithm_sha1_not_allowed")
    );
    assert_eq!(
        DigestAlgorithm::from_uri(uri, true),
        Ok(DigestAlgorithm::Sha1)
    );
}

#[test]
fn refuses_hmac_even_with_sha1_allowed() {
    for uri in [
        "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
        "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#hmac-sha512",
        "http://www.w3.org/2001/04/xmldsig-more#hmac-md5",
    ] {
        let err = SignatureAlgorithm::from_uri(uri, true).unwrap_err();
        assert_eq!(err.kind(), "signature_algorithm_hmac", "{uri}");
        assert!(err.to_string().contains(uri));
    }
}

#[test]
fn refuses_unknown_uri_naming_it() {
    for uri in [
        "http://www.w3.org/2001/04/xmldsig-more#rsa-md5",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha224",
        "",
        "RSA-SHA256",
    ] {
        let err = SignatureAlgorithm::from_uri(uri, true).unwrap_err();
        assert_eq!(
            err,
            AlgorithmError::Unknown {
                role: AlgorithmRole::Signature,
                uri: uri.to_string()
            }
        );
        assert!(err.to_string().contains(uri));
    }
    let err =
        DigestAlgorithm::from_uri("http://www.w3.org/2001/04/xmldsig-more#md5", true).unwrap_err();
    assert_eq!(err.kind(), "signature_algorithm_unknown");
}

#[test]
fn digest_uris_are_not_signature_uris() {
    assert!(SignatureAlgorithm::from_uri(uri::SHA256, true).is_err());
    assert!(DigestAlgorithm::from_uri(uri::RSA_SHA256, true).is_err());
}

#[test]
fn output_len_matches_what_openssl_produces() {
    for d in DigestAlgorithm::ALL {
        assert_eq!(
            d.digest(b"abc").unwrap().len(),
            d.hash().output_len(),
            "{d}"
        );
        assert_eq!(
            d.hash().message_digest().size(),
            d.hash().output_len(),
            "{d}"
        );
    }
}
