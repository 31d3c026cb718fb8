//! A short, deterministic fuzz smoke run over the ACS pipeline (the long coverage-guided run is
//! `cargo fuzz run acs`, see fuzz/README.md). Seeds come from fuzz/seeds/acs; each is mutated a
//! few hundred ways. Beyond "no panic", it checks the property that matters: no mutation of a
//! signed Response is ever accepted with another identity.

use std::path::Path;

use samlgate::crypto::keys::{DecryptionKey, VerificationKey};
use samlgate::saml::response::{validate, validate_xml};
use samlgate::saml::{ExpectedRequest, IdpPolicy, SpIdentity};

const NAME_ID: &str = "alice@example.com";

fn setup() -> (IdpPolicy, SpIdentity) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/keys");
    let cert = std::fs::read(root.join("idp.crt")).expect("fuzz idp cert");
    let key = VerificationKey::from_pem_certificate(&cert, "fuzz").expect("key");
    let policy = IdpPolicy::new("https://idp.example.org/saml", vec![key]);
    let sp = SpIdentity {
        entity_id: "https://app.example.com/saml/metadata".into(),
        acs_url: "https://app.example.com/saml/acs".into(),
        decryption_keys: vec![
            DecryptionKey::from_pem(&std::fs::read(root.join("sp.key")).expect("sp key"), "fuzz")
                .expect("key"),
        ],
    };
    (policy, sp)
}

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/acs");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("seed dir")
        .filter_map(|e| e.ok())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("seed"),
            )
        })
        .collect();
    out.sort();
    out
}

/// xorshift: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut m = seed.to_vec();
    for _ in 0..=rng.below(3) {
        let len = m.len();
        match rng.below(6) {
            0 if len > 0 => {
                let i = rng.below(len);
                m[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                let j = (i + rng.below(64)).min(len);
                m.drain(i..j);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let j = (i + rng.below(256)).min(len);
                let chunk = m[i..j].to_vec();
                let at = rng.below(m.len());
                m.splice(at..at, chunk);
            }
            3 => {
                let tokens: [&[u8]; 8] = [
                    b"<!---->",
                    b"<!DOCTYPE x>",
                    b"&amp;",
                    b"<saml:Assertion>",
                    b"</ds:Signature>",
                    b" ID=\"_x\"",
                    b"\xff\xfe",
                    b"<?pi?>",
                ];
                let t = tokens[rng.below(tokens.len())];
                let at = rng.below(m.len() + 1);
                m.splice(at..at, t.iter().copied());
            }
            _ => {
                let at = rng.below(m.len() + 1);
                m.insert(at, rng.next() as u8);
            }
        }
    }
    m
}

#[test]
fn valid_seeds_are_accepted_and_attack_seeds_refused() {
    let (policy, sp) = setup();
    let now = time::macros::datetime!(2026-05-23 09:14:20 UTC);
    for (name, bytes) in seeds() {
        let r = validate_xml(
            &bytes,
            &policy,
            &sp,
            ExpectedRequest::Solicited("_req"),
            now,
        );
        match name.as_str() {
            n if n.starts_with("signed-") || n.starts_with("encrypted-") => {
                let v = r.unwrap_or_else(|e| panic!("{name} refused: {e}"));
                assert_eq!(v.name_id().value, NAME_ID);
            }
            _ => assert!(r.is_err(), "{name} must be refused"),
        }
    }
}

#[test]
fn mutations_never_panic_and_never_change_the_signed_identity() {
    let (policy, sp) = setup();
    let now = time::macros::datetime!(2026-05-23 09:14:20 UTC);
    let mut rng = Rng(0x5eed_5a41_6a7e_0001);
    let mut accepted = 0usize;
    let mut total = 0usize;
    for (_, seed) in seeds() {
        for _ in 0..400 {
            let m = mutate(&seed, &mut rng);
            total += 1;
            for expected in [
                ExpectedRequest::Solicited("_req"),
                ExpectedRequest::NotChecked,
            ] {
                if let Ok(v) = validate_xml(&m, &policy, &sp, expected, now) {
                    accepted += 1;
                    assert_eq!(
                        v.name_id().value,
                        NAME_ID,
                        "a mutation was accepted with another identity:\n{}",
                        String::from_utf8_lossy(&m)
                    );
                }
            }
            let _ = validate(&m, &policy, &sp, ExpectedRequest::NotChecked, now);
        }
    }
    eprintln!("{total} mutations, {accepted} accepted (all with the signed identity)");
    assert!(total >= 2000);
}
