//! TLS to an `https://` backend: rustls (the `ring` provider, TLS 1.3 and 1.2, ALPN
//! `http/1.1`), the server's certificate verified against the system's roots or the configured
//! CA (`backend.ca`) for the name in the backend URL (also sent as SNI), and a client
//! certificate when configured (`backend.client_cert`, `client_key`: mutual TLS). There is no
//! way to turn verification off.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::TlsConnector;

/// What the backend's TLS is checked against and authenticated with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackendTls {
    /// PEM CA certificates the backend's certificate must chain to. `None`: the system's roots.
    pub ca: Option<PathBuf>,
    /// PEM certificate chain and key presented to the backend.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

/// A connector for one backend: the client configuration and the name checked (and sent as SNI).
#[derive(Clone)]
pub struct BackendConnector {
    pub connector: TlsConnector,
    pub server_name: ServerName<'static>,
}

impl std::fmt::Debug for BackendConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendConnector")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// Why TLS to the backend cannot be set up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackendTlsError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("no usable root certificate on this system (set backend.ca): {0}")]
    NoSystemRoots(String),
    #[error("backend host {host:?} is not a DNS name or IP address")]
    BadName { host: String },
    #[error("cannot set up TLS to the backend: {0}")]
    Setup(String),
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, BackendTlsError> {
    let read = |reason: String| BackendTlsError::Read {
        path: path.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| read(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read(e.to_string()))?;
    if certs.is_empty() {
        return Err(BackendTlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn roots(ca: Option<&Path>) -> Result<RootCertStore, BackendTlsError> {
    let mut store = RootCertStore::empty();
    let certs = match ca {
        Some(path) => certificates(path)?,
        None => {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                let why = found
                    .errors
                    .first()
                    .map_or_else(|| "none found".to_owned(), ToString::to_string);
                return Err(BackendTlsError::NoSystemRoots(why));
            }
            found.certs
        }
    };
    // A system store may hold certificates rustls cannot use; a configured CA must be usable.
    let (added, _ignored) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(BackendTlsError::Setup(match ca {
            Some(path) => format!("{} holds no usable CA certificate", path.display()),
            None => "no usable root certificate on this system".to_owned(),
        }));
    }
    Ok(store)
}

/// The connector for a backend at `host` (the URL's host: a DNS name or an IP address).
pub fn connector(tls: &BackendTls, host: &str) -> Result<BackendConnector, BackendTlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| BackendTlsError::Setup(e.to_string()))?
        .with_root_certificates(roots(tls.ca.as_deref())?);
    let mut config = match &tls.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = certificates(cert)?;
            let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| BackendTlsError::Read {
                path: key.clone(),
                reason: e.to_string(),
            })?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| BackendTlsError::Setup(e.to_string()))?
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // `[::1]` in a URL is the address `::1`.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let server_name =
        ServerName::try_from(bare.to_owned()).map_err(|_| BackendTlsError::BadName {
            host: host.to_owned(),
        })?;
    Ok(BackendConnector {
        connector: TlsConnector::from(Arc::new(config)),
        server_name,
    })
}
