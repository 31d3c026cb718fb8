//! `[backend] ca`, `client_cert`, `client_key`: how an `https://` backend is verified and what
//! the gateway authenticates to it with. Loaded here once so that `check` reports unreadable
//! files, a key that is not the certificate's, and settings that would do nothing.

use std::ops::Range;
use std::path::{Path, PathBuf};

use openssl::pkey::PKey;
use openssl::x509::X509;

use crate::config::as_written::RawBackend;
use crate::config::problems::Problems;
use crate::config::validate::fields::read_file;
use crate::config::validate::keys::{warn_if_expiring, warn_if_others_can_read};

type BackendTls = (Option<PathBuf>, Option<(PathBuf, PathBuf)>);

/// The CA file and the client certificate and key; `None` when an error was recorded.
/// `https`: whether the URL is `https://` (`None` when the URL itself is wrong).
pub(super) fn tls(
    r: &RawBackend,
    span: Option<Range<usize>>,
    https: Option<bool>,
    base: &Path,
    p: &mut Problems,
) -> Option<BackendTls> {
    let any = r.ca.is_some() || r.client_cert.is_some() || r.client_key.is_some();
    if any && https == Some(false) {
        let key = if r.ca.is_some() {
            "backend.ca"
        } else {
            "backend.client_cert"
        };
        p.error(
            key,
            span,
            "applies to an https:// backend only, and backend.url is http://",
        );
        return None;
    }
    let ca = match &r.ca {
        None => None,
        Some(f) => {
            let (path, pem) = read_file(base, f, "backend.ca", p)?;
            match X509::stack_from_pem(&pem) {
                Ok(certs) if !certs.is_empty() => {
                    for cert in &certs {
                        warn_if_expiring(
                            cert,
                            "backend.ca",
                            Some(f.span()),
                            &path.display().to_string(),
                            p,
                        );
                    }
                    Some(path)
                }
                _ => {
                    p.error(
                        "backend.ca",
                        Some(f.span()),
                        format!("{} holds no PEM certificate", path.display()),
                    );
                    return None;
                }
            }
        }
    };
    let client_cert = match (&r.client_cert, &r.client_key) {
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            p.error(
                "backend.client_cert",
                span,
                "client_cert and client_key go together: set both (mutual TLS) or neither",
            );
            return None;
        }
        (Some(cert), Some(key)) => {
            let (cert_path, cert_pem) = read_file(base, cert, "backend.client_cert", p)?;
            let (key_path, key_pem) = read_file(base, key, "backend.client_key", p)?;
            warn_if_others_can_read(&key_path, "backend.client_key", key, p);
            let Some(leaf) = X509::stack_from_pem(&cert_pem)
                .ok()
                .and_then(|c| c.into_iter().next())
            else {
                p.error(
                    "backend.client_cert",
                    Some(cert.span()),
                    format!("{} holds no PEM certificate", cert_path.display()),
                );
                return None;
            };
            warn_if_expiring(
                &leaf,
                "backend.client_cert",
                Some(cert.span()),
                &cert_path.display().to_string(),
                p,
            );
            let matches = PKey::private_key_from_pem(&key_pem)
                .ok()
                .is_some_and(|k| leaf.public_key().is_ok_and(|pk| pk.public_eq(&k)));
            if !matches {
                p.error(
                    "backend.client_key",
                    Some(key.span()),
                    format!(
                        "{} is not a PEM private key of the certificate in {}",
                        key_path.display(),
                        cert_path.display()
                    ),
                );
                return None;
            }
            Some((cert_path, key_path))
        }
    };
    Some((ca, client_cert))
}
