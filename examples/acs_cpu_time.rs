//! Validations per CPU-second of one thread, for the ACS benchmark's shape (a Response signed
//! on both Response and Assertion, RSA-2048/SHA-256). CPU time, unlike criterion's wall time, is
//! not inflated by other processes on a busy machine. Run: `cargo run --release --example acs_cpu_time [COUNT]`.

use samlgate::saml::ExpectedRequest;
use samlgate::saml::issue::SignParts;
use samlgate::saml::response::validate_xml;

#[path = "../tests/it/support/test_idp.rs"]
#[allow(dead_code)]
mod test_idp;

/// This thread's CPU time in nanoseconds (Linux: /proc/thread-self/schedstat, first field).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let spec = test_idp::spec();
    let xml = test_idp::signed(&spec, SignParts::Both);
    let policy = test_idp::policy();
    let sp = test_idp::sp();
    let run = |n: u32| {
        for _ in 0..n {
            let r = validate_xml(
                std::hint::black_box(xml.as_bytes()),
                &policy,
                &sp,
                ExpectedRequest::Solicited(test_idp::REQUEST_ID),
                test_idp::NOW,
            );
            assert!(r.is_ok());
        }
    };
    run(200);
    // An optional count, e.g. a large one under a profiler so that setup (key generation) is noise.
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3000);
    let (wall, cpu) = (std::time::Instant::now(), thread_cpu_ns());
    run(n);
    let cpu_us = (thread_cpu_ns() - cpu) as f64 / 1000.0 / f64::from(n);
    let wall_us = wall.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!(
        "response {} bytes: {cpu_us:.1} us CPU per validation ({:.0}/s on one core); wall {wall_us:.1} us",
        xml.len(),
        1e6 / cpu_us
    );
}
