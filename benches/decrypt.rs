//! Decrypting one EncryptedAssertion (RSA-OAEP key transport + AES-256-GCM, RSA-2048 SP key)
//! against the raw RSA-2048 OAEP private-key operation it contains: the ratio says how much the
//! XML walk, base64 and AES add on top of the unavoidable RSA cost.
//!
//!     cargo bench --bench decrypt

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use openssl::md::Md;
use openssl::pkey::{PKey, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::{Padding, Rsa};
use samlgate::crypto::DecryptionKey;
use samlgate::crypto::decrypt::{EncryptionPolicy, decrypt_element};
use samlgate::crypto::enc_algorithms::{ContentAlgorithm, decrypt_content, encrypt_content};
use samlgate::crypto::encrypt::{EncryptionOptions, encrypt_assertion};
use samlgate::crypto::keygen::self_signed_certificate;
use samlgate::xml::{self, ParseLimits, ns};

/// A realistic Assertion (~2.5 KB): subject, conditions, authn statement, a dozen attributes.
fn assertion() -> String {
    let attributes: String = (0..12)
        .map(|i| {
            format!(
                r#"<saml:Attribute Name="urn:oid:1.3.6.1.4.1.5923.1.1.1.{i}"><saml:AttributeValue>value-{i}@example.org</saml:AttributeValue></saml:Attribute>"#
            )
        })
        .collect();
    format!(
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_bench" Version="2.0" IssueInstant="2026-11-22T12:00:00Z"><saml:Issuer>https://idp.example.org/saml</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">a1b2c3d4e5</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="2026-11-22T12:05:00Z" Recipient="https://sp.example.org/saml/acs" InResponseTo="_req1"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="2026-11-22T11:59:00Z" NotOnOrAfter="2026-11-22T12:05:00Z"><saml:AudienceRestriction><saml:Audience>https://sp.example.org/saml</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="2026-11-22T12:00:00Z" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion>"#
    )
}

/// One RSA-2048 OAEP (SHA-256, MGF1-SHA256) private-key decryption, exactly as the decryptor
/// sets it up.
fn raw_rsa_oaep_decrypt(key: &PKey<Private>, wrapped: &[u8]) -> Vec<u8> {
    let mut ctx = PkeyCtx::new(key).unwrap();
    ctx.decrypt_init().unwrap();
    ctx.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
    ctx.set_rsa_oaep_md(Md::sha256()).unwrap();
    ctx.set_rsa_mgf1_md(Md::sha256()).unwrap();
    let mut out = Vec::new();
    ctx.decrypt_to_vec(wrapped, &mut out).unwrap();
    out
}

/// Operations per second of `a` and of `b`, measured in alternating batches over about
/// `budget`, so that load from other processes on a shared machine falls on both alike.
fn interleaved_rates(budget: Duration, mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    const BATCH: u32 = 25;
    let (mut time_a, mut time_b, mut batches) = (Duration::ZERO, Duration::ZERO, 0u32);
    let start = Instant::now();
    while start.elapsed() < budget || batches == 0 {
        let t = Instant::now();
        (0..BATCH).for_each(|_| a());
        time_a += t.elapsed();
        let t = Instant::now();
        (0..BATCH).for_each(|_| b());
        time_b += t.elapsed();
        batches += 1;
    }
    let n = f64::from(BATCH * batches);
    (n / time_a.as_secs_f64(), n / time_b.as_secs_f64())
}

fn main() {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let certificate = self_signed_certificate(&key, "bench sp", 30).unwrap();
    let keys = vec![DecryptionKey {
        key: key.clone(),
        certificate: Some(certificate.clone()),
        description: "bench sp.key (RSA-2048)".into(),
    }];
    let policy = EncryptionPolicy::default();
    let options = EncryptionOptions::default(); // AES-256-GCM, xmlenc11 RSA-OAEP SHA-256 / MGF1-SHA256
    let encrypted = encrypt_assertion(assertion().as_bytes(), &certificate, &options).unwrap();
    let response = format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r" Version="2.0" IssueInstant="2026-11-22T12:00:00Z">{encrypted}</samlp:Response>"#
    );
    let doc = xml::parse(response.as_bytes(), &ParseLimits::default()).unwrap();
    let element = doc
        .root()
        .first_child_named(ns::SAML, "EncryptedAssertion")
        .unwrap();

    let mut wrapped = Vec::new();
    {
        let mut ctx = PkeyCtx::new(&key).unwrap();
        ctx.encrypt_init().unwrap();
        ctx.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
        ctx.set_rsa_oaep_md(Md::sha256()).unwrap();
        ctx.set_rsa_mgf1_md(Md::sha256()).unwrap();
        ctx.encrypt_to_vec(&[7u8; 32], &mut wrapped).unwrap();
    }
    assert_eq!(raw_rsa_oaep_decrypt(&key, &wrapped), [7u8; 32]);
    assert_eq!(
        decrypt_element(element, &keys, &policy).unwrap().plaintext,
        assertion().as_bytes()
    );

    let mut c = Criterion::default().configure_from_args();
    c.bench_function(
        "decrypt_element: EncryptedAssertion, RSA-OAEP + AES-256-GCM, RSA-2048",
        |b| b.iter(|| decrypt_element(black_box(element), black_box(&keys), &policy).unwrap()),
    );
    c.bench_function(
        "raw RSA-2048 OAEP private-key decrypt (openssl PkeyCtx)",
        |b| b.iter(|| raw_rsa_oaep_decrypt(black_box(&key), black_box(&wrapped))),
    );
    c.final_summary();

    // One line with both rates and their ratio (criterion prints times, not the ratio).
    let test_mode = std::env::args().any(|a| a == "--test");
    let budget = if test_mode {
        Duration::from_millis(50)
    } else {
        Duration::from_secs(3)
    };
    let (element_rate, rsa_rate) = interleaved_rates(
        budget,
        || {
            black_box(decrypt_element(black_box(element), &keys, &policy).unwrap());
        },
        || {
            black_box(raw_rsa_oaep_decrypt(&key, &wrapped));
        },
    );
    // The AES-256-GCM step alone, to show where the rest of the time goes.
    let content_key = [3u8; 32];
    let sealed = encrypt_content(
        ContentAlgorithm::Aes256Gcm,
        &content_key,
        assertion().as_bytes(),
    )
    .unwrap();
    let (aes_rate, _) = interleaved_rates(
        budget / 4,
        || {
            black_box(
                decrypt_content(
                    ContentAlgorithm::Aes256Gcm,
                    &content_key,
                    black_box(&sealed),
                )
                .unwrap(),
            );
        },
        || {},
    );
    println!(
        "decrypt_element: {element_rate:.0}/s; raw RSA-2048 OAEP private-key decrypt: {rsa_rate:.0}/s; \
         ratio decrypt_element/RSA = {:.3} (1.0 = all time in RSA); AES-256-GCM content step alone: {aes_rate:.0}/s",
        element_rate / rsa_rate
    );
}
