//! Adversarial ACS bodies of 256 KiB (the default `server.max_acs_body`), one per shape an
//! attacker can send without any key: long PrefixLists, attribute and namespace floods, deep
//! and wide trees, signature-element floods, huge base64, character references, c14n
//! amplification, EncryptedKey lookups. Each is timed through `saml::response::validate`, the
//! pure ACS core, beside a normal signed Response for scale; the table ends with the worst case.
//!
//!     cargo bench --bench adversarial              table, then criterion for each shape
//!     cargo bench --bench adversarial -- PrefixList   only the shapes whose name matches
//!
//! In test mode (`cargo test --benches`) each shape runs once and must be answered as
//! `tests/it/support/adversarial.rs` says (the rejection kind, or "accepted"), so the table
//! measures the check each shape was built to reach.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use samlgate::saml::ExpectedRequest;
use samlgate::saml::response::validate;

#[path = "../tests/it/support/test_idp.rs"]
#[allow(dead_code)]
mod test_idp;

#[path = "../tests/it/support/adversarial.rs"]
#[allow(dead_code)]
mod adversarial;

use adversarial::Shape;

struct Timed {
    outcome: String,
    runs: Vec<Duration>,
}

fn answer(value: &[u8]) -> Result<(), samlgate::saml::Rejection> {
    validate(
        value,
        &test_idp::policy(),
        &test_idp::sp(),
        ExpectedRequest::Solicited(test_idp::REQUEST_ID),
        test_idp::NOW,
    )
    .map(|_| ())
}

/// Run once; when that took under `budget`, again until `budget` is spent (at most 50 runs).
fn time(value: &[u8], budget: Duration) -> Timed {
    let policy = test_idp::policy();
    let sp = test_idp::sp();
    let run = || {
        let start = Instant::now();
        let result = validate(
            black_box(value),
            &policy,
            &sp,
            ExpectedRequest::Solicited(test_idp::REQUEST_ID),
            test_idp::NOW,
        );
        (start.elapsed(), result)
    };
    let (first, result) = run();
    let outcome = match &result {
        Ok(_) => "accepted".to_string(),
        Err(e) => e.kind().to_string(),
    };
    let mut runs = vec![first];
    let started = Instant::now();
    while started.elapsed() + first < budget && runs.len() < 50 {
        runs.push(run().0);
    }
    Timed { outcome, runs }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    // criterion's rule: `cargo bench` passes --bench; `cargo test --benches` passes neither.
    let test_mode = !flag("--bench") || flag("--test");
    let filter = args.iter().find(|a| !a.starts_with('-')).cloned();

    let shapes: Vec<Shape> = adversarial::all_at_256_kib()
        .into_iter()
        .filter(|s| filter.as_deref().is_none_or(|f| s.name.contains(f)))
        .collect();

    if test_mode {
        for shape in &shapes {
            let value = adversarial::saml_response_value(&shape.xml);
            let body = adversarial::form_body_len(&shape.xml);
            assert!(
                body <= adversarial::MAX_ACS_BODY,
                "{}: {body} bytes",
                shape.name
            );
            let outcome = match answer(value.as_bytes()) {
                Ok(()) => "accepted".to_string(),
                Err(e) => format!("{} ({e})", e.kind()),
            };
            assert!(
                outcome.starts_with(shape.expect),
                "{}: expected {}, got {outcome}",
                shape.name,
                shape.expect
            );
        }
        println!("adversarial: {} shapes answered as expected", shapes.len());
        return;
    }

    println!("| shape | form body (bytes) | answer | median (ms) | max (ms) | runs |");
    println!("|---|---:|---|---:|---:|---:|");
    let mut worst: Option<(f64, &str)> = None;
    let mut quick = Vec::new();
    for (index, shape) in shapes.iter().enumerate() {
        let value = adversarial::saml_response_value(&shape.xml);
        let mut timed = time(value.as_bytes(), Duration::from_secs(2));
        timed.runs.sort();
        let median = timed.runs[timed.runs.len() / 2];
        let max = timed.runs[timed.runs.len() - 1];
        let expected = if timed.outcome == shape.expect {
            String::new()
        } else {
            format!(" (expected {})", shape.expect)
        };
        println!(
            "| {} | {} | {}{expected} | {:.2} | {:.2} | {} |",
            shape.name,
            adversarial::form_body_len(&shape.xml),
            timed.outcome,
            ms(median),
            ms(max),
            timed.runs.len()
        );
        // The median: the max of a few runs on a shared machine is mostly the scheduler.
        if index > 0 && worst.is_none_or(|(w, _)| ms(median) > w) {
            worst = Some((ms(median), shape.name));
        }
        if median < Duration::from_millis(500) {
            quick.push((shape.name, value));
        }
    }
    if let Some((w, name)) = worst {
        println!("worst adversarial body (median): {w:.2} ms ({name})");
    }

    // Criterion's statistics for every shape quick enough to sample.
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    let mut group = c.benchmark_group("adversarial_acs_256kib");
    for (name, value) in &quick {
        group.bench_function(*name, |b| b.iter(|| answer(black_box(value.as_bytes()))));
    }
    group.finish();
    c.final_summary();
}
