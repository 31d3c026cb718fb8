//! The keys and certificates the configuration names: loaded, checked for strength and expiry.

use std::ops::Range;
use std::path::Path;

use crate::crypto::keys::not_after_unix;
use openssl::x509::X509;
use toml::Spanned;

use super::fields::read_file;
use crate::config::problems::Problems;
use crate::crypto::keys::DecryptionKey;

/// Certificates expiring sooner than this are reported.
pub const EXPIRY_WARNING_DAYS: u32 = 30;

pub(super) fn load_cert(
    base: &Path,
    f: &Spanned<String>,
    key: &str,
    p: &mut Problems,
) -> Option<X509> {
    let (path, bytes) = read_file(base, f, key, p)?;
    match X509::from_pem(&bytes) {
        Ok(c) => {
            warn_if_expiring(&c, key, Some(f.span()), &path.display().to_string(), p);
            if let Ok(public) = c.public_key() {
                let what = format!("the key of {}", path.display());
                check_key_strength(&public, key, Some(f.span()), &what, false, p);
            }
            Some(c)
        }
        Err(e) => {
            p.error(
                key,
                Some(f.span()),
                format!("{} is not a PEM certificate: {e}", path.display()),
            );
            None
        }
    }
}

pub(super) fn load_key(
    base: &Path,
    f: &Spanned<String>,
    key: &str,
    p: &mut Problems,
) -> Option<DecryptionKey> {
    let (path, bytes) = read_file(base, f, key, p)?;
    warn_if_others_can_read(&path, key, f, p);
    DecryptionKey::from_pem(&bytes, &path.display().to_string())
        .map_err(|e| p.error(key, Some(f.span()), format!("{}: {e}", path.display())))
        .ok()
}

/// A private key any user of the machine can read is as good as published: say so, with the fix.
/// Group-readable is left alone (`root:samlgate 0640` is a common way to hand a key to a service).
pub(in crate::config::validate) fn warn_if_others_can_read(
    path: &Path,
    key: &str,
    f: &Spanned<String>,
    p: &mut Problems,
) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o004 != 0 {
                p.warning(
                    key,
                    Some(f.span()),
                    format!(
                        "{} is a private key that every user of this machine can read (mode {mode:o}): run `chmod 600 {}` (or 640 with the gateway's group)",
                        path.display(),
                        path.display()
                    ),
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, key, f, p);
}

/// RSA keys shorter than this are refused: 512- and 768-bit moduli have been factored in
/// public, so a signature under one proves nothing.
pub const MIN_RSA_BITS: u32 = 1024;
/// RSA keys shorter than this get a warning (NIST SP 800-131A disallows 1024 since 2013).
pub const WEAK_RSA_BITS: u32 = 2048;

/// Refuse an RSA key under [`MIN_RSA_BITS`], warn under [`WEAK_RSA_BITS`]. `refuse` false
/// turns the refusal into a warning (keys we only sign with, where the risk is ours to judge).
pub fn check_key_strength(
    key: &openssl::pkey::PKeyRef<openssl::pkey::Public>,
    config_key: &str,
    span: Option<Range<usize>>,
    what: &str,
    refuse: bool,
    p: &mut Problems,
) {
    let Ok(rsa) = key.rsa() else {
        return;
    };
    let bits = rsa.n().num_bits().max(0).unsigned_abs();
    if bits < MIN_RSA_BITS && refuse {
        p.error(
            config_key,
            span,
            format!(
                "{what} is a {bits}-bit RSA key: keys this short can be factored and signatures forged; the IdP must roll over to a {WEAK_RSA_BITS}-bit key or longer"
            ),
        );
    } else if bits < WEAK_RSA_BITS {
        p.warning(
            config_key,
            span,
            format!("{what} is a {bits}-bit RSA key: use {WEAK_RSA_BITS} bits or more"),
        );
    }
}

/// Warn when `cert` expires within [`EXPIRY_WARNING_DAYS`] (or already has).
pub fn warn_if_expiring(
    cert: &X509,
    key: &str,
    span: Option<Range<usize>>,
    what: &str,
    p: &mut Problems,
) {
    let Some(not_after) = not_after_unix(cert) else {
        return;
    };
    let left = not_after - time::OffsetDateTime::now_utc().unix_timestamp();
    let days = left / 86_400;
    if left < 0 {
        p.warning(
            key,
            span,
            format!("certificate in {what} expired on {}", cert.not_after()),
        );
    } else if days < i64::from(EXPIRY_WARNING_DAYS) {
        p.warning(
            key,
            span,
            format!(
                "certificate in {what} expires on {} (in {} days)",
                cert.not_after(),
                days
            ),
        );
    }
}
