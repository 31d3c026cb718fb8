//! XML Encryption for SAML: `EncryptedAssertion` / `EncryptedID` / `EncryptedAttribute` ->
//! the plaintext element's XML.
//!
//! The walk is read-only over the strict tree the Response was parsed into, and everything that
//! can be refused from the message alone (shape, algorithms, policy, references, sizes) is refused
//! before any RSA operation runs. Then every configured SP key is tried on every EncryptedKey that
//! applies, with no early exit, and one content decryption always follows, with a random key when
//! no unwrap succeeded (implicit rejection): a wrong key, a bad OAEP block and a bad ciphertext
//! take the same path, and whatever failed, the sender sees one outward kind
//! (`Rejection::Decryption` -> "decryption_failed"). The precise cause stays in [`DecryptionError`]'s
//! Display, for the log.
//!
//! The plaintext is returned as bytes; the caller parses it with the same strict parser and the
//! namespaces in scope at the encrypted element, and runs the same checks as on a plain Assertion.

use std::collections::HashSet;

use base64::Engine;
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;

use crate::crypto::enc_algorithms::{
    self, CipherError, ContentAlgorithm, KeyTransport, OaepHash, uri,
};
use crate::crypto::keys::DecryptionKey;
use crate::xml::{ElementRef, NodeId, NotTextOnly, ns};

use crate::xml::limits::MAX_OAEP_PARAMS_LEN;
pub use crate::xml::limits::{
    DEFAULT_MAX_CIPHER_VALUE_LEN, MAX_ENCRYPTED_KEYS, MAX_KEY_CIPHER_VALUE_LEN,
};

/// The SAML elements whose content is an `xenc:EncryptedData` (SAML core 2.2.4, 2.3.4, 2.7.3.2).
const ENCRYPTED_ELEMENTS: [&str; 3] = ["EncryptedAssertion", "EncryptedID", "EncryptedAttribute"];

/// What the decryptor accepts. Plain data, built per IdP from configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncryptionPolicy {
    /// AES-CBC content (Okta, ADFS). The caller must still require that a signature covers the
    /// Assertion when [`Decrypted::content_algorithm`] is not authenticated.
    pub allow_cbc: bool,
    /// 3DES-CBC content; off unless the admin opts in.
    pub allow_3des: bool,
    /// Cap on the base64 length of the EncryptedData CipherValue.
    pub max_cipher_value_len: usize,
}

impl Default for EncryptionPolicy {
    fn default() -> Self {
        EncryptionPolicy {
            allow_cbc: true,
            allow_3des: false,
            max_cipher_value_len: DEFAULT_MAX_CIPHER_VALUE_LEN,
        }
    }
}

/// A successful decryption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decrypted {
    /// The serialized plaintext element (an Assertion, NameID or Attribute), still untrusted.
    pub plaintext: Vec<u8>,
    /// The content cipher. When it is not authenticated (CBC), the plaintext is acceptable only
    /// if a signature covers it (docs/security.md, "Encryption"); see [`Decrypted::needs_covering_signature`].
    pub content_algorithm: ContentAlgorithm,
    /// Index into the `keys` slice of the SP key that unwrapped the content key (for rollover logs).
    pub key_used: usize,
}

impl Decrypted {
    /// True when the content cipher has no integrity of its own (CBC), so the Response or the
    /// decrypted Assertion must carry a verified signature.
    pub fn needs_covering_signature(&self) -> bool {
        !self.content_algorithm.is_authenticated()
    }
}

/// Why an encrypted element could not be decrypted. To the sender every variant looks the same
/// (`Rejection::kind` is "decryption_failed"); the log keeps the precise cause.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecryptionError {
    #[error("<{found}> is not a saml:EncryptedAssertion, EncryptedID or EncryptedAttribute")]
    NotAnEncryptedElement { found: String },
    #[error("<{container}> holds {count} xenc:EncryptedData elements, exactly one is required")]
    EncryptedDataCount { container: String, count: usize },
    #[error(
        "<{container}> holds <{child}>; only xenc:EncryptedData and xenc:EncryptedKey are allowed"
    )]
    UnexpectedChild { container: String, child: String },
    #[error("missing required {what}")]
    Missing { what: &'static str },
    #[error("{0}")]
    NotTextOnly(#[from] NotTextOnly),
    #[error("EncryptedData Type {0:?} is not supported; only {TYPE} (an encrypted element)", TYPE = uri::TYPE_ELEMENT)]
    UnsupportedDataType(String),
    #[error("content encryption algorithm {0} is not supported (AES-GCM, AES-CBC, 3DES by opt-in)")]
    UnsupportedContentAlgorithm(String),
    #[error(
        "content encryption {0} is refused: this IdP's policy does not allow CBC (allow_cbc = false)"
    )]
    CbcNotAllowed(ContentAlgorithm),
    #[error("content encryption 3DES ({TRIPLEDES}) is refused (allow_3des = false); configure the IdP to use AES-GCM", TRIPLEDES = uri::TRIPLEDES_CBC)]
    TripleDesNotAllowed,
    #[error("key transport rsa-1_5 ({RSA_1_5}) is refused before any RSA operation: RSA PKCS#1 v1.5 decryption is open to Bleichenbacher's padding-oracle attack; configure the IdP to use RSA-OAEP", RSA_1_5 = uri::RSA_1_5)]
    Rsa15Refused,
    #[error("key transport algorithm {0} is not supported (RSA-OAEP only)")]
    UnsupportedKeyTransport(String),
    #[error("RSA-OAEP digest {0} is not supported")]
    UnsupportedOaepDigest(String),
    #[error("RSA-OAEP mask generation function {0} is not supported")]
    UnsupportedMgf(String),
    #[error("{what} is {len} characters, over the limit of {limit}")]
    TooLarge {
        what: &'static str,
        len: usize,
        limit: usize,
    },
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is not valid base64: {message}")]
    Base64 { what: &'static str, message: String },
    #[error(
        "{what} uses xenc:CipherReference; ciphertext is accepted only inline in CipherValue, never fetched"
    )]
    CipherReference { what: &'static str },
    #[error(
        "ds:RetrievalMethod URI {uri:?} is not a same-document reference (#id); nothing is ever fetched"
    )]
    ExternalRetrievalMethod { uri: String },
    #[error("ds:RetrievalMethod Type {0:?} is not supported; only {TYPE}", TYPE = uri::TYPE_ENCRYPTED_KEY)]
    UnsupportedRetrievalType(String),
    #[error("ds:RetrievalMethod with ds:Transforms is refused")]
    RetrievalTransforms,
    #[error("ds:RetrievalMethod #{id} names no xenc:EncryptedKey inside <{container}>")]
    UnresolvedRetrievalMethod { id: String, container: String },
    #[error("Id {id:?} is used by more than one element inside <{container}>")]
    DuplicateId { id: String, container: String },
    #[error(
        "no xenc:EncryptedKey applies to the EncryptedData: none in its ds:KeyInfo, none beside it tied by RetrievalMethod, DataReference or KeyName"
    )]
    NoEncryptedKey,
    #[error("{count} EncryptedKey elements apply to the EncryptedData, over the limit of {limit}")]
    TooManyEncryptedKeys { count: usize, limit: usize },
    #[error(
        "the EncryptedData's ds:KeyInfo holds {count} RetrievalMethod and KeyName elements, over the limit of {limit}"
    )]
    TooManyKeyReferences { count: usize, limit: usize },
    #[error("no SP decryption key is configured")]
    NoDecryptionKeys,
    #[error(
        "no SP decryption key unwrapped the content key (tried {keys} key(s) on {encrypted_keys} EncryptedKey(s)); last cause: {last_cause}"
    )]
    KeyUnwrapFailed {
        keys: usize,
        encrypted_keys: usize,
        last_cause: String,
    },
    #[error("the content key unwrapped but the content did not decrypt: {0}")]
    Content(CipherError),
}

/// One EncryptedKey that applies to the EncryptedData, checked and decoded, ready for RSA.
struct WrappedKey {
    transport: KeyTransport,
    ciphertext: Vec<u8>,
}

/// Decrypts a `saml:EncryptedAssertion`, `saml:EncryptedID` or `saml:EncryptedAttribute`.
///
/// `keys` are the SP's private keys, current first (rollover); `Decrypted::key_used` says which
/// one worked. Pure: no I/O, no clock; the element's document is the only input besides the keys.
pub fn decrypt_element(
    encrypted: ElementRef<'_>,
    keys: &[DecryptionKey],
    policy: &EncryptionPolicy,
) -> Result<Decrypted, DecryptionError> {
    // 1. Everything decidable from the message and the policy, before any RSA operation.
    let data = encrypted_data(encrypted)?;
    let content_algorithm = content_algorithm(data, policy)?;
    let ciphertext = cipher_value(
        data,
        "EncryptedData CipherValue",
        policy.max_cipher_value_len,
    )?;
    let wrapped_keys = encrypted_keys_for(encrypted, data)?
        .into_iter()
        .map(|ek| {
            Ok(WrappedKey {
                transport: key_transport(ek)?,
                ciphertext: cipher_value(ek, "EncryptedKey CipherValue", MAX_KEY_CIPHER_VALUE_LEN)?,
            })
        })
        .collect::<Result<Vec<_>, DecryptionError>>()?;
    if keys.is_empty() {
        return Err(DecryptionError::NoDecryptionKeys);
    }

    // 2. Every SP key on every EncryptedKey, no early exit: the work done does not depend on
    //    which key (if any) fits.
    let mut content_keys: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut last_cause = String::new();
    for (index, key) in keys.iter().enumerate() {
        for wrapped in &wrapped_keys {
            match unwrap_content_key(key, wrapped) {
                Ok(content_key) if content_key.len() == content_algorithm.key_len() => {
                    content_keys.push((index, content_key));
                }
                Ok(content_key) => {
                    last_cause = format!(
                        "SP key {index} ({}) unwrapped a {}-byte key, {content_algorithm} needs {}",
                        key.description,
                        content_key.len(),
                        content_algorithm.key_len()
                    );
                }
                Err(cause) => last_cause = format!("SP key {index} ({}): {cause}", key.description),
            }
        }
    }

    // 3. Content decryption. With no unwrapped key, decrypt anyway under a random key (implicit
    //    rejection), so that a bad key and a bad ciphertext cost the same and fail the same way.
    if content_keys.is_empty() {
        let mut decoy = vec![0u8; content_algorithm.key_len()];
        // A failure of the RNG leaves the zero key, which serves the decoy just as well.
        let _ = openssl::rand::rand_bytes(&mut decoy);
        let _ = enc_algorithms::decrypt_content(content_algorithm, &decoy, &ciphertext);
        return Err(DecryptionError::KeyUnwrapFailed {
            keys: keys.len(),
            encrypted_keys: wrapped_keys.len(),
            last_cause,
        });
    }
    let mut failure = None;
    for (key_used, content_key) in content_keys {
        match enc_algorithms::decrypt_content(content_algorithm, &content_key, &ciphertext) {
            Ok(plaintext) => {
                return Ok(Decrypted {
                    plaintext,
                    content_algorithm,
                    key_used,
                });
            }
            Err(e) => failure = Some(e),
        }
    }
    Err(match failure {
        Some(e) => DecryptionError::Content(e),
        // Not reachable: the loop ran at least once. Kept total rather than panicking.
        None => DecryptionError::NoEncryptedKey,
    })
}

/// The one `xenc:EncryptedData` of a SAML encrypted element; other children must be EncryptedKeys.
fn encrypted_data(encrypted: ElementRef<'_>) -> Result<ElementRef<'_>, DecryptionError> {
    if encrypted.namespace() != Some(ns::SAML)
        || !ENCRYPTED_ELEMENTS.contains(&encrypted.local_name())
    {
        return Err(DecryptionError::NotAnEncryptedElement {
            found: encrypted.qualified_name(),
        });
    }
    let mut data = Vec::new();
    for child in encrypted.child_elements() {
        if child.is(ns::XENC, "EncryptedData") {
            data.push(child);
        } else if !child.is(ns::XENC, "EncryptedKey") {
            return Err(DecryptionError::UnexpectedChild {
                container: encrypted.qualified_name(),
                child: child.qualified_name(),
            });
        }
    }
    match data.as_slice() {
        [one] => Ok(*one),
        _ => Err(DecryptionError::EncryptedDataCount {
            container: encrypted.qualified_name(),
            count: data.len(),
        }),
    }
}

/// The content cipher, checked against the policy.
fn content_algorithm(
    data: ElementRef<'_>,
    policy: &EncryptionPolicy,
) -> Result<ContentAlgorithm, DecryptionError> {
    if let Some(data_type) = data.attr("Type")
        && data_type != uri::TYPE_ELEMENT
    {
        return Err(DecryptionError::UnsupportedDataType(data_type.to_string()));
    }
    let algorithm_uri = data
        .first_child_named(ns::XENC, "EncryptionMethod")
        .and_then(|m| m.attr("Algorithm"))
        .ok_or(DecryptionError::Missing {
            what: "EncryptedData/EncryptionMethod/@Algorithm",
        })?;
    let algorithm = ContentAlgorithm::from_uri(algorithm_uri)
        .ok_or_else(|| DecryptionError::UnsupportedContentAlgorithm(algorithm_uri.to_string()))?;
    // 3DES is CBC too: it needs its own opt-in and the CBC opt-in.
    match algorithm {
        ContentAlgorithm::TripleDesCbc if !policy.allow_3des => {
            Err(DecryptionError::TripleDesNotAllowed)
        }
        _ if algorithm.is_cbc() && !policy.allow_cbc => {
            Err(DecryptionError::CbcNotAllowed(algorithm))
        }
        _ => Ok(algorithm),
    }
}

/// The key transport of an EncryptedKey, with its OAEP parameters. RSA1_5 is refused here,
/// before any key is touched.
fn key_transport(encrypted_key: ElementRef<'_>) -> Result<KeyTransport, DecryptionError> {
    let method = encrypted_key
        .first_child_named(ns::XENC, "EncryptionMethod")
        .ok_or(DecryptionError::Missing {
            what: "EncryptedKey/EncryptionMethod",
        })?;
    let algorithm = method.attr("Algorithm").ok_or(DecryptionError::Missing {
        what: "EncryptedKey/EncryptionMethod/@Algorithm",
    })?;
    match algorithm {
        uri::RSA_1_5 => return Err(DecryptionError::Rsa15Refused),
        uri::RSA_OAEP_MGF1P | uri::RSA_OAEP => {}
        other => return Err(DecryptionError::UnsupportedKeyTransport(other.to_string())),
    }
    let digest = match method.first_child_named(ns::DS, "DigestMethod") {
        None => OaepHash::Sha1,
        Some(d) => {
            let digest_uri = d.attr("Algorithm").ok_or(DecryptionError::Missing {
                what: "EncryptionMethod/DigestMethod/@Algorithm",
            })?;
            OaepHash::from_digest_uri(digest_uri)
                .ok_or_else(|| DecryptionError::UnsupportedOaepDigest(digest_uri.to_string()))?
        }
    };
    let label = match method.first_child_named(ns::XENC, "OAEPparams") {
        None => Vec::new(),
        Some(p) => decode_base64(&p.text()?, "xenc:OAEPparams", MAX_OAEP_PARAMS_LEN, true)?,
    };
    if algorithm == uri::RSA_OAEP_MGF1P {
        return Ok(KeyTransport::RsaOaepMgf1p { digest, label });
    }
    let mgf = match method.first_child_named(ns::XENC11, "MGF") {
        None => OaepHash::Sha1,
        Some(m) => {
            let mgf_uri = m.attr("Algorithm").ok_or(DecryptionError::Missing {
                what: "EncryptionMethod/MGF/@Algorithm",
            })?;
            OaepHash::from_mgf_uri(mgf_uri)
                .ok_or_else(|| DecryptionError::UnsupportedMgf(mgf_uri.to_string()))?
        }
    };
    Ok(KeyTransport::RsaOaep { digest, mgf, label })
}

/// The EncryptedKeys that apply to `data`, in this order: those in its `ds:KeyInfo` (inline or by
/// `ds:RetrievalMethod`), then those beside it in the container tied to it by
/// `xenc:ReferenceList/xenc:DataReference` or by `CarriedKeyName` = `ds:KeyName`. When the
/// EncryptedData has no KeyInfo at all, a sibling EncryptedKey without a ReferenceList applies too
/// (SAML core 6.2 lets the key sit beside the data). References never leave the container.
fn encrypted_keys_for<'a>(
    container: ElementRef<'a>,
    data: ElementRef<'a>,
) -> Result<Vec<ElementRef<'a>>, DecryptionError> {
    let mut found: Vec<ElementRef<'a>> = Vec::new();
    let key_info = data.first_child_named(ns::DS, "KeyInfo");
    let mut key_names = Vec::new();
    if let Some(key_info) = key_info {
        // Counted before any is resolved: each RetrievalMethod searches the container, and
        // each KeyName is compared with every EncryptedKey beside the data. (Inline
        // EncryptedKeys cost nothing until the cap on keys to try.)
        let count = key_info
            .child_elements()
            .filter(|c| c.is(ns::DS, "RetrievalMethod") || c.is(ns::DS, "KeyName"))
            .count();
        if count > MAX_ENCRYPTED_KEYS {
            return Err(DecryptionError::TooManyKeyReferences {
                count,
                limit: MAX_ENCRYPTED_KEYS,
            });
        }
        for child in key_info.child_elements() {
            if child.is(ns::XENC, "EncryptedKey") {
                found.push(child);
            } else if child.is(ns::DS, "RetrievalMethod") {
                found.push(retrieve(container, child)?);
            } else if child.is(ns::DS, "KeyName") {
                key_names.push(child.text()?.trim().to_string());
            }
        }
    }
    let data_id = data.attr("Id");
    for sibling in container.children_named(ns::XENC, "EncryptedKey") {
        let reference_list = sibling.first_child_named(ns::XENC, "ReferenceList");
        let by_reference = match (reference_list, data_id) {
            (Some(list), Some(id)) => list
                .children_named(ns::XENC, "DataReference")
                .any(|r| r.attr("URI").and_then(|u| u.strip_prefix('#')) == Some(id)),
            _ => false,
        };
        let by_name = match sibling.first_child_named(ns::XENC, "CarriedKeyName") {
            Some(carried) => {
                let name = carried.text()?;
                key_names.iter().any(|k| k == name.trim())
            }
            None => false,
        };
        let unlinked = key_info.is_none() && reference_list.is_none();
        if by_reference || by_name || unlinked {
            found.push(sibling);
        }
    }
    // One key may be reached several ways (RetrievalMethod and DataReference); a set keeps
    // the first of each, in linear time however many siblings there are.
    let mut seen: HashSet<NodeId> = HashSet::with_capacity(found.len());
    found.retain(|ek| seen.insert(ek.id()));
    if found.is_empty() {
        return Err(DecryptionError::NoEncryptedKey);
    }
    if found.len() > MAX_ENCRYPTED_KEYS {
        return Err(DecryptionError::TooManyEncryptedKeys {
            count: found.len(),
            limit: MAX_ENCRYPTED_KEYS,
        });
    }
    Ok(found)
}

/// Resolves a `ds:RetrievalMethod` to the EncryptedKey it names inside the container.
/// Same-document only: a URI that does not start with '#' is refused, never fetched.
fn retrieve<'a>(
    container: ElementRef<'a>,
    method: ElementRef<'a>,
) -> Result<ElementRef<'a>, DecryptionError> {
    let target = method.attr("URI").ok_or(DecryptionError::Missing {
        what: "ds:RetrievalMethod/@URI",
    })?;
    let id = target
        .strip_prefix('#')
        .ok_or_else(|| DecryptionError::ExternalRetrievalMethod {
            uri: target.to_string(),
        })?;
    if let Some(kind) = method.attr("Type")
        && kind != uri::TYPE_ENCRYPTED_KEY
    {
        return Err(DecryptionError::UnsupportedRetrievalType(kind.to_string()));
    }
    if method.first_child_named(ns::DS, "Transforms").is_some() {
        return Err(DecryptionError::RetrievalTransforms);
    }
    let mut matches = container
        .descendants_and_self()
        .filter(|e| e.attr("Id") == Some(id));
    let first = matches.next();
    if matches.next().is_some() {
        return Err(DecryptionError::DuplicateId {
            id: id.to_string(),
            container: container.qualified_name(),
        });
    }
    first
        .filter(|e| e.is(ns::XENC, "EncryptedKey"))
        .ok_or_else(|| DecryptionError::UnresolvedRetrievalMethod {
            id: id.to_string(),
            container: container.qualified_name(),
        })
}

/// The bytes of `CipherData/CipherValue`, capped before decoding. `CipherReference` is refused.
fn cipher_value(
    element: ElementRef<'_>,
    what: &'static str,
    limit: usize,
) -> Result<Vec<u8>, DecryptionError> {
    let cipher_data = element
        .first_child_named(ns::XENC, "CipherData")
        .ok_or(DecryptionError::Missing { what })?;
    if cipher_data
        .first_child_named(ns::XENC, "CipherReference")
        .is_some()
    {
        return Err(DecryptionError::CipherReference { what });
    }
    let value = cipher_data
        .first_child_named(ns::XENC, "CipherValue")
        .ok_or(DecryptionError::Missing { what })?;
    decode_base64(&value.text()?, what, limit, false)
}

/// Base64 with whitespace (line breaks from Java and .NET encoders) ignored, length-capped first.
fn decode_base64(
    text: &str,
    what: &'static str,
    limit: usize,
    allow_empty: bool,
) -> Result<Vec<u8>, DecryptionError> {
    if text.len() > limit {
        return Err(DecryptionError::TooLarge {
            what,
            len: text.len(),
            limit,
        });
    }
    let cleaned: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if cleaned.is_empty() && !allow_empty {
        return Err(DecryptionError::Empty { what });
    }
    base64::engine::general_purpose::STANDARD
        .decode(&cleaned)
        .map_err(|e| DecryptionError::Base64 {
            what,
            message: e.to_string(),
        })
}

/// One RSA-OAEP private-key operation. The error text is for the log only.
fn unwrap_content_key(key: &DecryptionKey, wrapped: &WrappedKey) -> Result<Vec<u8>, String> {
    let Some((digest, mgf, label)) = wrapped.transport.oaep_parameters() else {
        // Refused earlier by `key_transport`; kept total.
        return Err(DecryptionError::Rsa15Refused.to_string());
    };
    let run = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let mut ctx = PkeyCtx::new(&key.key)?;
        ctx.decrypt_init()?;
        ctx.set_rsa_padding(Padding::PKCS1_OAEP)?;
        ctx.set_rsa_oaep_md(digest.md())?;
        ctx.set_rsa_mgf1_md(mgf.md())?;
        if !label.is_empty() {
            ctx.set_rsa_oaep_label(label)?;
        }
        let mut out = Vec::new();
        ctx.decrypt_to_vec(&wrapped.ciphertext, &mut out)?;
        Ok(out)
    };
    run().map_err(|e| {
        format!(
            "RSA-OAEP ({} digest {digest:?}, MGF1 {mgf:?}) failed: {e}",
            wrapped.transport.uri()
        )
    })
}
