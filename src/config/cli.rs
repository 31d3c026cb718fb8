//! `samlgate check --config FILE`: exit 0 when the gateway would start, 1 otherwise, with every
//! problem listed (file:line: key: message), warnings included.

use std::path::PathBuf;
use std::process::ExitCode;

/// Validate a configuration file without starting anything.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// The gateway's TOML configuration file.
    #[arg(long, short)]
    pub config: PathBuf,
}

pub fn run_check(args: CheckArgs) -> ExitCode {
    match super::load(&args.config) {
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
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprint!("{e}");
            ExitCode::FAILURE
        }
    }
}
