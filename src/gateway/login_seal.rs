//! Sealing what the browser carries for us between the AuthnRequest and the Response (see
//! [`super::relay_state`]): AES-256-GCM, so the browser can neither read nor change it.
//!
//! The key is derived (HKDF-SHA256, a label of its own) from the SP private key. Every node of a
//! deployment already holds that key and must keep it secret (it signs AuthnRequests and
//! decrypts assertions), so nodes open each other's seals with no new setting to distribute, and
//! two deployments with different SP keys never open each other's. HKDF makes the derived key
//! independent of the key's other uses. On an SP key rollover the keys in `[sp] old_keys` still
//! open (a login started just before the switch completes after it); only the current key seals.
//!
//! Every seal draws a fresh random salt, from which a key of its own is derived, and a fresh
//! random GCM nonce. Random 96-bit nonces under one long-lived key would wear out after about
//! 2^32 seals, and here anyone decides how many seals happen (every anonymous request makes one):
//! with a key per seal, a repeated nonce under one key cannot happen in practice.
//!
//! Format, base64url without padding: version (1 byte) | salt (16) | nonce (12) | ciphertext | tag (16).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use openssl::md::Md;
use openssl::pkey::{Id, PKey, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};

const VERSION: u8 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + SALT_LEN + NONCE_LEN;
/// Longest sealed text [`LoginSeal::open`] looks at: more than any cookie a browser keeps.
pub const MAX_SEALED_LEN: usize = 8 * 1024;

/// Label of the deployment key derived from an SP private key.
const DEPLOYMENT_KEY_LABEL: &[u8] = b"samlgate login-state seal key v1";
/// Label of each seal's own key, derived from the deployment key and the seal's salt.
const SEAL_KEY_LABEL: &[u8] = b"samlgate login-state seal v1";

/// Why a seal could not be made or opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealed value is {0} characters, over the {MAX_SEALED_LEN} accepted")]
    TooLong(usize),
    #[error("sealed value is not base64url")]
    Encoding,
    #[error("sealed value is {0} bytes, too short to be one")]
    TooShort(usize),
    #[error("sealed value has format version {0}, this gateway writes version {VERSION}")]
    Version(u8),
    #[error(
        "sealed value does not open with any of this deployment's keys (changed, or sealed by another deployment or a key no longer configured)"
    )]
    Unopenable,
    #[error("cannot seal: {0}")]
    Crypto(String),
}

fn crypto(e: openssl::error::ErrorStack) -> SealError {
    SealError::Crypto(e.to_string())
}

/// HKDF-SHA256 (extract and expand) of `ikm` into 32 bytes.
fn hkdf(ikm: &[u8], salt: &[u8], info: &[u8]) -> Result<[u8; 32], SealError> {
    let mut ctx = PkeyCtx::new_id(Id::HKDF).map_err(crypto)?;
    ctx.derive_init().map_err(crypto)?;
    ctx.set_hkdf_md(Md::sha256()).map_err(crypto)?;
    ctx.set_hkdf_key(ikm).map_err(crypto)?;
    ctx.set_hkdf_salt(salt).map_err(crypto)?;
    ctx.add_hkdf_info(info).map_err(crypto)?;
    let mut out = [0u8; 32];
    let written = ctx.derive(Some(&mut out)).map_err(crypto)?;
    if written != out.len() {
        return Err(SealError::Crypto(format!(
            "HKDF gave {written} bytes, not 32"
        )));
    }
    Ok(out)
}

/// Seals and opens values under the deployment's keys.
pub struct LoginSeal {
    /// Derived from the current SP key (seals and opens), then from each old key (opens only).
    keys: Vec<[u8; 32]>,
    /// Authenticated with every seal: the format and the SP entity ID, so a value sealed for
    /// another SP under the same key does not open here either.
    context: Vec<u8>,
}

impl std::fmt::Debug for LoginSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginSeal")
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl LoginSeal {
    /// Keys derived from `current` (seals) and `old` (open too), for the SP `entity_id`.
    pub fn new(
        current: &PKey<Private>,
        old: &[&PKey<Private>],
        entity_id: &str,
    ) -> Result<Self, SealError> {
        let keys = std::iter::once(current)
            .chain(old.iter().copied())
            .map(|key| {
                let der = key.private_key_to_der().map_err(crypto)?;
                hkdf(&der, b"", DEPLOYMENT_KEY_LABEL)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut context = SEAL_KEY_LABEL.to_vec();
        context.push(0);
        context.extend_from_slice(entity_id.as_bytes());
        Ok(LoginSeal { keys, context })
    }

    /// `plaintext`, sealed under the current key, as base64url.
    pub fn seal(&self, plaintext: &[u8]) -> Result<String, SealError> {
        let Some(deployment_key) = self.keys.first() else {
            return Err(SealError::Crypto("no key".into()));
        };
        let mut header = [0u8; HEADER_LEN];
        header[0] = VERSION;
        openssl::rand::rand_bytes(&mut header[1..]).map_err(crypto)?;
        let (salt, nonce) = header[1..].split_at(SALT_LEN);
        let key = hkdf(deployment_key, salt, SEAL_KEY_LABEL)?;
        let mut tag = [0u8; TAG_LEN];
        let ciphertext = encrypt_aead(
            Cipher::aes_256_gcm(),
            &key,
            Some(nonce),
            &self.context,
            plaintext,
            &mut tag,
        )
        .map_err(crypto)?;
        let mut out = Vec::with_capacity(HEADER_LEN + ciphertext.len() + TAG_LEN);
        out.extend_from_slice(&header);
        out.extend_from_slice(&ciphertext);
        out.extend_from_slice(&tag);
        Ok(B64URL.encode(out))
    }

    /// The plaintext of `sealed`, if one of the keys sealed it and nothing changed since.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, SealError> {
        if sealed.len() > MAX_SEALED_LEN {
            return Err(SealError::TooLong(sealed.len()));
        }
        let bytes = B64URL
            .decode(sealed.as_bytes())
            .map_err(|_| SealError::Encoding)?;
        let Some((header, rest)) = bytes.split_first_chunk::<HEADER_LEN>() else {
            return Err(SealError::TooShort(bytes.len()));
        };
        let Some((ciphertext, tag)) = rest.split_last_chunk::<TAG_LEN>() else {
            return Err(SealError::TooShort(bytes.len()));
        };
        let (version, salt_and_nonce) = header.split_at(1);
        if version != [VERSION] {
            return Err(SealError::Version(version.first().copied().unwrap_or(0)));
        }
        let (salt, nonce) = salt_and_nonce.split_at(SALT_LEN);
        for deployment_key in &self.keys {
            let key = hkdf(deployment_key, salt, SEAL_KEY_LABEL)?;
            if let Ok(plaintext) = decrypt_aead(
                Cipher::aes_256_gcm(),
                &key,
                Some(nonce),
                &self.context,
                ciphertext,
                tag,
            ) {
                return Ok(plaintext);
            }
        }
        Err(SealError::Unopenable)
    }

    /// Length of the sealed text of a `plaintext_len`-byte plaintext (what a cookie will hold).
    pub fn sealed_len(plaintext_len: usize) -> usize {
        (HEADER_LEN + plaintext_len + TAG_LEN)
            .saturating_mul(4)
            .div_ceil(3)
    }
}

#[cfg(test)]
mod tests;
