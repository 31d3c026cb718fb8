//! samlgate's row of `scripts/bench-acs`: validations per second of one thread on a Response
//! made by another IdP (pysaml2), read from a file with the IdP certificate and the SP's
//! expectations given as arguments. Every check of the gateway's ACS runs (base64 decoding,
//! both signatures, issuers, status, Destination, IssueInstant, InResponseTo, Conditions,
//! Audience, bearer SubjectConfirmation and Recipient), with the clock injected; only the
//! HTTP exchange, the replay cache and the session are left out.
//!
//! `--check FILE...` prints, for each file, whether it is accepted (no timing). Otherwise the
//! Response must be accepted (exit 1 if not), then it is validated for `--seconds` of this
//! thread's CPU time and one `result` line gives CPU and wall microseconds per validation.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use samlgate::crypto::keys::VerificationKey;
use samlgate::saml::response::validate;
use samlgate::saml::{ExpectedRequest, IdpPolicy, SpIdentity};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Parser)]
#[command(about = "Time samlgate's validation of a SAML Response (scripts/bench-acs)")]
struct Args {
    /// The SAMLResponse form value (base64 of the Response XML).
    #[arg(long, required_unless_present = "check")]
    response: Option<PathBuf>,
    /// The IdP's signing certificate (PEM), as its metadata would give it.
    #[arg(long)]
    idp_cert: PathBuf,
    /// The IdP's entityID (the Issuer).
    #[arg(long)]
    idp_entity_id: String,
    /// The SP's entityID (the Audience).
    #[arg(long)]
    sp_entity_id: String,
    /// The ACS URL (Destination and Recipient).
    #[arg(long)]
    acs_url: String,
    /// The ID of the AuthnRequest the Response answers; without it the login is IdP-initiated.
    #[arg(long)]
    request_id: Option<String>,
    /// The instant to validate at (RFC 3339), e.g. just after the Response was made.
    #[arg(long)]
    now: String,
    /// This thread's CPU time to spend validating.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Only say whether each of these files is accepted.
    #[arg(long, num_args = 1..)]
    check: Vec<PathBuf>,
}

#[path = "support/cpu_time.rs"]
mod cpu_time;
use cpu_time::thread_cpu_ns;

struct Bench {
    policy: IdpPolicy,
    sp: SpIdentity,
    request_id: Option<String>,
    now: OffsetDateTime,
}

impl Bench {
    fn from_args(args: &Args) -> Result<Self, String> {
        let pem = std::fs::read(&args.idp_cert)
            .map_err(|e| format!("{}: {e}", args.idp_cert.display()))?;
        let key = VerificationKey::from_pem_certificate(&pem, "IdP certificate")
            .map_err(|e| format!("{}: {e}", args.idp_cert.display()))?;
        let now = OffsetDateTime::parse(&args.now, &Rfc3339)
            .map_err(|e| format!("--now {}: {e}", args.now))?;
        Ok(Bench {
            // The defaults of docs/security.md, as an [[idp]] with no policy settings gets.
            policy: IdpPolicy::new(args.idp_entity_id.clone(), vec![key]),
            sp: SpIdentity {
                entity_id: args.sp_entity_id.clone(),
                acs_url: args.acs_url.clone(),
                decryption_keys: Vec::new(),
            },
            request_id: args.request_id.clone(),
            now,
        })
    }

    fn validate(&self, saml_response: &[u8]) -> Result<(), String> {
        let expected = match &self.request_id {
            Some(id) => ExpectedRequest::Solicited(id),
            None => ExpectedRequest::Unsolicited,
        };
        validate(saml_response, &self.policy, &self.sp, expected, self.now)
            .map(|_| ())
            .map_err(|rejection| rejection.to_string())
    }
}

fn read_form_value(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().as_bytes().to_vec())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn run(args: &Args) -> Result<(), String> {
    let bench = Bench::from_args(args)?;
    if !args.check.is_empty() {
        for path in &args.check {
            match bench.validate(&read_form_value(path)?) {
                Ok(()) => println!("{}: accepted", path.display()),
                Err(why) => println!("{}: refused ({why})", path.display()),
            }
        }
        return Ok(());
    }
    let Some(path) = &args.response else {
        return Err("--response is missing".to_string());
    };
    let response = read_form_value(path)?;
    bench
        .validate(&response)
        .map_err(|why| format!("the Response is refused: {why}"))?;
    // Warm up caches and the allocator before timing.
    for _ in 0..20 {
        bench.validate(std::hint::black_box(&response))?;
    }
    let budget_ns = (args.seconds * 1e9) as u64;
    let (wall, cpu) = (Instant::now(), thread_cpu_ns());
    let mut n: u64 = 0;
    // The clock (a /proc read) is looked at every 100 validations: every 10, it cost about 1% of
    // the time measured.
    while thread_cpu_ns() - cpu < budget_ns {
        for _ in 0..100 {
            bench.validate(std::hint::black_box(&response))?;
        }
        n += 100;
    }
    let cpu_us = (thread_cpu_ns() - cpu) as f64 / 1000.0 / n as f64;
    let wall_us = wall.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("result n={n} cpu_us={cpu_us:.2} wall_us={wall_us:.2}");
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("acs_bench: {message}");
            ExitCode::FAILURE
        }
    }
}
