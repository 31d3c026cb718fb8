//! Keys and certificates: IdP verification keys (from metadata only) and SP private keys.

use openssl::pkey::{PKey, Private, Public};
use openssl::x509::{X509, X509Ref};

/// A public key that may verify an IdP's signatures, with the certificate it came from.
/// Certificates are pinned trust anchors: their validity dates never gate verification.
#[derive(Clone)]
pub struct VerificationKey {
    pub key: PKey<Public>,
    pub certificate: Option<X509>,
    /// Where the key came from, for log lines ("metadata corp.xml, cert CN=..., SHA-256 ab:cd...").
    pub description: String,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("description", &self.description)
            .finish()
    }
}

/// Why a key or certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("certificate is not valid base64 DER: {0}")]
    CertificateEncoding(String),
    #[error("certificate could not be parsed: {0}")]
    Certificate(String),
    #[error("private key could not be parsed: {0}")]
    PrivateKey(String),
    #[error("unsupported key type {0}")]
    UnsupportedKeyType(String),
}

impl VerificationKey {
    /// From a base64 DER certificate as found in `ds:X509Certificate` (whitespace ignored).
    pub fn from_base64_certificate(b64: &str, source: &str) -> Result<Self, KeyError> {
        use base64::Engine;
        let cleaned: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(cleaned.as_bytes())
            .map_err(|e| KeyError::CertificateEncoding(e.to_string()))?;
        let cert = X509::from_der(&der).map_err(|e| KeyError::Certificate(e.to_string()))?;
        Self::from_certificate(cert, source)
    }

    /// From a PEM certificate.
    pub fn from_pem_certificate(pem: &[u8], source: &str) -> Result<Self, KeyError> {
        let cert = X509::from_pem(pem).map_err(|e| KeyError::Certificate(e.to_string()))?;
        Self::from_certificate(cert, source)
    }

    pub fn from_certificate(cert: X509, source: &str) -> Result<Self, KeyError> {
        let key = cert
            .public_key()
            .map_err(|e| KeyError::Certificate(e.to_string()))?;
        let fingerprint = cert
            .digest(openssl::hash::MessageDigest::sha256())
            .map(|d| hex_colon(&d))
            .unwrap_or_default();
        let subject = cert
            .subject_name()
            .entries()
            .map(|e| String::from_utf8_lossy(e.data().as_slice()).into_owned())
            .collect::<Vec<_>>()
            .join(",");
        Ok(VerificationKey {
            key,
            certificate: Some(cert),
            description: format!("{source}: certificate {subject} (SHA-256 {fingerprint})"),
        })
    }
}

/// An SP private key (signing AuthnRequests, decrypting assertions), with its certificate.
#[derive(Clone)]
pub struct DecryptionKey {
    pub key: PKey<Private>,
    pub certificate: Option<X509>,
    pub description: String,
}

impl std::fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptionKey")
            .field("description", &self.description)
            .finish()
    }
}

impl DecryptionKey {
    pub fn from_pem(pem: &[u8], source: &str) -> Result<Self, KeyError> {
        let key =
            PKey::private_key_from_pem(pem).map_err(|e| KeyError::PrivateKey(e.to_string()))?;
        Ok(DecryptionKey {
            key,
            certificate: None,
            description: source.to_string(),
        })
    }
}

/// The certificate's notAfter, in seconds since the Unix epoch: what the expiry gauges report
/// and the expiry warnings count from. `None` when OpenSSL cannot compare the times.
pub fn not_after_unix(cert: &X509Ref) -> Option<i64> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).ok()?;
    let d = epoch.diff(cert.not_after()).ok()?;
    Some(i64::from(d.days) * 86_400 + i64::from(d.secs))
}

/// `ab:cd:ef` form of a fingerprint, as admins compare them in IdP consoles.
pub fn hex_colon(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
