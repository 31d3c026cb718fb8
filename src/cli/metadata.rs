//! `samlgate metadata --config FILE [--out FILE]`: the SP metadata to hand to the IdP.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::gateway::state::sp_metadata_xml;

/// Print the SP metadata to hand to the IdP.
#[derive(Debug, Clone, clap::Args)]
pub struct MetadataArgs {
    /// The gateway's TOML configuration file.
    #[arg(long, short, env = "SAMLGATE_CONFIG", default_value = crate::cli::DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

pub fn run_metadata(args: MetadataArgs) -> ExitCode {
    let loaded = match crate::config::load(&args.config) {
        Ok(l) => l,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::FAILURE;
        }
    };
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    let xml = match sp_metadata_xml(&loaded.config) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match &args.out {
        Some(path) => match std::fs::write(path, xml) {
            Ok(()) => {
                eprintln!("wrote {}", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                ExitCode::FAILURE
            }
        },
        None => {
            print!("{xml}");
            ExitCode::SUCCESS
        }
    }
}
