//! Validations per CPU-second of one thread, for the ACS benchmark's shape (a Response signed
//! on both Response and Assertion, RSA-2048/SHA-256), beside the cost of one RSA-2048 PKCS#1
//! verification with the same IdP key through the same primitive the validator uses. The ratio
//! `2 * t_verify / t_validation` is how close the validator comes to the limit set by its two
//! signature verifications (1.0 would mean nothing else costs anything).
//!
//! CPU time, unlike criterion's wall time, is not inflated by other processes on a busy machine;
//! the two measurements are interleaved in rounds and the medians reported, so a slow minute
//! affects both alike. Run: `cargo run --release --example acs_cpu_time [COUNT] [ROUNDS]`
//! (COUNT validations per round; under callgrind a single large round makes setup noise).

use samlgate::crypto::algorithms::SignatureAlgorithm;
use samlgate::crypto::primitive::{sign_bytes, verify_bytes};
use samlgate::saml::ExpectedRequest;
use samlgate::saml::issue::SignParts;
use samlgate::saml::response::validate_xml;

#[path = "../tests/it/support/test_idp.rs"]
#[allow(dead_code)]
mod test_idp;

#[path = "support/cpu_time.rs"]
mod cpu_time;
use cpu_time::thread_cpu_ns;

/// CPU microseconds per call of `f`, over `n` calls.
fn cpu_us_per_call(n: u32, mut f: impl FnMut()) -> f64 {
    let start = thread_cpu_ns();
    for _ in 0..n {
        f();
    }
    thread_cpu_ns().saturating_sub(start) as f64 / 1000.0 / f64::from(n.max(1))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let spec = test_idp::spec();
    let xml = test_idp::signed(&spec, SignParts::Both);
    let policy = test_idp::policy();
    let sp = test_idp::sp();
    let validate = || {
        let r = validate_xml(
            std::hint::black_box(xml.as_bytes()),
            &policy,
            &sp,
            ExpectedRequest::Solicited(test_idp::REQUEST_ID),
            test_idp::NOW,
        );
        assert!(r.is_ok(), "{r:?}");
    };

    // One RSA-2048 PKCS#1 v1.5 / SHA-256 verification as the validator makes it: the public key
    // from the IdP policy (the metadata certificate), over a SignedInfo-sized message.
    let key = &policy.signing_keys.first().expect("an IdP key").key;
    let signed_info = vec![b'x'; 700];
    let signature = sign_bytes(
        SignatureAlgorithm::RsaSha256,
        &test_idp::idp_keys().key,
        &signed_info,
    )
    .expect("sign");
    let verify = || {
        let r = verify_bytes(
            SignatureAlgorithm::RsaSha256,
            key,
            std::hint::black_box(&signed_info),
            &signature,
        );
        assert!(r.is_ok(), "{r:?}");
    };

    let mut args = std::env::args().skip(1);
    // Rounds of most of a second each: on some VMs the thread's CPU clock advances in scheduler
    // ticks (4 ms), which makes short rounds jump by tens of percent.
    let n: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let rounds: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    // Warm-up: caches, the allocator, OpenSSL's one-time fetches.
    cpu_us_per_call(200, validate);
    cpu_us_per_call(200, verify);

    let (mut validations, mut verifies, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut walls = Vec::new();
    for _ in 0..rounds {
        let wall = std::time::Instant::now();
        let t_validation = cpu_us_per_call(n, validate);
        walls.push(wall.elapsed().as_secs_f64() * 1e6 / f64::from(n.max(1)));
        let t_verify = cpu_us_per_call(n, verify);
        validations.push(t_validation);
        verifies.push(t_verify);
        ratios.push(2.0 * t_verify / t_validation);
    }
    let wall_us = median(&mut walls);
    let (t_validation, t_verify) = (median(&mut validations), median(&mut verifies));
    let (lo, hi) = (
        ratios.iter().copied().fold(f64::INFINITY, f64::min),
        ratios.iter().copied().fold(0.0, f64::max),
    );
    println!(
        "response {} bytes, {rounds} rounds of {n}, CPU medians:\n  \
         validation  {t_validation:.1} us ({:.0}/s on one core)\n  \
         RSA verify  {t_verify:.1} us ({:.0}/s; compare `openssl speed rsa2048`)\n  \
         ratio 2*verify/validation {:.3} (median of rounds {:.3}, range {lo:.3}-{hi:.3})\n  \
         validation wall time {wall_us:.1} us (a busy machine shows here, not in CPU time)",
        xml.len(),
        1e6 / t_validation,
        1e6 / t_verify,
        2.0 * t_verify / t_validation,
        median(&mut ratios),
    );
}
