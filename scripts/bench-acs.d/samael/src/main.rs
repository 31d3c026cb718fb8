//! samael's row of scripts/bench-acs: the same Response, certificate and expectations as
//! samlgate's row (examples/acs_bench.rs), through samael's ServiceProvider with the IdP's
//! metadata and signature verification on (xmlsec feature).
//!
//! samael reads the clock itself (chrono::Utc::now), so the Response must be fresh when this
//! runs; --now is not taken. Its ServiceProvider is set up like samlgate's defaults: 10 minutes
//! of IssueInstant age, 180 s of clock skew, SHA-2 signature algorithms only.
//!
//! Usage: samael-acs-bench --response FILE --idp-metadata FILE --sp-entity-id ID --acs-url URL
//!        [--request-id ID] [--seconds S] [--check FILE...]

use std::process::ExitCode;
use std::str::FromStr;
use std::time::Instant;

use chrono::Duration;
use samael::crypto::AllowedSignatureAlgorithm;
use samael::metadata::EntityDescriptor;
use samael::service_provider::{ServiceProvider, ServiceProviderBuilder};

struct Args {
    response: String,
    idp_metadata: String,
    sp_entity_id: String,
    acs_url: String,
    request_id: Option<String>,
    seconds: f64,
    check: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        response: String::new(),
        idp_metadata: String::new(),
        sp_entity_id: String::new(),
        acs_url: String::new(),
        request_id: None,
        seconds: 2.0,
        check: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--check" {
            args.check.extend(it.by_ref());
            break;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--response" => args.response = value,
            "--idp-metadata" => args.idp_metadata = value,
            "--sp-entity-id" => args.sp_entity_id = value,
            "--acs-url" => args.acs_url = value,
            "--request-id" => args.request_id = Some(value),
            "--seconds" => args.seconds = value.parse().map_err(|e| format!("--seconds: {e}"))?,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if args.idp_metadata.is_empty() || args.sp_entity_id.is_empty() || args.acs_url.is_empty() {
        return Err("--idp-metadata, --sp-entity-id and --acs-url are required".into());
    }
    Ok(args)
}

/// This thread's CPU time in nanoseconds (Linux: /proc/thread-self/schedstat, first field).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn service_provider(args: &Args) -> Result<ServiceProvider, String> {
    let xml = std::fs::read_to_string(&args.idp_metadata)
        .map_err(|e| format!("{}: {e}", args.idp_metadata))?;
    let idp_metadata =
        EntityDescriptor::from_str(&xml).map_err(|e| format!("IdP metadata: {e}"))?;
    ServiceProviderBuilder::default()
        .entity_id(args.sp_entity_id.clone())
        .acs_url(args.acs_url.clone())
        .idp_metadata(idp_metadata)
        .allow_idp_initiated(args.request_id.is_none())
        .max_issue_delay(Duration::minutes(10))
        .max_clock_skew(Duration::seconds(180))
        .allowed_signature_algorithms(vec![
            AllowedSignatureAlgorithm::RsaSha256,
            AllowedSignatureAlgorithm::RsaSha384,
            AllowedSignatureAlgorithm::RsaSha512,
            AllowedSignatureAlgorithm::EcdsaSha256,
            AllowedSignatureAlgorithm::EcdsaSha384,
            AllowedSignatureAlgorithm::EcdsaSha512,
        ])
        .build()
        .map_err(|e| format!("ServiceProvider: {e}"))
}

fn validate(sp: &ServiceProvider, request_id: Option<&str>, b64: &str) -> Result<(), String> {
    let ids = request_id.map(|id| [id]);
    sp.parse_base64_response(b64, ids.as_ref().map(|a| &a[..]))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn read_form_value(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("{path}: {e}"))
}

fn run(args: &Args) -> Result<(), String> {
    let sp = service_provider(args)?;
    let request_id = args.request_id.as_deref();
    if !args.check.is_empty() {
        for path in &args.check {
            match validate(&sp, request_id, &read_form_value(path)?) {
                Ok(()) => println!("{path}: accepted"),
                Err(why) => println!("{path}: refused ({why})"),
            }
        }
        return Ok(());
    }
    let response = read_form_value(&args.response)?;
    validate(&sp, request_id, &response)
        .map_err(|why| format!("the Response is refused: {why}"))?;
    for _ in 0..5 {
        validate(&sp, request_id, std::hint::black_box(&response))?;
    }
    let budget_ns = (args.seconds * 1e9) as u64;
    let (wall, cpu) = (Instant::now(), thread_cpu_ns());
    let mut n: u64 = 0;
    while thread_cpu_ns() - cpu < budget_ns {
        validate(&sp, request_id, std::hint::black_box(&response))?;
        n += 1;
    }
    let cpu_us = (thread_cpu_ns() - cpu) as f64 / 1000.0 / n as f64;
    let wall_us = wall.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("result n={n} cpu_us={cpu_us:.2} wall_us={wall_us:.2}");
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().and_then(|args| run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("samael-acs-bench: {message}");
            ExitCode::FAILURE
        }
    }
}
