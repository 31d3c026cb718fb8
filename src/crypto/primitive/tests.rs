//! Unit tests of `crypto::primitive`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
use super::*;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;

fn rsa_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

fn ec_key(nid: Nid) -> PKey<Private> {
    PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap()).unwrap()
}

#[test]
fn every_algorithm_round_trips_with_a_fitting_key() {
    let rsa = rsa_key();
    let p256 = ec_key(Nid::X9_62_PRIME256V1);
    for alg in SignatureAlgorithm::ALL {
        let key = if alg.scheme() == SignatureScheme::Ecdsa {
            &p256
        } else {
            &rsa
        };
        let sig = sign_bytes(alg, key, b"SAMLRequest=abc&SigAlg=x").unwrap();
        verify_bytes(alg, key, b"SAMLRequest=abc&SigAlg=x", &sig).unwrap();
        assert_eq!(
            verify_bytes(alg, key, b"SAMLRequest=abd&SigAlg=x", &sig),
            Err(PrimitiveError::Invalid { algorithm: alg }),
            "{alg} accepted altered data"
        );
    }
}

#[test]
fn ecdsa_signatures_are_raw_r_s_padded_to_the_field_size() {
    for (nid, half) in [
        (Nid::X9_62_PRIME256V1, 32),
        (Nid::SECP384R1, 48),
        (Nid::SECP521R1, 66),
    ] {
        let key = ec_key(nid);
        // Enough signatures that some r or s has a leading zero byte and needs padding.
        for i in 0..40u8 {
            let data = [i; 7];
            let raw = sign_bytes(SignatureAlgorithm::EcdsaSha256, &key, &data).unwrap();
            assert_eq!(raw.len(), 2 * half);
            // Cross-check with OpenSSL's own ECDSA over the same digest: r, s are the halves.
            let sig = EcdsaSig::from_private_components(
                BigNum::from_slice(&raw[..half]).unwrap(),
                BigNum::from_slice(&raw[half..]).unwrap(),
            )
            .unwrap();
            let digest = openssl::hash::hash(MessageDigest::sha256(), &data).unwrap();
            assert!(sig.verify(&digest, &key.ec_key().unwrap()).unwrap());
        }
    }
}

#[test]
fn accepts_raw_ecdsa_made_by_openssl_from_der() {
    let key = ec_key(Nid::SECP384R1);
    let data = b"payload";
    let digest = openssl::hash::hash(MessageDigest::sha384(), data).unwrap();
    let sig = EcdsaSig::sign(&digest, &key.ec_key().unwrap()).unwrap();
    let mut raw = sig.r().to_vec_padded(48).unwrap();
    raw.extend(sig.s().to_vec_padded(48).unwrap());
    verify_bytes(SignatureAlgorithm::EcdsaSha384, &key, data, &raw).unwrap();
}

#[test]
fn refuses_der_encoded_ecdsa_value() {
    let key = ec_key(Nid::X9_62_PRIME256V1);
    let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
    signer.update(b"data").unwrap();
    let der = signer.sign_to_vec().unwrap();
    let err = verify_bytes(SignatureAlgorithm::EcdsaSha256, &key, b"data", &der).unwrap_err();
    assert!(
        matches!(
            err,
            PrimitiveError::EcdsaLength { expected: 64, .. } | PrimitiveError::Invalid { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn refuses_ecdsa_value_of_the_wrong_length() {
    let key = ec_key(Nid::X9_62_PRIME256V1);
    let raw = sign_bytes(SignatureAlgorithm::EcdsaSha256, &key, b"data").unwrap();
    let mut short = raw.clone();
    short.pop();
    assert_eq!(
        verify_bytes(SignatureAlgorithm::EcdsaSha256, &key, b"data", &short),
        Err(PrimitiveError::EcdsaLength {
            length: 63,
            expected: 64
        })
    );
    let mut long = vec![0u8];
    long.extend(&raw);
    assert_eq!(
        verify_bytes(SignatureAlgorithm::EcdsaSha256, &key, b"data", &long),
        Err(PrimitiveError::EcdsaLength {
            length: 65,
            expected: 64
        })
    );
}

#[test]
fn refuses_rsa_algorithm_with_ec_key_and_ecdsa_with_rsa_key() {
    let rsa = rsa_key();
    let ec = ec_key(Nid::X9_62_PRIME256V1);
    let sig = sign_bytes(SignatureAlgorithm::RsaSha256, &rsa, b"d").unwrap();
    assert_eq!(
        verify_bytes(SignatureAlgorithm::RsaSha256, &ec, b"d", &sig),
        Err(PrimitiveError::KeyTypeMismatch {
            algorithm: SignatureAlgorithm::RsaSha256,
            key_type: "EC".to_string()
        })
    );
    assert!(matches!(
        verify_bytes(SignatureAlgorithm::EcdsaSha256, &rsa, b"d", &sig),
        Err(PrimitiveError::KeyTypeMismatch { .. })
    ));
    assert!(matches!(
        sign_bytes(SignatureAlgorithm::EcdsaSha256, &rsa, b"d"),
        Err(PrimitiveError::KeyTypeMismatch { .. })
    ));
}

#[test]
fn refuses_pkcs1_signature_presented_as_pss_and_the_reverse() {
    let rsa = rsa_key();
    let pkcs1 = sign_bytes(SignatureAlgorithm::RsaSha256, &rsa, b"d").unwrap();
    let pss = sign_bytes(SignatureAlgorithm::RsaPssSha256, &rsa, b"d").unwrap();
    assert!(verify_bytes(SignatureAlgorithm::RsaPssSha256, &rsa, b"d", &pkcs1).is_err());
    assert!(verify_bytes(SignatureAlgorithm::RsaSha256, &rsa, b"d", &pss).is_err());
}

#[test]
fn refuses_pss_with_a_salt_shorter_than_the_hash() {
    let rsa = rsa_key();
    let md = MessageDigest::sha256();
    let mut signer = Signer::new(md, &rsa).unwrap();
    signer.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
    signer
        .set_rsa_pss_saltlen(RsaPssSaltlen::custom(8))
        .unwrap();
    signer.set_rsa_mgf1_md(md).unwrap();
    signer.update(b"d").unwrap();
    let sig = signer.sign_to_vec().unwrap();
    assert_eq!(
        verify_bytes(SignatureAlgorithm::RsaPssSha256, &rsa, b"d", &sig),
        Err(PrimitiveError::Invalid {
            algorithm: SignatureAlgorithm::RsaPssSha256
        })
    );
}

#[test]
fn refuses_signature_made_with_another_key() {
    let a = rsa_key();
    let b = rsa_key();
    let sig = sign_bytes(SignatureAlgorithm::RsaSha512, &a, b"d").unwrap();
    assert!(verify_bytes(SignatureAlgorithm::RsaSha512, &b, b"d", &sig).is_err());
}

#[test]
fn pss_signature_verifies_with_the_openssl_command_line() {
    // An independent implementation of RSASSA-PSS (salt = hash length, MGF1 with the same
    // hash) checks what we produce; skipped without the `openssl` binary unless CI=true.
    let Some(openssl) = crate::crypto::primitive::tests::find_tool("openssl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rsa = rsa_key();
    let data = b"RelayState=x&SigAlg=pss";
    let sig = sign_bytes(SignatureAlgorithm::RsaPssSha384, &rsa, data).unwrap();
    std::fs::write(dir.path().join("pub.pem"), rsa.public_key_to_pem().unwrap()).unwrap();
    std::fs::write(dir.path().join("data"), data).unwrap();
    std::fs::write(dir.path().join("sig"), &sig).unwrap();
    let out = std::process::Command::new(openssl)
        .current_dir(dir.path())
        .args([
            "dgst",
            "-sha384",
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:48",
            "-sigopt",
            "rsa_mgf1_md:sha384",
            "-verify",
            "pub.pem",
            "-signature",
            "sig",
            "data",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl refused our PSS signature: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

// ---- RSASSA-PKCS1-v1_5 by encode-and-compare (verify_rsa_pkcs1) ----

const PKCS1: [SignatureAlgorithm; 4] = [
    SignatureAlgorithm::RsaSha1,
    SignatureAlgorithm::RsaSha256,
    SignatureAlgorithm::RsaSha384,
    SignatureAlgorithm::RsaSha512,
];

/// A signature made by OpenSSL's own `Signer` (EVP, PKCS#1 v1.5 padding).
fn openssl_sign(alg: SignatureAlgorithm, key: &PKey<Private>, data: &[u8]) -> Vec<u8> {
    let mut signer = Signer::new(alg.hash().message_digest(), key).unwrap();
    signer.update(data).unwrap();
    signer.sign_to_vec().unwrap()
}

/// The public half as the gateway holds it: decoded from DER, typed `Public`.
fn public_of(key: &PKey<Private>) -> PKey<openssl::pkey::Public> {
    PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap()
}

fn k_of(key: &PKey<Private>) -> usize {
    key.rsa().unwrap().size() as usize
}

/// "Sign" an arbitrary k-octet block with the raw private operation (no padding): the
/// signature whose public operation yields exactly `em`, as a forger would need.
fn raw_sign(key: &PKey<Private>, em: &[u8]) -> Vec<u8> {
    let rsa = key.rsa().unwrap();
    let mut out = vec![0u8; rsa.size() as usize];
    let n = rsa.private_encrypt(em, &mut out, Padding::NONE).unwrap();
    assert_eq!(n, out.len());
    // The forging technique is sound: the public operation gives the block back.
    let mut back = vec![0u8; out.len()];
    rsa.public_decrypt(&out, &mut back, Padding::NONE).unwrap();
    assert_eq!(back, em);
    out
}

const OID_SHA1: &[u8] = &[0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a];
const OID_SHA256: &[u8] = &[
    0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
];
const OID_SHA384: &[u8] = &[
    0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
];
const OID_SHA512: &[u8] = &[
    0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
];
const OID_SHA224: &[u8] = &[
    0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04,
];
const OID_MD5: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05];

fn oid_of(hash: HashFunction) -> &'static [u8] {
    match hash {
        HashFunction::Sha1 => OID_SHA1,
        HashFunction::Sha256 => OID_SHA256,
        HashFunction::Sha384 => OID_SHA384,
        HashFunction::Sha512 => OID_SHA512,
    }
}

/// DER `DigestInfo` (short-form lengths only, which is all these sizes need), with
/// `params` as the raw encoding of the AlgorithmIdentifier's parameters (`05 00` for NULL).
fn digest_info(oid: &[u8], params: &[u8], digest: &[u8]) -> Vec<u8> {
    let mut alg_id = vec![0x30, (oid.len() + params.len()) as u8];
    alg_id.extend(oid);
    alg_id.extend(params);
    let mut body = alg_id;
    body.push(0x04);
    body.push(digest.len() as u8);
    body.extend(digest);
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// `00 01 || FF * ps_len || 00 || t || trailer`.
fn block(ps_len: usize, t: &[u8], trailer: &[u8]) -> Vec<u8> {
    let mut em = vec![0x00, 0x01];
    em.extend(std::iter::repeat_n(0xFF, ps_len));
    em.push(0x00);
    em.extend(t);
    em.extend(trailer);
    em
}

/// Both verifiers refuse `sig`: the fast path with `Invalid`, the EVP reference too.
fn assert_both_refuse(
    alg: SignatureAlgorithm,
    key: &PKey<Private>,
    data: &[u8],
    sig: &[u8],
    what: &str,
) {
    assert_eq!(
        verify_rsa_pkcs1(alg, key, data, sig),
        Err(PrimitiveError::Invalid { algorithm: alg }),
        "fast path accepted {what} ({alg})"
    );
    assert!(
        verify_evp(alg, key, data, sig).is_err(),
        "EVP accepted {what} ({alg})"
    );
    assert!(verify_bytes(alg, key, data, sig).is_err(), "{what} ({alg})");
}

#[test]
fn pkcs1_digest_info_prefixes_fit_their_hash() {
    for alg in PKCS1 {
        let hash = alg.hash();
        let prefix = digest_info_prefix(hash);
        let len = hash.output_len();
        // The OCTET STRING's length is the digest length, the outer SEQUENCE covers all.
        assert_eq!(prefix.last().copied(), Some(len as u8), "{alg}");
        assert_eq!(usize::from(prefix[1]), prefix.len() - 2 + len, "{alg}");
        assert_eq!(
            digest_info(oid_of(hash), &[0x05, 0x00], &vec![0xAB; len]),
            [prefix, &vec![0xAB; len][..]].concat(),
            "{alg}"
        );
    }
}

#[test]
fn pkcs1_encoding_built_by_hand_is_byte_for_byte_what_openssl_signs() {
    // PKCS#1 v1.5 is deterministic: the raw private operation on our EM' must give exactly
    // the signature OpenSSL's Signer makes. This pins the DigestInfo bytes and the layout.
    let key = rsa_key();
    let k = k_of(&key);
    for alg in PKCS1 {
        let data = b"<ds:SignedInfo>...</ds:SignedInfo>";
        let digest = openssl::hash::hash(alg.hash().message_digest(), data).unwrap();
        let em = emsa_pkcs1_v1_5_encode(alg.hash(), &digest, k).unwrap();
        assert_eq!(em.len(), k);
        assert_eq!(raw_sign(&key, &em), openssl_sign(alg, &key, data), "{alg}");
    }
}

#[test]
fn pkcs1_fast_path_accepts_openssl_signer_signatures_for_every_hash() {
    let key = rsa_key();
    let public = public_of(&key);
    for alg in PKCS1 {
        let data = format!("SAMLRequest=abc&SigAlg={}", alg.uri());
        let sig = openssl_sign(alg, &key, data.as_bytes());
        verify_rsa_pkcs1(alg, &key, data.as_bytes(), &sig).unwrap();
        verify_rsa_pkcs1(alg, &public, data.as_bytes(), &sig).unwrap();
        verify_bytes(alg, &public, data.as_bytes(), &sig).unwrap();
        verify_bytes(alg, &key, data.as_bytes(), &sig).unwrap();
        // Empty data has a digest like any other.
        let empty = openssl_sign(alg, &key, b"");
        verify_rsa_pkcs1(alg, &public, b"", &empty).unwrap();
    }
}

#[test]
fn pkcs1_fast_path_serves_the_dsig_key_list_with_certificate_keys() {
    // The hot path: dsig passes `&key.key` of a metadata VerificationKey (from a certificate).
    let key = rsa_key();
    let other = rsa_key();
    let keys = [
        crate::crypto::test_fixtures::verification_key(&other, "old"),
        crate::crypto::test_fixtures::verification_key(&key, "new"),
    ];
    let sig = openssl_sign(SignatureAlgorithm::RsaSha256, &key, b"si");
    let (index, _) =
        crate::crypto::dsig::verify_with_any_key(SignatureAlgorithm::RsaSha256, &keys, b"si", &sig)
            .unwrap();
    assert_eq!(index, 1);
    verify_rsa_pkcs1(SignatureAlgorithm::RsaSha256, &keys[1].key, b"si", &sig).unwrap();
    assert!(
        crate::crypto::dsig::verify_with_any_key(SignatureAlgorithm::RsaSha256, &keys, b"sj", &sig)
            .is_err()
    );
}

#[test]
fn pkcs1_refuses_one_flipped_bit_in_the_signature() {
    let key = rsa_key();
    let k = k_of(&key);
    for alg in PKCS1 {
        let sig = openssl_sign(alg, &key, b"data");
        for (byte, bit) in [(0, 0), (0, 7), (1, 3), (k / 2, 5), (k - 1, 0), (k - 1, 7)] {
            let mut bad = sig.clone();
            bad[byte] ^= 1 << bit;
            assert_both_refuse(alg, &key, b"data", &bad, "a flipped signature bit");
        }
    }
}

#[test]
fn pkcs1_refuses_one_flipped_bit_in_the_data() {
    let key = rsa_key();
    let data = b"<ds:SignedInfo xmlns:ds=\"...\">".to_vec();
    for alg in PKCS1 {
        let sig = openssl_sign(alg, &key, &data);
        for (byte, bit) in [(0, 0), (5, 6), (data.len() - 1, 7)] {
            let mut bad = data.clone();
            bad[byte] ^= 1 << bit;
            assert_both_refuse(alg, &key, &bad, &sig, "a flipped data bit");
        }
        let mut longer = data.clone();
        longer.push(b' ');
        assert_both_refuse(alg, &key, &longer, &sig, "one more data byte");
    }
}

#[test]
fn pkcs1_refuses_a_right_length_signature_by_another_key() {
    let key = rsa_key();
    let other = rsa_key();
    for alg in PKCS1 {
        let sig = openssl_sign(alg, &other, b"data");
        assert_eq!(sig.len(), k_of(&key));
        assert_both_refuse(alg, &key, b"data", &sig, "another key's signature");
    }
}

#[test]
fn pkcs1_refuses_a_signature_one_byte_short_or_long() {
    let key = rsa_key();
    let public = public_of(&key);
    let alg = SignatureAlgorithm::RsaSha256;
    let sig = openssl_sign(alg, &key, b"data");
    let dropped_last = sig[..sig.len() - 1].to_vec();
    let dropped_first = sig[1..].to_vec();
    let zero_appended = [&sig[..], &[0]].concat();
    // Same integer, one more octet: I2OSP/OS2IP would not tell them apart, step 1 does.
    let zero_prepended = [&[0], &sig[..]].concat();
    for (bad, what) in [
        (dropped_last, "the last byte dropped"),
        (dropped_first, "the first byte dropped"),
        (zero_appended, "a zero byte appended"),
        (zero_prepended, "a zero byte prepended"),
        (Vec::new(), "an empty signature"),
    ] {
        assert_both_refuse(alg, &key, b"data", &bad, what);
        assert_eq!(
            verify_rsa_pkcs1(alg, &public, b"data", &bad),
            Err(PrimitiveError::Invalid { algorithm: alg }),
            "{what}"
        );
    }
}

#[test]
fn pkcs1_refuses_a_value_not_below_the_modulus() {
    // s >= n: RSAVP1 refuses ("signature representative out of range"), and so do we.
    let key = rsa_key();
    let k = k_of(&key);
    let alg = SignatureAlgorithm::RsaSha256;
    assert_both_refuse(alg, &key, b"data", &vec![0xFF; k], "s = 2^8k - 1");
    let n = key.rsa().unwrap().n().to_vec();
    assert_both_refuse(alg, &key, b"data", &n, "s = n");
}

#[test]
fn pkcs1_refuses_a_digest_info_for_another_hash_over_the_right_digest() {
    let key = rsa_key();
    let k = k_of(&key);
    let data = b"data";
    let alg = SignatureAlgorithm::RsaSha256;
    let digest = openssl::hash::hash(MessageDigest::sha256(), data).unwrap();
    // The right SHA-256 digest under another algorithm's OID (lengths stay consistent).
    for (oid, name) in [
        (OID_SHA1, "SHA-1"),
        (OID_SHA384, "SHA-384"),
        (OID_SHA512, "SHA-512"),
        (OID_SHA224, "SHA-224"),
        (OID_MD5, "MD5"),
    ] {
        let t = digest_info(oid, &[0x05, 0x00], &digest);
        let em = block(k - 3 - t.len(), &t, &[]);
        let sig = raw_sign(&key, &em);
        assert_both_refuse(alg, &key, data, &sig, &format!("a {name} DigestInfo"));
    }
    // The SHA-256 DigestInfo without the NULL parameters (an encoding RFC 8017 mentions
    // but OpenSSL refuses; we keep refusing it).
    let t = digest_info(OID_SHA256, &[], &digest);
    let sig = raw_sign(&key, &block(k - 3 - t.len(), &t, &[]));
    assert_both_refuse(
        alg,
        &key,
        data,
        &sig,
        "a DigestInfo without NULL parameters",
    );
    // The control: the same construction with the right OID verifies.
    let t = digest_info(OID_SHA256, &[0x05, 0x00], &digest);
    let sig = raw_sign(&key, &block(k - 3 - t.len(), &t, &[]));
    verify_rsa_pkcs1(alg, &key, data, &sig).unwrap();
    // Algorithm substitution: a genuine RSA-SHA512 signature presented as RSA-SHA256.
    let sha512 = openssl_sign(SignatureAlgorithm::RsaSha512, &key, data);
    assert_both_refuse(alg, &key, data, &sha512, "an RSA-SHA512 signature");
    verify_rsa_pkcs1(SignatureAlgorithm::RsaSha512, &key, data, &sha512).unwrap();
}

#[test]
fn pkcs1_refuses_the_bleichenbacher_2006_forgery_shapes() {
    // A verifier that parses the decrypted block (skip FF..FF 00, read the DigestInfo, take
    // the digest) accepts these; encode-and-compare cannot.
    let key = rsa_key();
    let k = k_of(&key);
    let data = b"<saml:Assertion ID=\"_a\">";
    for alg in PKCS1 {
        let hash = alg.hash();
        let digest = openssl::hash::hash(hash.message_digest(), data).unwrap();
        let t = [digest_info_prefix(hash), &digest[..]].concat();
        let full_ps = k - 3 - t.len();
        let mut shapes: Vec<(String, Vec<u8>)> = Vec::new();
        // Short PS, garbage after the digest to make up the length (the 2006 forgery).
        for ps in [8, 9, full_ps / 2, full_ps - 1] {
            let garbage = vec![0x5A; full_ps - ps];
            shapes.push((
                format!("PS of {ps} and garbage after"),
                block(ps, &t, &garbage),
            ));
            let zeros = vec![0x00; full_ps - ps];
            shapes.push((format!("PS of {ps} and zeros after"), block(ps, &t, &zeros)));
        }
        // Garbage hidden in the AlgorithmIdentifier's parameters instead of NULL.
        let oid = oid_of(hash);
        for n in [1usize, 20] {
            let mut params = vec![0x04, n as u8];
            params.extend(vec![0xA5; n]);
            let t2 = digest_info(oid, &params, &digest);
            shapes.push((
                format!("{n} octets of garbage as parameters"),
                block(k - 3 - t2.len(), &t2, &[]),
            ));
        }
        // PS shorter than 8 with the rest well-formed needs a shorter EM: pad in front.
        let mut short_ps = vec![0x00, 0x01];
        short_ps.extend([0xFF; 7]);
        short_ps.push(0x00);
        short_ps.extend(&t);
        let mut front = vec![0x00; k - short_ps.len()];
        front.extend(&short_ps);
        shapes.push(("a 7-octet PS shifted right".into(), front));
        // Block type 2 (encryption padding) and a PS octet that is not FF.
        let mut bt2 = block(full_ps, &t, &[]);
        bt2[1] = 0x02;
        shapes.push(("block type 02".into(), bt2));
        let mut not_ff = block(full_ps, &t, &[]);
        not_ff[2 + full_ps / 2] = 0xFE;
        shapes.push(("a PS octet FE".into(), not_ff));
        // No 00 separator: PS runs into the DigestInfo.
        let mut no_sep = block(full_ps, &t, &[]);
        no_sep[2 + full_ps] = 0xFF;
        shapes.push(("no separator".into(), no_sep));
        // Digest truncated by one octet, the slack absorbed by PS (length fields fixed).
        let t3 = digest_info(oid, &[0x05, 0x00], &digest[..digest.len() - 1]);
        shapes.push((
            "a truncated digest".into(),
            block(k - 3 - t3.len(), &t3, &[]),
        ));
        for (what, em) in shapes {
            assert_eq!(em.len(), k, "{what}");
            let sig = raw_sign(&key, &em);
            assert_both_refuse(alg, &key, data, &sig, &what);
        }
        // The control: the well-formed block verifies.
        let good = raw_sign(&key, &block(full_ps, &t, &[]));
        verify_rsa_pkcs1(alg, &key, data, &good).unwrap();
    }
}

#[test]
fn pkcs1_keeps_accepting_the_keys_openssl_accepts() {
    // No new key-size policy: a 1024-bit key and moduli that are not a whole number of
    // octets verify as before; a modulus too short for the encoding verifies nothing.
    for bits in [1024, 2049, 3071] {
        let key = PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap();
        for alg in PKCS1 {
            let sig = openssl_sign(alg, &key, b"d");
            verify_rsa_pkcs1(alg, &key, b"d", &sig).unwrap();
            verify_evp(alg, &key, b"d", &sig).unwrap();
        }
    }
    let tiny = PKey::from_rsa(Rsa::generate(512).unwrap()).unwrap();
    // 64 octets hold a SHA-256 encoding (51 + 3 + PS 10) but not a SHA-512 one (83).
    let sig = openssl_sign(SignatureAlgorithm::RsaSha256, &tiny, b"d");
    verify_rsa_pkcs1(SignatureAlgorithm::RsaSha256, &tiny, b"d", &sig).unwrap();
    verify_evp(SignatureAlgorithm::RsaSha256, &tiny, b"d", &sig).unwrap();
    assert_both_refuse(
        SignatureAlgorithm::RsaSha512,
        &tiny,
        b"d",
        &sig,
        "a signature under a key too short for SHA-512",
    );
    assert_eq!(
        emsa_pkcs1_v1_5_encode(HashFunction::Sha512, &[0; 64], 64),
        None
    );
    assert_eq!(
        emsa_pkcs1_v1_5_encode(HashFunction::Sha256, &[0; 32], 0),
        None
    );
    // PS of exactly 8 is the minimum: k = 3 + 8 + 51 encodes, one less does not.
    assert!(emsa_pkcs1_v1_5_encode(HashFunction::Sha256, &[0; 32], 62).is_some());
    assert_eq!(
        emsa_pkcs1_v1_5_encode(HashFunction::Sha256, &[0; 32], 61),
        None
    );
}

#[test]
fn pkcs1_fast_path_agrees_with_the_evp_verifier_on_random_mutations() {
    let key = rsa_key();
    let other = rsa_key();
    let k = k_of(&key);
    let mut rnd = [0u8; 4];
    let mut next = |bound: usize| -> usize {
        openssl::rand::rand_bytes(&mut rnd).unwrap();
        u32::from_le_bytes(rnd) as usize % bound
    };
    let (mut accepted, mut refused) = (0, 0);
    for alg in PKCS1 {
        let mut data = vec![0u8; 1 + next(600)];
        openssl::rand::rand_bytes(&mut data).unwrap();
        let sig = openssl_sign(alg, &key, &data);
        let mut cases: Vec<(Vec<u8>, Vec<u8>)> = vec![(data.clone(), sig.clone())];
        for _ in 0..150 {
            // One byte of the signature changed to another value.
            let mut bad = sig.clone();
            let at = next(k);
            bad[at] ^= 1 + next(255) as u8;
            cases.push((data.clone(), bad));
        }
        for _ in 0..25 {
            let mut bad = data.clone();
            let at = next(bad.len());
            bad[at] ^= 1 + next(255) as u8;
            cases.push((bad, sig.clone()));
            let mut garbage = vec![0u8; k];
            openssl::rand::rand_bytes(&mut garbage).unwrap();
            cases.push((data.clone(), garbage));
        }
        cases.push((data.clone(), openssl_sign(alg, &other, &data)));
        for (d, s) in &cases {
            let fast = verify_rsa_pkcs1(alg, &key, d, s);
            let evp = verify_evp(alg, &key, d, s);
            assert_eq!(fast.is_ok(), evp.is_ok(), "{alg}: {fast:?} vs {evp:?}");
            if let Err(e) = &fast {
                assert_eq!(e, &PrimitiveError::Invalid { algorithm: alg });
                refused += 1;
            } else {
                accepted += 1;
            }
        }
    }
    assert_eq!(accepted, PKCS1.len());
    assert!(refused > 4 * 200, "{refused}");
}

/// Per-verification cost, EVP `Verifier` against encode-and-compare (and the bare RSA
/// public operation, the floor), on a key from a certificate as metadata supplies it. The
/// three alternate in small batches so that load from elsewhere hits them alike; the
/// minimum and median batch are printed. Run with:
/// `cargo test --release --lib crypto::primitive::tests::pkcs1_timing -- --ignored --nocapture`
#[test]
#[ignore]
fn pkcs1_timing() {
    let key = rsa_key();
    let vk = crate::crypto::test_fixtures::verification_key(&key, "timing");
    let alg = SignatureAlgorithm::RsaSha256;
    let data = vec![b'x'; 700];
    let sig = openssl_sign(alg, &key, &data);
    let rsa = vk.key.rsa().unwrap();
    let mut em = vec![0u8; k_of(&key)];
    const BATCH: u32 = 50;
    const BATCHES: usize = 300;
    let mut times = [vec![], vec![], vec![]];
    for _ in 0..BATCHES {
        let start = std::time::Instant::now();
        for _ in 0..BATCH {
            verify_evp(alg, &vk.key, std::hint::black_box(&data), &sig).unwrap();
        }
        times[0].push(start.elapsed() / BATCH);
        let start = std::time::Instant::now();
        for _ in 0..BATCH {
            verify_rsa_pkcs1(alg, &vk.key, std::hint::black_box(&data), &sig).unwrap();
        }
        times[1].push(start.elapsed() / BATCH);
        let start = std::time::Instant::now();
        for _ in 0..BATCH {
            rsa.public_decrypt(std::hint::black_box(&sig), &mut em, Padding::NONE)
                .unwrap();
        }
        times[2].push(start.elapsed() / BATCH);
    }
    for (name, t) in ["EVP Verifier", "encode-and-compare", "bare public_decrypt"]
        .iter()
        .zip(times.iter_mut())
    {
        t.sort();
        println!(
            "{name:>20}: min {:?}, median {:?} per RSA-2048/SHA-256 verification",
            t[0],
            t[t.len() / 2]
        );
    }
}

/// The path of an external tool, or None with a printed reason; panics when CI=true.
pub(crate) fn find_tool(name: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{name} is required when CI=true"
        );
        eprintln!("skipping: {name} is not installed");
    }
    found
}
