//! Unit tests of `crypto::jws`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
use super::*;
use openssl::ec::{EcGroup, EcKey};
use openssl::rsa::Rsa;
use openssl::sign::Verifier;

fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn parts(token: &str) -> (String, Vec<u8>, Vec<u8>) {
    let mut it = token.split('.');
    let (h, p, s) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    assert!(it.next().is_none());
    (
        format!("{h}.{p}"),
        URL_SAFE_NO_PAD.decode(h).unwrap(),
        URL_SAFE_NO_PAD.decode(s).unwrap(),
    )
}

#[test]
fn es256_signature_is_raw_r_and_s_over_header_and_payload() {
    let key = JwsKey::new(ec_key(), JwsAlgorithm::Es256).unwrap();
    let token = key.sign_compact(br#"{"sub":"jdoe"}"#).unwrap();
    let (input, header, sig) = parts(&token);
    let header: Value = serde_json::from_slice(&header).unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], key.kid());
    assert_eq!(sig.len(), 64);
    // Back to DER, checked by OpenSSL against the public key.
    let r = BigNum::from_slice(&sig[..32]).unwrap();
    let s = BigNum::from_slice(&sig[32..]).unwrap();
    let der = EcdsaSig::from_private_components(r, s)
        .unwrap()
        .to_der()
        .unwrap();
    let public = PKey::public_key_from_pem(&key.key.public_key_to_pem().unwrap()).unwrap();
    let mut v = Verifier::new(MessageDigest::sha256(), &public).unwrap();
    v.update(input.as_bytes()).unwrap();
    assert!(v.verify(&der).unwrap());
    let mut tampered = input.clone();
    tampered.push('x');
    let mut v = Verifier::new(MessageDigest::sha256(), &public).unwrap();
    v.update(tampered.as_bytes()).unwrap();
    assert!(!v.verify(&der).unwrap());
}

#[test]
fn rs256_signs_with_pkcs1_v1_5() {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let key = JwsKey::new(key, JwsAlgorithm::Rs256).unwrap();
    let (input, _, sig) = parts(&key.sign_compact(b"{}").unwrap());
    let public = PKey::public_key_from_pem(&key.key.public_key_to_pem().unwrap()).unwrap();
    let mut v = Verifier::new(MessageDigest::sha256(), &public).unwrap();
    v.update(input.as_bytes()).unwrap();
    assert!(v.verify(&sig).unwrap());
    assert_eq!(key.public_jwk()["kty"], "RSA");
    assert_eq!(key.public_jwk()["alg"], "RS256");
}

#[test]
fn kid_is_the_thumbprint_and_the_jwk_holds_no_private_part() {
    let key = JwsKey::new(ec_key(), JwsAlgorithm::Es256).unwrap();
    let jwk = key.public_jwk();
    let input = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        jwk["x"].as_str().unwrap(),
        jwk["y"].as_str().unwrap()
    );
    let expected = URL_SAFE_NO_PAD.encode(hash(MessageDigest::sha256(), input.as_bytes()).unwrap());
    assert_eq!(key.kid(), expected);
    assert!(jwk.get("d").is_none());
    assert_eq!(
        format!("{key:?}"),
        format!("JwsKey {{ alg: \"ES256\", kid: {:?}, .. }}", key.kid())
    );
}

#[test]
fn refuses_keys_that_do_not_fit_the_algorithm() {
    let rsa = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    assert!(matches!(
        JwsKey::new(rsa, JwsAlgorithm::Es256),
        Err(JwsError::WrongKeyType { .. })
    ));
    assert!(matches!(
        JwsKey::new(ec_key(), JwsAlgorithm::Rs256),
        Err(JwsError::WrongKeyType { .. })
    ));
    let short = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
    assert!(matches!(
        JwsKey::new(short, JwsAlgorithm::Rs256),
        Err(JwsError::ShortRsaKey { bits: 1024 })
    ));
    let p384 = EcGroup::from_curve_name(Nid::SECP384R1).unwrap();
    let p384 = PKey::from_ec_key(EcKey::generate(&p384).unwrap()).unwrap();
    assert!(matches!(
        JwsKey::new(p384, JwsAlgorithm::Es256),
        Err(JwsError::WrongKeyType { .. })
    ));
    assert!(matches!(
        JwsKey::from_pem(b"not a key", JwsAlgorithm::Es256),
        Err(JwsError::NotAKey(_))
    ));
}
