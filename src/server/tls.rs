//! TLS termination (`[server] tls_cert`, `tls_key`): rustls with the `ring` provider, TLS 1.3
//! and 1.2 only, the provider's suites (ECDHE with AES-GCM or ChaCha20-Poly1305; no CBC, no
//! RSA key exchange), ALPN `http/1.1` (the connection is served as HTTP/1.1 by the same event
//! loop as a plain one).
//!
//! One certificate, whatever the client's SNI (a client asking for another name fails its own
//! name check). The certificate and key are re-read on SIGHUP and when either file changes
//! ([`reload`]); handshakes from then on use the new pair, connections already open keep theirs.

pub mod redirect;
pub mod reload;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

pub use reload::CertificateSlot;

/// The ALPN protocols offered: HTTP/1.1 only (the event loops serve HTTP/1.1).
pub const ALPN: &[&[u8]] = &[b"http/1.1"];

pub use crate::config::TlsFiles;

/// Why a certificate and key cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key: {reason}")]
    NoKey { path: PathBuf, reason: String },
    #[error("the key in {key} does not belong to the certificate in {cert} ({reason})")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

/// The provider every TLS connection of the gateway uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The chain and key in `files`, checked to belong together.
pub fn load(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let chain = read_chain(&files.cert)?;
    let key_pem = std::fs::read(&files.key).map_err(|e| TlsError::Read {
        path: files.key.clone(),
        reason: e.to_string(),
    })?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::NoKey {
        path: files.key.clone(),
        reason: e.to_string(),
    })?;
    let mismatch = |reason: String| TlsError::Mismatch {
        cert: files.cert.clone(),
        key: files.key.clone(),
        reason,
    };
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| mismatch(e.to_string()))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| mismatch(e.to_string()))?;
    Ok(certified)
}

/// The PEM certificates in `path`, in order.
pub fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = std::fs::read(path).map_err(|e| TlsError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(chain)
}

/// The acceptor for `files`, and the slot its certificate is taken from (hand it to
/// [`reload::watch`], as a `Weak`, to follow the files while the acceptor lives).
pub fn acceptor(files: &TlsFiles) -> Result<(TlsAcceptor, Arc<CertificateSlot>), TlsError> {
    let provider = provider();
    let slot = Arc::new(CertificateSlot::new(
        files.clone(),
        load(files, &provider)?,
        Arc::clone(&provider),
    ));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(slot.clone());
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok((TlsAcceptor::from(Arc::new(config)), slot))
}
