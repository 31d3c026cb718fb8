//! `samlgate keygen`: write a new SP key (mode 0600) and self-signed certificate, never
//! overwriting without `--force`.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::crypto::keygen::{KeygenError, generate_sp_credentials};

/// `samlgate keygen`: write a new SP key and certificate.
#[derive(Clone, Debug, clap::Args)]
pub struct KeygenArgs {
    /// Directory for sp.key and sp.crt (created if missing).
    #[arg(long, default_value = "certs")]
    pub out_dir: PathBuf,
    /// Certificate subject common name, usually the SP's host name.
    #[arg(long, default_value = "samlgate-sp")]
    pub cn: String,
    /// Certificate validity in days.
    #[arg(long, default_value_t = 3650)]
    pub days: u32,
    /// Replace existing sp.key / sp.crt.
    #[arg(long)]
    pub force: bool,
}

/// Runs `samlgate keygen` and reports on stdout/stderr.
pub fn run(args: KeygenArgs) -> ExitCode {
    match write_credentials(&args) {
        Ok((key_path, cert_path)) => {
            println!(
                "wrote {} (private key, mode 0600) and {} (certificate, CN={}, valid {} days)",
                key_path.display(),
                cert_path.display(),
                args.cn,
                args.days
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("samlgate keygen: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Generates and writes `sp.key` (0600) and `sp.crt`. Both paths are checked before either is
/// written, so a refusal never leaves a key without its certificate.
pub fn write_credentials(args: &KeygenArgs) -> Result<(PathBuf, PathBuf), KeygenError> {
    let key_path = args.out_dir.join("sp.key");
    let cert_path = args.out_dir.join("sp.crt");
    if !args.force {
        for path in [&key_path, &cert_path] {
            if path.exists() {
                return Err(KeygenError::Exists(path.clone()));
            }
        }
    }
    let (key_pem, cert_pem) = generate_sp_credentials(&args.cn, args.days)?;
    std::fs::create_dir_all(&args.out_dir).map_err(|e| io_error(&args.out_dir, e))?;
    write_file(&key_path, key_pem.as_bytes(), 0o600, args.force)?;
    write_file(&cert_path, cert_pem.as_bytes(), 0o644, args.force)?;
    Ok((key_path, cert_path))
}

/// Writes a file with `mode`; without `overwrite` it refuses an existing file atomically
/// (`create_new`), so a race with another writer cannot clobber a key either.
fn write_file(path: &Path, contents: &[u8], mode: u32, overwrite: bool) -> Result<(), KeygenError> {
    let mut options = OpenOptions::new();
    options.write(true);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeygenError::Exists(path.to_path_buf())
        } else {
            io_error(path, e)
        }
    })?;
    // `mode` applies only to a new file; an overwritten key must not keep wider permissions.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| io_error(path, e))?;
    }
    file.write_all(contents).map_err(|e| io_error(path, e))?;
    file.sync_all().map_err(|e| io_error(path, e))
}

fn io_error(path: &Path, e: std::io::Error) -> KeygenError {
    KeygenError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}
