//! The XML-DSig algorithm allow-list (docs/security.md, "Signatures").
//!
//! Every algorithm URI from a message (SignatureMethod, DigestMethod, the HTTP-Redirect `SigAlg`)
//! goes through here before any cryptography runs. The list is closed: RSA PKCS#1 v1.5, RSA-PSS
//! and ECDSA over SHA-2, SHA-2 digests, and SHA-1 only when the IdP's policy opts in. HMAC is
//! refused with its own error, because an HMAC "signature" keyed with a public key (or with
//! nothing) is the classic algorithm-confusion bypass.

use openssl::hash::MessageDigest;

/// `SignatureMethod` / `SigAlg` URIs we implement.
pub mod uri {
    pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
    pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    pub const RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
    pub const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
    pub const RSA_PSS_SHA256: &str = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1";
    pub const RSA_PSS_SHA384: &str = "http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1";
    pub const RSA_PSS_SHA512: &str = "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1";
    pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
    pub const ECDSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
    pub const ECDSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512";

    pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
    pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
    pub const SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
    pub const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";

    pub const ENVELOPED_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
    pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
    pub const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
}

/// Why an algorithm URI was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AlgorithmError {
    #[error("{role} algorithm {uri} is not on the allow-list")]
    Unknown { role: AlgorithmRole, uri: String },
    #[error(
        "{role} algorithm {uri} is HMAC, which is never accepted (keys come from IdP metadata)"
    )]
    Hmac { role: AlgorithmRole, uri: String },
    #[error(
        "{role} algorithm {uri} uses SHA-1, which this IdP's policy does not allow (allow_sha1 = false)"
    )]
    Sha1NotAllowed { role: AlgorithmRole, uri: String },
}

impl AlgorithmError {
    pub fn kind(&self) -> &'static str {
        match self {
            AlgorithmError::Unknown { .. } => "signature_algorithm_unknown",
            AlgorithmError::Hmac { .. } => "signature_algorithm_hmac",
            AlgorithmError::Sha1NotAllowed { .. } => "signature_algorithm_sha1_not_allowed",
        }
    }
}

/// Which slot an algorithm URI came from, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlgorithmRole {
    Signature,
    Digest,
}

impl std::fmt::Display for AlgorithmRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AlgorithmRole::Signature => "signature",
            AlgorithmRole::Digest => "digest",
        })
    }
}

/// A hash function on the allow-list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashFunction {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashFunction {
    pub fn message_digest(self) -> MessageDigest {
        match self {
            HashFunction::Sha1 => MessageDigest::sha1(),
            HashFunction::Sha256 => MessageDigest::sha256(),
            HashFunction::Sha384 => MessageDigest::sha384(),
            HashFunction::Sha512 => MessageDigest::sha512(),
        }
    }

    /// The digest of `data`.
    ///
    /// Through OpenSSL's low-level SHA functions (`SHA256_Init`, `_Update`, `_Final` and
    /// their siblings): the same block functions as the EVP digests (with the CPU's SHA
    /// instructions where it has them), without an EVP context to allocate, initialize, clean
    /// and free around each of the four digests of every Response. (The one-shot `SHA256()`
    /// is no shortcut: OpenSSL 3 routes it through EVP.) Never fails; the `Result` is kept for
    /// the callers.
    pub fn digest(self, data: &[u8]) -> Result<Vec<u8>, openssl::error::ErrorStack> {
        use openssl::sha::{Sha1, Sha256, Sha384, Sha512};
        Ok(match self {
            HashFunction::Sha1 => {
                let mut h = Sha1::new();
                h.update(data);
                h.finish().to_vec()
            }
            HashFunction::Sha256 => {
                let mut h = Sha256::new();
                h.update(data);
                h.finish().to_vec()
            }
            HashFunction::Sha384 => {
                let mut h = Sha384::new();
                h.update(data);
                h.finish().to_vec()
            }
            HashFunction::Sha512 => {
                let mut h = Sha512::new();
                h.update(data);
                h.finish().to_vec()
            }
        })
    }

    /// Output length in bytes (also the RSA-PSS salt length, RFC 6931 section 2.3.10).
    pub fn output_len(self) -> usize {
        match self {
            HashFunction::Sha1 => 20,
            HashFunction::Sha256 => 32,
            HashFunction::Sha384 => 48,
            HashFunction::Sha512 => 64,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            HashFunction::Sha1 => "SHA-1",
            HashFunction::Sha256 => "SHA-256",
            HashFunction::Sha384 => "SHA-384",
            HashFunction::Sha512 => "SHA-512",
        }
    }
}

/// The key family a signature algorithm needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    /// RSASSA-PKCS1-v1_5.
    RsaPkcs1,
    /// RSASSA-PSS with MGF1 over the same hash and a salt as long as the hash.
    RsaPss,
    /// ECDSA; in XML-DSig and the Redirect binding the value is raw `r || s`, not DER.
    Ecdsa,
}

/// A `SignatureMethod` on the allow-list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    RsaSha1,
    RsaSha256,
    RsaSha384,
    RsaSha512,
    RsaPssSha256,
    RsaPssSha384,
    RsaPssSha512,
    EcdsaSha256,
    EcdsaSha384,
    EcdsaSha512,
}

impl SignatureAlgorithm {
    pub const ALL: [SignatureAlgorithm; 10] = [
        SignatureAlgorithm::RsaSha1,
        SignatureAlgorithm::RsaSha256,
        SignatureAlgorithm::RsaSha384,
        SignatureAlgorithm::RsaSha512,
        SignatureAlgorithm::RsaPssSha256,
        SignatureAlgorithm::RsaPssSha384,
        SignatureAlgorithm::RsaPssSha512,
        SignatureAlgorithm::EcdsaSha256,
        SignatureAlgorithm::EcdsaSha384,
        SignatureAlgorithm::EcdsaSha512,
    ];

    /// Look up a `SignatureMethod Algorithm` (or Redirect `SigAlg`) URI.
    pub fn from_uri(uri: &str, allow_sha1: bool) -> Result<Self, AlgorithmError> {
        let role = AlgorithmRole::Signature;
        let found = Self::ALL.into_iter().find(|a| a.uri() == uri);
        match found {
            Some(a) if a.hash() == HashFunction::Sha1 && !allow_sha1 => {
                Err(AlgorithmError::Sha1NotAllowed {
                    role,
                    uri: uri.to_string(),
                })
            }
            Some(a) => Ok(a),
            None if is_hmac(uri) => Err(AlgorithmError::Hmac {
                role,
                uri: uri.to_string(),
            }),
            None => Err(AlgorithmError::Unknown {
                role,
                uri: uri.to_string(),
            }),
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            SignatureAlgorithm::RsaSha1 => uri::RSA_SHA1,
            SignatureAlgorithm::RsaSha256 => uri::RSA_SHA256,
            SignatureAlgorithm::RsaSha384 => uri::RSA_SHA384,
            SignatureAlgorithm::RsaSha512 => uri::RSA_SHA512,
            SignatureAlgorithm::RsaPssSha256 => uri::RSA_PSS_SHA256,
            SignatureAlgorithm::RsaPssSha384 => uri::RSA_PSS_SHA384,
            SignatureAlgorithm::RsaPssSha512 => uri::RSA_PSS_SHA512,
            SignatureAlgorithm::EcdsaSha256 => uri::ECDSA_SHA256,
            SignatureAlgorithm::EcdsaSha384 => uri::ECDSA_SHA384,
            SignatureAlgorithm::EcdsaSha512 => uri::ECDSA_SHA512,
        }
    }

    pub fn hash(self) -> HashFunction {
        match self {
            SignatureAlgorithm::RsaSha1 => HashFunction::Sha1,
            SignatureAlgorithm::RsaSha256
            | SignatureAlgorithm::RsaPssSha256
            | SignatureAlgorithm::EcdsaSha256 => HashFunction::Sha256,
            SignatureAlgorithm::RsaSha384
            | SignatureAlgorithm::RsaPssSha384
            | SignatureAlgorithm::EcdsaSha384 => HashFunction::Sha384,
            SignatureAlgorithm::RsaSha512
            | SignatureAlgorithm::RsaPssSha512
            | SignatureAlgorithm::EcdsaSha512 => HashFunction::Sha512,
        }
    }

    pub fn scheme(self) -> SignatureScheme {
        match self {
            SignatureAlgorithm::RsaSha1
            | SignatureAlgorithm::RsaSha256
            | SignatureAlgorithm::RsaSha384
            | SignatureAlgorithm::RsaSha512 => SignatureScheme::RsaPkcs1,
            SignatureAlgorithm::RsaPssSha256
            | SignatureAlgorithm::RsaPssSha384
            | SignatureAlgorithm::RsaPssSha512 => SignatureScheme::RsaPss,
            SignatureAlgorithm::EcdsaSha256
            | SignatureAlgorithm::EcdsaSha384
            | SignatureAlgorithm::EcdsaSha512 => SignatureScheme::Ecdsa,
        }
    }

    /// A short name for logs ("RSA-SHA256", "RSA-PSS-SHA384", "ECDSA-SHA512").
    pub fn name(self) -> &'static str {
        match self {
            SignatureAlgorithm::RsaSha1 => "RSA-SHA1",
            SignatureAlgorithm::RsaSha256 => "RSA-SHA256",
            SignatureAlgorithm::RsaSha384 => "RSA-SHA384",
            SignatureAlgorithm::RsaSha512 => "RSA-SHA512",
            SignatureAlgorithm::RsaPssSha256 => "RSA-PSS-SHA256",
            SignatureAlgorithm::RsaPssSha384 => "RSA-PSS-SHA384",
            SignatureAlgorithm::RsaPssSha512 => "RSA-PSS-SHA512",
            SignatureAlgorithm::EcdsaSha256 => "ECDSA-SHA256",
            SignatureAlgorithm::EcdsaSha384 => "ECDSA-SHA384",
            SignatureAlgorithm::EcdsaSha512 => "ECDSA-SHA512",
        }
    }
}

impl std::fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A `DigestMethod` on the allow-list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    pub const ALL: [DigestAlgorithm; 4] = [
        DigestAlgorithm::Sha1,
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha384,
        DigestAlgorithm::Sha512,
    ];

    /// Look up a `DigestMethod Algorithm` URI.
    pub fn from_uri(uri: &str, allow_sha1: bool) -> Result<Self, AlgorithmError> {
        let role = AlgorithmRole::Digest;
        match Self::ALL.into_iter().find(|a| a.uri() == uri) {
            Some(DigestAlgorithm::Sha1) if !allow_sha1 => Err(AlgorithmError::Sha1NotAllowed {
                role,
                uri: uri.to_string(),
            }),
            Some(a) => Ok(a),
            None if is_hmac(uri) => Err(AlgorithmError::Hmac {
                role,
                uri: uri.to_string(),
            }),
            None => Err(AlgorithmError::Unknown {
                role,
                uri: uri.to_string(),
            }),
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha1 => uri::SHA1,
            DigestAlgorithm::Sha256 => uri::SHA256,
            DigestAlgorithm::Sha384 => uri::SHA384,
            DigestAlgorithm::Sha512 => uri::SHA512,
        }
    }

    pub fn hash(self) -> HashFunction {
        match self {
            DigestAlgorithm::Sha1 => HashFunction::Sha1,
            DigestAlgorithm::Sha256 => HashFunction::Sha256,
            DigestAlgorithm::Sha384 => HashFunction::Sha384,
            DigestAlgorithm::Sha512 => HashFunction::Sha512,
        }
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Result<Vec<u8>, openssl::error::ErrorStack> {
        self.hash().digest(data)
    }
}

impl std::fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.hash().name())
    }
}

/// HMAC URIs (`xmldsig#hmac-sha1`, `xmldsig-more#hmac-sha256`, `#hmac-md5`, ...) all name their
/// algorithm with an `hmac-` fragment; recognising the family, not a list, keeps a new variant
/// from slipping through as merely "unknown".
fn is_hmac(uri: &str) -> bool {
    uri.rsplit_once('#')
        .is_some_and(|(_, fragment)| fragment.to_ascii_lowercase().starts_with("hmac-"))
}

#[cfg(test)]
mod tests;
