//! `[server] tls_cert`, `tls_key`, `redirect_http_listen`: TLS on the listener. The pair is
//! loaded here once so that `check` reports the certificate's names and expiry and refuses a key
//! that does not belong to it; the server loads it again (and on every change) for rustls.

use std::net::SocketAddr;
use std::path::Path;

use openssl::pkey::PKey;
use openssl::x509::X509;
use toml::Spanned;

use crate::config::as_written::RawServer;
use crate::config::model::TlsFiles;
use crate::config::problems::Problems;
use crate::config::validate::fields::read_file;
use crate::config::validate::keys::{warn_if_expiring, warn_if_others_can_read};

/// The TLS files and the redirect listener; `None` when an error was recorded.
pub(in crate::config::validate) fn tls(
    raw: Option<&Spanned<RawServer>>,
    base: &Path,
    p: &mut Problems,
) -> Option<(Option<TlsFiles>, Option<SocketAddr>)> {
    let raw = raw?;
    let span = Some(raw.span());
    let r = raw.get_ref();
    let files = match (&r.tls_cert, &r.tls_key) {
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            p.error(
                "server.tls_cert",
                span,
                "tls_cert and tls_key go together: set both (TLS on the listener) or neither",
            );
            return None;
        }
        (Some(cert), Some(key)) => Some(pair(base, cert, key, p)?),
    };
    let redirect = match &r.redirect_http_listen {
        None => None,
        Some(_) if files.is_none() => {
            p.error(
                "server.redirect_http_listen",
                span_of(&r.redirect_http_listen),
                "redirects to HTTPS, so it needs tls_cert and tls_key",
            );
            return None;
        }
        Some(addr) => match addr.get_ref().parse::<SocketAddr>() {
            Ok(a)
                if r.listen
                    .as_ref()
                    .is_some_and(|l| l.get_ref().parse() == Ok(a)) =>
            {
                p.error(
                    "server.redirect_http_listen",
                    Some(addr.span()),
                    "must differ from server.listen",
                );
                return None;
            }
            Ok(a) => Some(a),
            Err(e) => {
                p.error(
                    "server.redirect_http_listen",
                    Some(addr.span()),
                    format!("\"{}\" is not ip:port: {e}", addr.get_ref()),
                );
                return None;
            }
        },
    };
    Some((files, redirect))
}

fn span_of<T>(f: &Option<Spanned<T>>) -> Option<std::ops::Range<usize>> {
    f.as_ref().map(Spanned::span)
}

fn pair(
    base: &Path,
    cert: &Spanned<String>,
    key: &Spanned<String>,
    p: &mut Problems,
) -> Option<TlsFiles> {
    let (cert_path, cert_pem) = read_file(base, cert, "server.tls_cert", p)?;
    let (key_path, key_pem) = read_file(base, key, "server.tls_key", p)?;
    warn_if_others_can_read(&key_path, "server.tls_key", key, p);
    let chain = match X509::stack_from_pem(&cert_pem) {
        Ok(chain) if !chain.is_empty() => chain,
        Ok(_) => {
            p.error(
                "server.tls_cert",
                Some(cert.span()),
                format!("{} holds no PEM certificate", cert_path.display()),
            );
            return None;
        }
        Err(e) => {
            p.error(
                "server.tls_cert",
                Some(cert.span()),
                format!(
                    "{} is not a PEM certificate chain: {e}",
                    cert_path.display()
                ),
            );
            return None;
        }
    };
    let leaf = chain.first()?;
    warn_if_expiring(
        leaf,
        "server.tls_cert",
        Some(cert.span()),
        &cert_path.display().to_string(),
        p,
    );
    let private = match PKey::private_key_from_pem(&key_pem) {
        Ok(k) => k,
        Err(e) => {
            p.error(
                "server.tls_key",
                Some(key.span()),
                format!("{} is not a PEM private key: {e}", key_path.display()),
            );
            return None;
        }
    };
    if !leaf.public_key().is_ok_and(|pk| pk.public_eq(&private)) {
        p.error(
            "server.tls_key",
            Some(key.span()),
            format!(
                "{} is not the key of the certificate in {} (the first certificate of the file must be the server's own)",
                key_path.display(),
                cert_path.display()
            ),
        );
        return None;
    }
    Some(TlsFiles {
        cert: cert_path,
        key: key_path,
        names: names(leaf),
        not_after: leaf.not_after().to_string(),
    })
}

/// The DNS and IP names of the certificate; its CN when it has none.
fn names(cert: &X509) -> Vec<String> {
    let mut names: Vec<String> = cert
        .subject_alt_names()
        .map(|sans| {
            sans.iter()
                .filter_map(|n| {
                    n.dnsname().map(str::to_owned).or_else(|| {
                        n.ipaddress().and_then(|ip| match ip.len() {
                            4 => <[u8; 4]>::try_from(ip)
                                .ok()
                                .map(|b| std::net::IpAddr::from(b).to_string()),
                            16 => <[u8; 16]>::try_from(ip)
                                .ok()
                                .map(|b| std::net::IpAddr::from(b).to_string()),
                            _ => None,
                        })
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        names = cert
            .subject_name()
            .entries_by_nid(openssl::nid::Nid::COMMONNAME)
            .filter_map(|e| e.data().to_string().ok())
            .collect();
    }
    names
}
