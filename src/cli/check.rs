//! `samlgate check --config FILE`: exit 0 when the gateway would start, 1 otherwise, with every
//! problem listed (file:line: key: message), warnings included.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{self, ConnectionLimits};
use crate::server::descriptors::{self, CapDecision};

/// Validate a configuration file without starting anything.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// The gateway's TOML configuration file.
    #[arg(long, short, env = "SAMLGATE_CONFIG", default_value = crate::cli::DEFAULT_CONFIG)]
    pub config: PathBuf,
}

pub fn run_check(args: CheckArgs) -> ExitCode {
    match config::load(&args.config) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            println!(
                "{}: OK ({} IdP(s), {} warning(s))",
                args.config.display(),
                loaded.config.idps.len(),
                loaded.warnings.len()
            );
            report_descriptors(&loaded.config.server.connections);
            if let Some(tls) = &loaded.config.server.tls {
                println!(
                    "TLS: {} for {}, valid until {}",
                    tls.cert.display(),
                    tls.names.join(", "),
                    tls.not_after
                );
            }
            if let Some(token) = &loaded.config.identity_token {
                println!(
                    "identity token: {} signed by key {} for audience {}",
                    token.header(),
                    token.kid(),
                    token.settings.audience
                );
            }
            if super::check_idps::report(&loaded.config) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprint!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The descriptor limit `serve` would get here and the connection cap it allows. Only reported:
/// the service manager may give `serve` another limit than this shell has.
fn report_descriptors(limits: &ConnectionLimits) {
    match descriptors::would_get() {
        Ok(limit) => {
            let decision = descriptors::decide(limits, limit.now);
            let line = descriptors::describe(decision, &limit);
            match decision {
                CapDecision::Fits(_) => println!("{line}"),
                CapDecision::Lowered { .. } => eprintln!("warning: {line}"),
                CapDecision::TooHigh { .. } => {
                    eprintln!("warning: {line} (samlgate serve refuses to start under this limit)")
                }
            }
        }
        Err(e) => eprintln!("warning: cannot read the file descriptor limit: {e}"),
    }
    println!(
        "connections: header_read_timeout {} s, keepalive_timeout {} s",
        limits.header_read_timeout.as_secs(),
        limits.keepalive_timeout.as_secs()
    );
}
