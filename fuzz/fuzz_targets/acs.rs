//! Fuzz the whole ACS pipeline: any bytes, as XML and as the base64 form value, must give a
//! verified assertion or a typed rejection, never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use samlgate::crypto::keys::{DecryptionKey, VerificationKey};
use samlgate::saml::response::{validate, validate_xml};
use samlgate::saml::{ExpectedRequest, IdpPolicy, SpIdentity};

struct Setup {
    policy: IdpPolicy,
    sp: SpIdentity,
}

// The corpus (fuzz/seeds) is signed with fuzz/keys/idp.crt and encrypted to fuzz/keys/sp.key,
// so mutations reach the signature and decryption code, not only the parser.
fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let cert = include_bytes!("../keys/idp.crt");
        let sp_key = include_bytes!("../keys/sp.key");
        let key = VerificationKey::from_pem_certificate(cert, "fuzz").expect("fuzz idp cert");
        let mut policy = IdpPolicy::new("https://idp.example.org/saml", vec![key]);
        policy.allow_cbc = true;
        let sp = SpIdentity {
            entity_id: "https://app.example.com/saml/metadata".into(),
            acs_url: "https://app.example.com/saml/acs".into(),
            decryption_keys: vec![DecryptionKey::from_pem(sp_key, "fuzz").expect("fuzz sp key")],
        };
        Setup { policy, sp }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = setup();
    let now = time::macros::datetime!(2026-05-23 09:14:20 UTC);
    let _ = validate_xml(data, &s.policy, &s.sp, ExpectedRequest::NotChecked, now);
    let _ = validate_xml(data, &s.policy, &s.sp, ExpectedRequest::Solicited("_req"), now);
    let _ = validate(data, &s.policy, &s.sp, ExpectedRequest::Unsolicited, now);
});
