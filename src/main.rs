//! The samlgate command line. Each subcommand's arguments and logic live in the library.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "samlgate",
    version = samlgate::cli::version::LONG,
    about = "SAML 2.0 single-sign-on gateway"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate one SAML Response with the ACS pipeline, or one OAuth access token with
    /// --token (exit 0 accepted, 1 refused, 2 usage).
    Verify(Box<samlgate::cli::verify::VerifyArgs>),
    /// Run the gateway in front of the configured backend.
    Serve(samlgate::cli::serve::ServeArgs),
    /// Validate a configuration without serving: every problem with file, key and line.
    Check(samlgate::cli::check::CheckArgs),
    /// Write the SP metadata (entityID, ACS, certificates) to hand to the IdP.
    Metadata(samlgate::cli::metadata::MetadataArgs),
    /// Run the gateway with a development IdP and an echo backend on localhost.
    #[cfg(feature = "demo")]
    Demo(samlgate::demo::run::DemoArgs),
    /// Write a new SP private key and self-signed certificate (never overwrites without --force).
    Keygen(samlgate::cli::keygen::KeygenArgs),
    /// Work with mapping tables.
    #[command(subcommand)]
    Mapping(MappingCommand),
    /// Write the shell completion script for SHELL to stdout (packaging).
    #[command(hide = true)]
    Completions { shell: clap_complete::Shell },
    /// Write the man page (roff) to stdout (packaging).
    #[command(hide = true)]
    Man,
}

#[derive(Subcommand)]
enum MappingCommand {
    /// Show the operator and access group a mapping table gives for some attributes or a Response.
    Test(samlgate::cli::mapping::MappingTestArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Verify(args) => samlgate::cli::verify::run(*args),
        Command::Keygen(args) => samlgate::cli::keygen::run(args),
        Command::Mapping(MappingCommand::Test(args)) => samlgate::cli::mapping::run(args),
        Command::Serve(args) => samlgate::cli::serve::run_serve(args),
        Command::Check(args) => samlgate::cli::check::run_check(args),
        Command::Metadata(args) => samlgate::cli::metadata::run_metadata(args),
        #[cfg(feature = "demo")]
        Command::Demo(args) => samlgate::demo::run::run(args),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "samlgate",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
        Command::Man => {
            match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("samlgate man: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// clap checks an argument definition only when it parses: two flattened argument sets
    /// that both define `--config` made every `samlgate verify` panic. Check them all here.
    #[test]
    fn every_subcommands_arguments_are_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
