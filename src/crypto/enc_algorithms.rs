//! XML Encryption algorithms (docs/security.md, "Encryption"): their URIs and the raw ciphers.
//!
//! Shared by the decryptor (which maps a message's `EncryptionMethod` onto these types before any
//! cryptography runs) and the encryptor used by tests and the development IdP. The list is closed:
//! RSA-OAEP key transport in its two spellings, AES-GCM and AES-CBC content, and 3DES content
//! behind a policy flag. RSA PKCS#1 v1.5 key transport exists here only so that it can be named
//! in a refusal (and produced by the test encryptor).

use openssl::md::{Md, MdRef};
use openssl::symm::{Cipher, Crypter, Mode};

/// Algorithm URIs of XML Encryption 1.0 and 1.1.
pub mod uri {
    pub const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
    pub const AES192_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes192-gcm";
    pub const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
    pub const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
    pub const AES192_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes192-cbc";
    pub const AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
    pub const TRIPLEDES_CBC: &str = "http://www.w3.org/2001/04/xmlenc#tripledes-cbc";

    pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
    pub const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
    pub const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";

    pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
    pub const SHA224: &str = "http://www.w3.org/2001/04/xmldsig-more#sha224";
    pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
    pub const SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
    pub const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";

    pub const MGF1_SHA1: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha1";
    pub const MGF1_SHA224: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha224";
    pub const MGF1_SHA256: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha256";
    pub const MGF1_SHA384: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha384";
    pub const MGF1_SHA512: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha512";

    /// `EncryptedData/@Type` for an encrypted element (the only type SAML uses).
    pub const TYPE_ELEMENT: &str = "http://www.w3.org/2001/04/xmlenc#Element";
    /// `ds:RetrievalMethod/@Type` pointing at an EncryptedKey.
    pub const TYPE_ENCRYPTED_KEY: &str = "http://www.w3.org/2001/04/xmlenc#EncryptedKey";
}

/// The cipher that encrypted the content (`EncryptedData/EncryptionMethod`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContentAlgorithm {
    Aes128Gcm,
    Aes192Gcm,
    Aes256Gcm,
    Aes128Cbc,
    Aes192Cbc,
    Aes256Cbc,
    TripleDesCbc,
}

/// Length of the GCM authentication tag XML Encryption 1.1 appends to the ciphertext.
pub const GCM_TAG_LEN: usize = 16;

impl ContentAlgorithm {
    pub const ALL: [ContentAlgorithm; 7] = [
        ContentAlgorithm::Aes128Gcm,
        ContentAlgorithm::Aes192Gcm,
        ContentAlgorithm::Aes256Gcm,
        ContentAlgorithm::Aes128Cbc,
        ContentAlgorithm::Aes192Cbc,
        ContentAlgorithm::Aes256Cbc,
        ContentAlgorithm::TripleDesCbc,
    ];

    pub fn from_uri(uri: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.uri() == uri)
    }

    pub fn uri(self) -> &'static str {
        match self {
            ContentAlgorithm::Aes128Gcm => uri::AES128_GCM,
            ContentAlgorithm::Aes192Gcm => uri::AES192_GCM,
            ContentAlgorithm::Aes256Gcm => uri::AES256_GCM,
            ContentAlgorithm::Aes128Cbc => uri::AES128_CBC,
            ContentAlgorithm::Aes192Cbc => uri::AES192_CBC,
            ContentAlgorithm::Aes256Cbc => uri::AES256_CBC,
            ContentAlgorithm::TripleDesCbc => uri::TRIPLEDES_CBC,
        }
    }

    /// The content key length in bytes; an unwrapped key of any other length is refused.
    pub fn key_len(self) -> usize {
        match self {
            ContentAlgorithm::Aes128Gcm | ContentAlgorithm::Aes128Cbc => 16,
            ContentAlgorithm::Aes192Gcm | ContentAlgorithm::Aes192Cbc => 24,
            ContentAlgorithm::Aes256Gcm | ContentAlgorithm::Aes256Cbc => 32,
            ContentAlgorithm::TripleDesCbc => 24,
        }
    }

    /// The IV length, which XML Encryption prefixes to the ciphertext.
    pub fn iv_len(self) -> usize {
        match self {
            ContentAlgorithm::Aes128Gcm
            | ContentAlgorithm::Aes192Gcm
            | ContentAlgorithm::Aes256Gcm => 12,
            ContentAlgorithm::Aes128Cbc
            | ContentAlgorithm::Aes192Cbc
            | ContentAlgorithm::Aes256Cbc => 16,
            ContentAlgorithm::TripleDesCbc => 8,
        }
    }

    /// True for GCM: the ciphertext carries its own integrity check. CBC content can be altered
    /// undetected (and probed as a padding oracle), so the pipeline accepts it only when a
    /// signature covers the Assertion.
    pub fn is_authenticated(self) -> bool {
        matches!(
            self,
            ContentAlgorithm::Aes128Gcm | ContentAlgorithm::Aes192Gcm | ContentAlgorithm::Aes256Gcm
        )
    }

    /// True for the CBC modes (AES and 3DES).
    pub fn is_cbc(self) -> bool {
        !self.is_authenticated()
    }

    fn cipher(self) -> Cipher {
        match self {
            ContentAlgorithm::Aes128Gcm => Cipher::aes_128_gcm(),
            ContentAlgorithm::Aes192Gcm => Cipher::aes_192_gcm(),
            ContentAlgorithm::Aes256Gcm => Cipher::aes_256_gcm(),
            ContentAlgorithm::Aes128Cbc => Cipher::aes_128_cbc(),
            ContentAlgorithm::Aes192Cbc => Cipher::aes_192_cbc(),
            ContentAlgorithm::Aes256Cbc => Cipher::aes_256_cbc(),
            ContentAlgorithm::TripleDesCbc => Cipher::des_ede3_cbc(),
        }
    }

    /// The CBC block size (the IV length for CBC modes).
    fn block_len(self) -> usize {
        self.cipher().block_size()
    }
}

impl std::fmt::Display for ContentAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.uri())
    }
}

/// A hash used inside RSA-OAEP (the OAEP digest or the MGF1 digest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OaepHash {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl OaepHash {
    const ALL: [OaepHash; 5] = [
        OaepHash::Sha1,
        OaepHash::Sha224,
        OaepHash::Sha256,
        OaepHash::Sha384,
        OaepHash::Sha512,
    ];

    /// From a `ds:DigestMethod/@Algorithm`.
    pub fn from_digest_uri(uri: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.digest_uri() == uri)
    }

    /// From an `xenc11:MGF/@Algorithm`.
    pub fn from_mgf_uri(uri: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.mgf_uri() == uri)
    }

    pub fn digest_uri(self) -> &'static str {
        match self {
            OaepHash::Sha1 => uri::SHA1,
            OaepHash::Sha224 => uri::SHA224,
            OaepHash::Sha256 => uri::SHA256,
            OaepHash::Sha384 => uri::SHA384,
            OaepHash::Sha512 => uri::SHA512,
        }
    }

    pub fn mgf_uri(self) -> &'static str {
        match self {
            OaepHash::Sha1 => uri::MGF1_SHA1,
            OaepHash::Sha224 => uri::MGF1_SHA224,
            OaepHash::Sha256 => uri::MGF1_SHA256,
            OaepHash::Sha384 => uri::MGF1_SHA384,
            OaepHash::Sha512 => uri::MGF1_SHA512,
        }
    }

    pub(crate) fn md(self) -> &'static MdRef {
        match self {
            OaepHash::Sha1 => Md::sha1(),
            OaepHash::Sha224 => Md::sha224(),
            OaepHash::Sha256 => Md::sha256(),
            OaepHash::Sha384 => Md::sha384(),
            OaepHash::Sha512 => Md::sha512(),
        }
    }
}

/// How the content key is carried (`EncryptedKey/EncryptionMethod`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyTransport {
    /// `xmlenc#rsa-oaep-mgf1p`: MGF1 is always SHA-1; the OAEP digest defaults to SHA-1 and may
    /// be set by a `ds:DigestMethod` child.
    RsaOaepMgf1p { digest: OaepHash, label: Vec<u8> },
    /// `xmlenc11#rsa-oaep`: both the OAEP digest and the MGF1 digest are parameters
    /// (each SHA-1 when absent).
    RsaOaep {
        digest: OaepHash,
        mgf: OaepHash,
        label: Vec<u8>,
    },
    /// `xmlenc#rsa-1_5`: never decrypted (Bleichenbacher's padding oracle); the encryptor can
    /// produce it so that the refusal can be tested.
    Rsa15,
}

impl KeyTransport {
    pub fn uri(&self) -> &'static str {
        match self {
            KeyTransport::RsaOaepMgf1p { .. } => uri::RSA_OAEP_MGF1P,
            KeyTransport::RsaOaep { .. } => uri::RSA_OAEP,
            KeyTransport::Rsa15 => uri::RSA_1_5,
        }
    }

    /// The OAEP parameters (digest, MGF1 digest, label), or `None` for RSA PKCS#1 v1.5.
    pub fn oaep_parameters(&self) -> Option<(OaepHash, OaepHash, &[u8])> {
        match self {
            KeyTransport::RsaOaepMgf1p { digest, label } => Some((*digest, OaepHash::Sha1, label)),
            KeyTransport::RsaOaep { digest, mgf, label } => Some((*digest, *mgf, label)),
            KeyTransport::Rsa15 => None,
        }
    }
}

/// Why a raw content cipher operation failed. Kept coarse on purpose: the decryptor turns all of
/// these into one outward rejection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error("ciphertext is {len} bytes, shorter than the {min} bytes that {algorithm} needs (IV{})", if algorithm.is_authenticated() { " + tag" } else { " + one block" })]
    TooShort {
        algorithm: ContentAlgorithm,
        len: usize,
        min: usize,
    },
    #[error("{algorithm} ciphertext body is {len} bytes, not a multiple of the {block}-byte block")]
    NotBlockAligned {
        algorithm: ContentAlgorithm,
        len: usize,
        block: usize,
    },
    #[error("content key is {found} bytes, {algorithm} needs {expected}")]
    KeyLength {
        algorithm: ContentAlgorithm,
        expected: usize,
        found: usize,
    },
    #[error("{algorithm} authentication tag does not match (ciphertext or key is wrong)")]
    TagMismatch { algorithm: ContentAlgorithm },
    #[error("{algorithm} padding length byte {pad} is outside 1..={block}")]
    BadPadding {
        algorithm: ContentAlgorithm,
        pad: u8,
        block: usize,
    },
    #[error("{algorithm} cipher failed: {message}")]
    Cipher {
        algorithm: ContentAlgorithm,
        message: String,
    },
}

/// Decrypts `IV || ciphertext [|| tag]` as XML Encryption lays it out.
///
/// CBC padding follows XML Encryption, not PKCS#7: only the last byte (the pad length, 1..=block)
/// is defined and the other pad bytes are arbitrary, so the cipher runs with padding disabled and
/// the pad is stripped here (Java and .NET IdPs fill the pad with random bytes).
pub fn decrypt_content(
    algorithm: ContentAlgorithm,
    key: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, CipherError> {
    check_key_len(algorithm, key)?;
    let iv_len = algorithm.iv_len();
    if algorithm.is_authenticated() {
        let min = iv_len + GCM_TAG_LEN;
        if data.len() < min {
            return Err(CipherError::TooShort {
                algorithm,
                len: data.len(),
                min,
            });
        }
        let (iv, rest) = data.split_at(iv_len);
        let (body, tag) = rest.split_at(rest.len() - GCM_TAG_LEN);
        openssl::symm::decrypt_aead(algorithm.cipher(), key, Some(iv), &[], body, tag)
            .map_err(|_| CipherError::TagMismatch { algorithm })
    } else {
        let block = algorithm.block_len();
        let min = iv_len + block;
        if data.len() < min {
            return Err(CipherError::TooShort {
                algorithm,
                len: data.len(),
                min,
            });
        }
        let (iv, body) = data.split_at(iv_len);
        if body.len() % block != 0 {
            return Err(CipherError::NotBlockAligned {
                algorithm,
                len: body.len(),
                block,
            });
        }
        let mut plain = run_cbc(algorithm, Mode::Decrypt, key, iv, body)?;
        let pad = plain.last().copied().unwrap_or(0);
        if pad == 0 || usize::from(pad) > block {
            return Err(CipherError::BadPadding {
                algorithm,
                pad,
                block,
            });
        }
        // The body is at least one block long, so `plain.len() >= block >= pad`.
        plain.truncate(plain.len().saturating_sub(usize::from(pad)));
        Ok(plain)
    }
}

/// Encrypts `plaintext` and returns `IV || ciphertext [|| tag]`, with a fresh random IV and, for
/// CBC, XML Encryption padding with random filler bytes.
pub fn encrypt_content(
    algorithm: ContentAlgorithm,
    key: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CipherError> {
    check_key_len(algorithm, key)?;
    let cipher_err = |e: openssl::error::ErrorStack| CipherError::Cipher {
        algorithm,
        message: e.to_string(),
    };
    let mut iv = vec![0u8; algorithm.iv_len()];
    openssl::rand::rand_bytes(&mut iv).map_err(cipher_err)?;
    let mut out = iv.clone();
    if algorithm.is_authenticated() {
        let mut tag = [0u8; GCM_TAG_LEN];
        let body = openssl::symm::encrypt_aead(
            algorithm.cipher(),
            key,
            Some(&iv),
            &[],
            plaintext,
            &mut tag,
        )
        .map_err(cipher_err)?;
        out.extend_from_slice(&body);
        out.extend_from_slice(&tag);
    } else {
        let block = algorithm.block_len();
        let pad = block - plaintext.len() % block; // 1..=block
        let mut padded = plaintext.to_vec();
        let mut filler = vec![0u8; pad - 1];
        openssl::rand::rand_bytes(&mut filler).map_err(cipher_err)?;
        padded.extend_from_slice(&filler);
        // infallible: pad <= block <= 16, so it fits in a byte.
        padded.push(u8::try_from(pad).unwrap_or(u8::MAX));
        out.extend_from_slice(&run_cbc(algorithm, Mode::Encrypt, key, &iv, &padded)?);
    }
    Ok(out)
}

fn check_key_len(algorithm: ContentAlgorithm, key: &[u8]) -> Result<(), CipherError> {
    if key.len() == algorithm.key_len() {
        Ok(())
    } else {
        Err(CipherError::KeyLength {
            algorithm,
            expected: algorithm.key_len(),
            found: key.len(),
        })
    }
}

/// One CBC pass with OpenSSL's own padding disabled (the caller handles XML Encryption padding).
fn run_cbc(
    algorithm: ContentAlgorithm,
    mode: Mode,
    key: &[u8],
    iv: &[u8],
    input: &[u8],
) -> Result<Vec<u8>, CipherError> {
    let cipher_err = |e: openssl::error::ErrorStack| CipherError::Cipher {
        algorithm,
        message: e.to_string(),
    };
    let cipher = algorithm.cipher();
    let mut crypter = Crypter::new(cipher, mode, key, Some(iv)).map_err(cipher_err)?;
    crypter.pad(false);
    let mut out = vec![0u8; input.len() + cipher.block_size()];
    let mut n = crypter.update(input, &mut out).map_err(cipher_err)?;
    n += crypter
        .finalize(out.get_mut(n..).unwrap_or_default())
        .map_err(cipher_err)?;
    out.truncate(n);
    Ok(out)
}

#[cfg(test)]
mod tests;
