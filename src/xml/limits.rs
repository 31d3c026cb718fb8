//! Every cap on an untrusted SAML message, in one place.
//!
//! An attacker may POST any bytes to the ACS, and all of the work below happens before a
//! signature can be trusted. Each cap keeps one step of parsing, canonicalization, signature
//! checking or decryption linear in the size of the message, so that the largest body the
//! gateway accepts is answered in milliseconds. Each value fits every real SAML message and IdP
//! metadata file with room to spare, and says why; going over a cap is a typed rejection that
//! names the count and the cap.

// ---- the HTTP-POST binding -------------------------------------------------------------------

/// Largest accepted `SAMLResponse` form value (base64). A Response with 500 groups and an
/// encrypted assertion is well under this; the gateway's `server.max_acs_body` usually bites
/// first.
pub const MAX_RESPONSE_BASE64_BYTES: usize = 1024 * 1024;

// ---- parsing (the defaults of ParseLimits) ---------------------------------------------------

/// Largest XML message: the decoded form of [`MAX_RESPONSE_BASE64_BYTES`].
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Deepest element nesting. A SAML Response nests about ten deep (Response, Assertion,
/// AttributeStatement, Attribute, AttributeValue and a few levels of vendor content); the cap
/// also bounds the recursion of canonicalization.
pub const MAX_DEPTH: usize = 48;

/// Most nodes (elements and text). A Response with 500 group values has about 2,000.
pub const MAX_NODES: usize = 50_000;

/// Most attributes on one element, namespace declarations included. SAML elements carry fewer
/// than ten; the cap bounds the per-element work of sorting attributes (for duplicates and for
/// the canonical order).
pub const MAX_ATTRIBUTES_PER_ELEMENT: usize = 64;

/// Longest element or attribute name, prefix included.
pub const MAX_NAME_LEN: usize = 256;

/// Most namespace declarations in scope at any element (on it and on its ancestors, plus those
/// a decrypted fragment inherits). Real messages and federation metadata have a few dozen.
/// Every prefix lookup, in the parser and in canonicalization, scans the declarations in
/// scope: this cap is what keeps that scan short whatever the attacker nests.
pub const MAX_NAMESPACES_IN_SCOPE: usize = 128;

/// Caps applied while parsing. The defaults fit any real SAML message or IdP metadata file;
/// aggregate metadata (federations) needs larger `max_bytes` and `max_nodes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseLimits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_nodes: usize,
    pub max_attributes_per_element: usize,
    pub max_name_len: usize,
    pub max_namespaces_in_scope: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bytes: MAX_MESSAGE_BYTES,
            max_depth: MAX_DEPTH,
            max_nodes: MAX_NODES,
            max_attributes_per_element: MAX_ATTRIBUTES_PER_ELEMENT,
            max_name_len: MAX_NAME_LEN,
            max_namespaces_in_scope: MAX_NAMESPACES_IN_SCOPE,
        }
    }
}

impl ParseLimits {
    /// Limits for IdP metadata files, which may be federation aggregates (files the admin
    /// configures, not request bodies).
    pub fn metadata() -> Self {
        ParseLimits {
            max_bytes: 64 * 1024 * 1024,
            max_nodes: 5_000_000,
            ..ParseLimits::default()
        }
    }
}

// ---- exclusive canonicalization and XML-DSig ---------------------------------------------------

/// Most tokens in an `InclusiveNamespaces PrefixList`. IdPs list the few prefixes used in
/// attribute content (`xs`, `xsi`, sometimes `#default` and the SAML ones): a handful. Each
/// listed prefix is a candidate declaration on the signed element: a long list is only ever
/// work for nothing.
pub const MAX_INCLUSIVE_PREFIXES: usize = 32;

/// The canonical form of a signed element may be at most this many times the size of the
/// whole message, plus [`C14N_GROWTH_ALLOWANCE`]. Canonicalization grows a message by escaping
/// (at most six bytes for one: `"` becomes `&quot;`) and by repeating namespace declarations
/// on the elements that use them; an attacker who declares a long URI once and uses it on
/// thousands of siblings would otherwise make a 200 KB message hash gigabytes.
pub const C14N_MAX_GROWTH: usize = 8;

/// Added to the canonical-form cap so that a small fragment (a decrypted Assertion) may still
/// carry the declarations it inherits.
pub const C14N_GROWTH_ALLOWANCE: usize = 64 * 1024;

/// Longest `ds:SignatureValue` text, whitespace included: an RSA-16384 signature is 2,732
/// base64 characters, wrapped at 64 columns with CRLF about 2,820.
pub const MAX_SIGNATURE_VALUE_LEN: usize = 4096;

/// Longest `ds:DigestValue` text, whitespace included: a SHA-512 digest is 88 characters.
pub const MAX_DIGEST_VALUE_LEN: usize = 256;

// ---- XML-Enc ---------------------------------------------------------------------------------

/// Default cap on the base64 length of the EncryptedData CipherValue (the encrypted Assertion).
pub const DEFAULT_MAX_CIPHER_VALUE_LEN: usize = 1024 * 1024;

/// Cap on an EncryptedKey's CipherValue: an RSA-16384 block is 2,732 base64 characters.
pub const MAX_KEY_CIPHER_VALUE_LEN: usize = 4096;

/// Cap on the EncryptedKeys tried for one EncryptedData, and on the RetrievalMethod and KeyName
/// elements of its `ds:KeyInfo`: each key tried costs one RSA private-key operation per
/// configured SP key, each RetrievalMethod a search of the encrypted element, and each KeyName
/// a comparison with every EncryptedKey beside the data.
pub const MAX_ENCRYPTED_KEYS: usize = 8;

/// Cap on `xenc:OAEPparams` (the OAEP label), in base64 characters.
pub const MAX_OAEP_PARAMS_LEN: usize = 1024;
