//! Validate a Response signed on both Response and Assertion with RSA-2048/SHA-256 (6.3 KB:
//! two signatures, each with the IdP certificate in KeyInfo, as IdPs send them).
//! Issue target: at least 10,000 validations per second on one core.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use samlgate::saml::ExpectedRequest;
use samlgate::saml::issue::SignParts;
use samlgate::saml::response::validate_xml;

#[path = "../tests/it/support/test_idp.rs"]
#[allow(dead_code)]
mod test_idp;

fn bench(c: &mut Criterion) {
    let spec = test_idp::spec();
    let xml = test_idp::signed(&spec, SignParts::Both);
    let policy = test_idp::policy();
    let sp = test_idp::sp();
    // Sanity: the benchmark measures the accepting path, not an early rejection.
    if let Err(e) = validate_xml(
        xml.as_bytes(),
        &policy,
        &sp,
        ExpectedRequest::Solicited(test_idp::REQUEST_ID),
        test_idp::NOW,
    ) {
        eprintln!("benchmark fixture is refused: {e}");
        std::process::exit(1);
    }
    eprintln!("response size: {} bytes", xml.len());

    let mut group = c.benchmark_group("acs");
    group.throughput(Throughput::Elements(1));
    group.bench_function("validate_signed_both_rsa2048_sha256", |b| {
        b.iter(|| {
            validate_xml(
                std::hint::black_box(xml.as_bytes()),
                &policy,
                &sp,
                ExpectedRequest::Solicited(test_idp::REQUEST_ID),
                test_idp::NOW,
            )
        })
    });
    group.finish();

    // For scale: one RSA-2048 public-key verify, the floor of the cost per signature.
    let keys = test_idp::idp_keys();
    let data = b"signed info";
    let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &keys.key)
        .expect("signer");
    signer.update(data).expect("update");
    let sig = signer.sign_to_vec().expect("sign");
    let public = keys.cert.public_key().expect("public key");
    c.bench_function("rsa2048_sha256_verify_only", |b| {
        b.iter(|| {
            let mut v =
                openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &public)
                    .expect("verifier");
            v.update(data).expect("update");
            v.verify(std::hint::black_box(&sig)).expect("verify")
        })
    });
    // The same verification as the ACS does it: RSA PKCS#1 v1.5 by encode-and-compare, without
    // the EVP layer's per-call overhead.
    let algorithm = samlgate::crypto::SignatureAlgorithm::RsaSha256;
    c.bench_function("rsa2048_sha256_verify_bytes", |b| {
        b.iter(|| {
            samlgate::crypto::primitive::verify_bytes(
                algorithm,
                &public,
                data,
                std::hint::black_box(&sig),
            )
            .expect("verify")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
