//! `samlgate keygen`: the SP's own key pair and self-signed certificate.
//!
//! The certificate only carries the public key to the IdP through SP metadata (SAML pins keys;
//! nobody validates a chain), so a self-signed RSA-3072 / SHA-256 certificate is the norm, as
//! with Shibboleth's `keygen.sh` and mellon's `mellon_create_metadata.sh`.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, PKeyRef, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectKeyIdentifier};
use openssl::x509::{X509, X509NameBuilder};

/// RSA modulus size of generated SP keys.
pub const SP_KEY_BITS: u32 = 3072;
/// The longest validity `keygen` accepts (about 30 years); SAML ignores the dates, but a
/// typo such as `--days 365000` should not go unnoticed.
pub const MAX_DAYS: u32 = 11_000;

/// Why credentials could not be generated or written.
#[derive(Debug, thiserror::Error)]
pub enum KeygenError {
    #[error("common name must be non-empty and at most 64 characters, got {0:?}")]
    BadCommonName(String),
    #[error("validity of {0} days is outside 1..={MAX_DAYS}")]
    BadDays(u32),
    #[error("OpenSSL failed while {step}: {message}")]
    OpenSsl { step: &'static str, message: String },
    #[error("{} already exists; not overwriting it (pass --force to replace it)", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
}

fn ossl(step: &'static str) -> impl Fn(openssl::error::ErrorStack) -> KeygenError {
    move |e| KeygenError::OpenSsl {
        step,
        message: e.to_string(),
    }
}

/// A fresh RSA-3072 key and a self-signed SHA-256 certificate for it, both PEM
/// (the key as PKCS#8).
pub fn generate_sp_credentials(
    common_name: &str,
    days: u32,
) -> Result<(String, String), KeygenError> {
    check_inputs(common_name, days)?;
    let rsa = Rsa::generate(SP_KEY_BITS).map_err(ossl("generating the RSA key"))?;
    let key = PKey::from_rsa(rsa).map_err(ossl("wrapping the RSA key"))?;
    let certificate = self_signed_certificate(&key, common_name, days)?;
    let key_pem = key
        .private_key_to_pem_pkcs8()
        .map_err(ossl("encoding the key as PEM"))?;
    let cert_pem = certificate
        .to_pem()
        .map_err(ossl("encoding the certificate as PEM"))?;
    Ok((
        String::from_utf8_lossy(&key_pem).into_owned(),
        String::from_utf8_lossy(&cert_pem).into_owned(),
    ))
}

/// A self-signed SHA-256 certificate for `key`: subject = issuer = `CN=<common_name>`, valid from
/// now for `days`, a random 128-bit serial, CA:FALSE, digitalSignature + keyEncipherment.
pub fn self_signed_certificate(
    key: &PKeyRef<Private>,
    common_name: &str,
    days: u32,
) -> Result<X509, KeygenError> {
    check_inputs(common_name, days)?;
    let mut name = X509NameBuilder::new().map_err(ossl("building the subject name"))?;
    name.append_entry_by_text("CN", common_name)
        .map_err(ossl("building the subject name"))?;
    let name = name.build();

    let mut serial = BigNum::new().map_err(ossl("drawing a serial number"))?;
    serial
        .rand(127, MsbOption::MAYBE_ZERO, false)
        .map_err(ossl("drawing a serial number"))?;
    let serial = Asn1Integer::from_bn(&serial).map_err(ossl("drawing a serial number"))?;

    let mut builder = X509::builder().map_err(ossl("building the certificate"))?;
    builder
        .set_version(2)
        .map_err(ossl("setting the version"))?;
    builder
        .set_serial_number(&serial)
        .map_err(ossl("setting the serial"))?;
    builder
        .set_subject_name(&name)
        .map_err(ossl("setting the subject"))?;
    builder
        .set_issuer_name(&name)
        .map_err(ossl("setting the issuer"))?;
    builder
        .set_pubkey(key)
        .map_err(ossl("setting the public key"))?;
    let not_before = Asn1Time::days_from_now(0).map_err(ossl("setting notBefore"))?;
    let not_after = Asn1Time::days_from_now(days).map_err(ossl("setting notAfter"))?;
    builder
        .set_not_before(&not_before)
        .map_err(ossl("setting notBefore"))?;
    builder
        .set_not_after(&not_after)
        .map_err(ossl("setting notAfter"))?;
    let basic = BasicConstraints::new()
        .critical()
        .build()
        .map_err(ossl("adding basicConstraints"))?;
    builder
        .append_extension(basic)
        .map_err(ossl("adding basicConstraints"))?;
    let usage = KeyUsage::new()
        .critical()
        .digital_signature()
        .key_encipherment()
        .build()
        .map_err(ossl("adding keyUsage"))?;
    builder
        .append_extension(usage)
        .map_err(ossl("adding keyUsage"))?;
    let ski = SubjectKeyIdentifier::new()
        .build(&builder.x509v3_context(None, None))
        .map_err(ossl("adding subjectKeyIdentifier"))?;
    builder
        .append_extension(ski)
        .map_err(ossl("adding subjectKeyIdentifier"))?;
    builder
        .sign(key, MessageDigest::sha256())
        .map_err(ossl("signing the certificate"))?;
    Ok(builder.build())
}

fn check_inputs(common_name: &str, days: u32) -> Result<(), KeygenError> {
    if common_name.trim().is_empty() || common_name.chars().count() > 64 {
        return Err(KeygenError::BadCommonName(common_name.to_string()));
    }
    if days == 0 || days > MAX_DAYS {
        return Err(KeygenError::BadDays(days));
    }
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_empty_common_name_and_zero_days() {
        assert!(matches!(
            generate_sp_credentials(" ", 10),
            Err(KeygenError::BadCommonName(_))
        ));
        assert!(matches!(
            generate_sp_credentials("sp", 0),
            Err(KeygenError::BadDays(0))
        ));
        assert!(matches!(
            generate_sp_credentials("sp", MAX_DAYS + 1),
            Err(KeygenError::BadDays(_))
        ));
    }

    #[test]
    fn existing_file_error_names_the_file_and_the_flag() {
        let message = KeygenError::Exists(PathBuf::from("certs/sp.key")).to_string();
        assert!(message.contains("certs/sp.key"), "{message}");
        assert!(message.contains("--force"), "{message}");
    }
}
