//! SP metadata: `GET /saml/metadata` and `samlgate metadata --config FILE [--out FILE]`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::state::{AppState, sp_metadata_xml};

pub async fn metadata(State(state): State<Arc<AppState>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        state.sp_metadata.clone(),
    )
        .into_response()
}

/// Print the SP metadata to hand to the IdP.
#[derive(Debug, Clone, clap::Args)]
pub struct MetadataArgs {
    /// The gateway's TOML configuration file.
    #[arg(long, short)]
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
