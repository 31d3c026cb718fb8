//! Unit tests of `gateway::login_seal`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
use super::*;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;

const SP: &str = "https://app.example.com/saml/metadata";

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

/// The same key as another node reads it from its own copy of the PEM file.
fn reloaded(key: &PKey<Private>) -> PKey<Private> {
    PKey::private_key_from_pem(&key.private_key_to_pem_pkcs8().unwrap()).unwrap()
}

#[test]
fn a_sealed_value_opens_on_every_node_of_the_deployment() {
    let sp_key = key();
    let node_a = LoginSeal::new(&sp_key, &[], SP).unwrap();
    let node_b = LoginSeal::new(&reloaded(&sp_key), &[], SP).unwrap();
    let sealed = node_a.seal(b"pending login").unwrap();
    assert_eq!(node_a.open(&sealed).unwrap(), b"pending login");
    assert_eq!(node_b.open(&sealed).unwrap(), b"pending login");
    assert!(
        sealed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "a cookie value needs no quoting: {sealed}"
    );
}

#[test]
fn each_seal_is_fresh_and_hides_the_plaintext() {
    let seal = LoginSeal::new(&key(), &[], SP).unwrap();
    let one = seal.seal(b"/app/reports?year=2026").unwrap();
    let two = seal.seal(b"/app/reports?year=2026").unwrap();
    assert_ne!(one, two, "a fresh salt and nonce per seal");
    let raw = B64URL.decode(&one).unwrap();
    assert!(!raw.windows(4).any(|w| w == b"/app"));
}

#[test]
fn every_flipped_bit_is_refused() {
    let seal = LoginSeal::new(&key(), &[], SP).unwrap();
    let sealed = B64URL
        .decode(seal.seal(b"request _abc, return /x").unwrap())
        .unwrap();
    for byte in 0..sealed.len() {
        for bit in 0..8 {
            let mut changed = sealed.clone();
            changed[byte] ^= 1 << bit;
            let opened = seal.open(&B64URL.encode(&changed));
            assert!(opened.is_err(), "byte {byte} bit {bit}: {opened:?}");
        }
    }
}

#[test]
fn another_key_or_another_sp_cannot_open() {
    let sp_key = key();
    let ours = LoginSeal::new(&sp_key, &[], SP).unwrap();
    let other_deployment = LoginSeal::new(&key(), &[], SP).unwrap();
    let same_key_other_sp =
        LoginSeal::new(&sp_key, &[], "https://other.example.com/saml/metadata").unwrap();
    let sealed = ours.seal(b"x").unwrap();
    assert_eq!(other_deployment.open(&sealed), Err(SealError::Unopenable));
    assert_eq!(same_key_other_sp.open(&sealed), Err(SealError::Unopenable));
    assert_eq!(
        ours.open(&other_deployment.seal(b"x").unwrap()),
        Err(SealError::Unopenable)
    );
}

#[test]
fn after_a_key_rollover_old_seals_still_open_and_new_ones_use_the_new_key() {
    let (old, new) = (key(), key());
    let before = LoginSeal::new(&old, &[], SP).unwrap();
    let after = LoginSeal::new(&new, &[&old], SP).unwrap();
    let sealed_before = before.seal(b"started before").unwrap();
    assert_eq!(after.open(&sealed_before).unwrap(), b"started before");
    let sealed_after = after.seal(b"started after").unwrap();
    assert_eq!(before.open(&sealed_after), Err(SealError::Unopenable));
    let new_only = LoginSeal::new(&reloaded(&new), &[], SP).unwrap();
    assert_eq!(new_only.open(&sealed_after).unwrap(), b"started after");
    assert_eq!(new_only.open(&sealed_before), Err(SealError::Unopenable));
}

#[test]
fn malformed_values_are_refused_with_their_reason() {
    let seal = LoginSeal::new(&key(), &[], SP).unwrap();
    assert_eq!(seal.open("not base64!"), Err(SealError::Encoding));
    assert_eq!(seal.open(""), Err(SealError::TooShort(0)));
    assert_eq!(
        seal.open(&B64URL.encode([VERSION; HEADER_LEN + TAG_LEN - 1])),
        Err(SealError::TooShort(HEADER_LEN + TAG_LEN - 1))
    );
    let mut other_version = B64URL.decode(seal.seal(b"x").unwrap()).unwrap();
    other_version[0] = 2;
    assert_eq!(
        seal.open(&B64URL.encode(&other_version)),
        Err(SealError::Version(2))
    );
    let huge = "A".repeat(MAX_SEALED_LEN + 1);
    assert_eq!(
        seal.open(&huge),
        Err(SealError::TooLong(MAX_SEALED_LEN + 1))
    );
}

#[test]
fn an_empty_plaintext_round_trips() {
    let seal = LoginSeal::new(&key(), &[], SP).unwrap();
    assert_eq!(seal.open(&seal.seal(b"").unwrap()).unwrap(), b"");
}

#[test]
fn sealed_len_is_the_length_of_the_seal() {
    let seal = LoginSeal::new(&key(), &[], SP).unwrap();
    for n in [0, 1, 2, 3, 100, 1000, 2801] {
        assert_eq!(
            seal.seal(&vec![7; n]).unwrap().len(),
            LoginSeal::sealed_len(n),
            "{n}"
        );
    }
}
