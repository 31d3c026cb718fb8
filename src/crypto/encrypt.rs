//! XML Encryption of a SAML element for an SP certificate: the encryptor of the project's tests
//! and of the development IdP.
//!
//! It produces every shape real IdPs send, so the decryptor is exercised on each: the
//! EncryptedKey inside `EncryptedData/ds:KeyInfo` (Shibboleth, Entra ID), or beside the
//! EncryptedData tied by `ds:RetrievalMethod` plus `DataReference` (Okta, ADFS), by
//! `DataReference` alone, or by `KeyName`/`CarriedKeyName`. It also produces the refused
//! algorithms (RSA1_5 key transport, 3DES content) so that their refusal can be tested.

use base64::Engine;
use openssl::pkey::{PKeyRef, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::x509::X509Ref;

use crate::crypto::enc_algorithms::{
    self, CipherError, ContentAlgorithm, KeyTransport, OaepHash, uri,
};
use crate::xml::ns;

/// Which SAML element wraps the EncryptedData.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncryptedElementKind {
    Assertion,
    Id,
    Attribute,
}

impl EncryptedElementKind {
    fn local_name(self) -> &'static str {
        match self {
            EncryptedElementKind::Assertion => "EncryptedAssertion",
            EncryptedElementKind::Id => "EncryptedID",
            EncryptedElementKind::Attribute => "EncryptedAttribute",
        }
    }
}

/// Where the EncryptedKey goes and how the EncryptedData finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPlacement {
    /// `EncryptedData/ds:KeyInfo/xenc:EncryptedKey`.
    InsideKeyInfo,
    /// Beside the EncryptedData; `ds:KeyInfo/ds:RetrievalMethod URI="#key"` points at it and the
    /// key lists the data in its `ReferenceList` (Okta's shape).
    BesideWithRetrievalMethod,
    /// Beside the EncryptedData, which has no KeyInfo; the key's `ReferenceList/DataReference`
    /// names the data.
    BesideWithDataReference,
    /// Beside the EncryptedData; its `ds:KeyInfo/ds:KeyName` equals the key's `CarriedKeyName`.
    BesideWithKeyName,
}

/// The algorithms and shape of one encryption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptionOptions {
    pub content: ContentAlgorithm,
    pub key_transport: KeyTransport,
    pub placement: KeyPlacement,
}

impl Default for EncryptionOptions {
    /// AES-256-GCM with xmlenc11 RSA-OAEP (SHA-256 digest, MGF1-SHA256), key inside KeyInfo:
    /// what samlgate recommends in its SP metadata.
    fn default() -> Self {
        EncryptionOptions {
            content: ContentAlgorithm::Aes256Gcm,
            key_transport: KeyTransport::RsaOaep {
                digest: OaepHash::Sha256,
                mgf: OaepHash::Sha256,
                label: Vec::new(),
            },
            placement: KeyPlacement::InsideKeyInfo,
        }
    }
}

/// Why an element could not be encrypted.
#[derive(Debug, thiserror::Error)]
pub enum EncryptError {
    #[error("the SP certificate's public key cannot be used: {0}")]
    Certificate(String),
    #[error("RSA key transport ({algorithm}) failed: {message}")]
    KeyTransport {
        algorithm: &'static str,
        message: String,
    },
    #[error("content encryption failed: {0}")]
    Content(#[from] CipherError),
    #[error("random number generator failed: {0}")]
    Random(String),
}

/// Encrypts a serialized Assertion for the SP certificate; returns `<saml:EncryptedAssertion>`.
pub fn encrypt_assertion(
    assertion_xml: &[u8],
    sp_certificate: &X509Ref,
    options: &EncryptionOptions,
) -> Result<String, EncryptError> {
    encrypt_element(
        assertion_xml,
        EncryptedElementKind::Assertion,
        sp_certificate,
        options,
    )
}

/// Encrypts a serialized SAML element (Assertion, NameID or Attribute) for the SP certificate and
/// returns the wrapping `saml:EncryptedAssertion` / `EncryptedID` / `EncryptedAttribute` as text.
/// The wrapper declares its own namespaces, so it can be pasted into any Response.
pub fn encrypt_element(
    plaintext_xml: &[u8],
    kind: EncryptedElementKind,
    sp_certificate: &X509Ref,
    options: &EncryptionOptions,
) -> Result<String, EncryptError> {
    let public_key = sp_certificate
        .public_key()
        .map_err(|e| EncryptError::Certificate(e.to_string()))?;
    let mut content_key = vec![0u8; options.content.key_len()];
    openssl::rand::rand_bytes(&mut content_key).map_err(|e| EncryptError::Random(e.to_string()))?;
    let ciphertext = enc_algorithms::encrypt_content(options.content, &content_key, plaintext_xml)?;
    let wrapped_key = wrap_key(&public_key, &options.key_transport, &content_key)?;
    let certificate_der = sp_certificate
        .to_der()
        .map_err(|e| EncryptError::Certificate(e.to_string()))?;

    let data_id = format!("_ed{}", random_hex()?);
    let key_id = format!("_ek{}", random_hex()?);
    let key_name = format!("samlgate-key-{}", random_hex()?);
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);

    let beside = options.placement != KeyPlacement::InsideKeyInfo;
    let encrypted_key = {
        let mut ek = format!(
            r#"<xenc:EncryptedKey xmlns:xenc="{xenc}" Id="{key_id}">{method}<ds:KeyInfo xmlns:ds="{ds}"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{value}</xenc:CipherValue></xenc:CipherData>"#,
            xenc = ns::XENC,
            ds = ns::DS,
            method = key_transport_method(&options.key_transport),
            cert = b64(&certificate_der),
            value = b64(&wrapped_key),
        );
        if matches!(
            options.placement,
            KeyPlacement::BesideWithRetrievalMethod | KeyPlacement::BesideWithDataReference
        ) {
            ek.push_str(&format!(
                r##"<xenc:ReferenceList><xenc:DataReference URI="#{data_id}"/></xenc:ReferenceList>"##
            ));
        }
        if options.placement == KeyPlacement::BesideWithKeyName {
            ek.push_str(&format!(
                "<xenc:CarriedKeyName>{key_name}</xenc:CarriedKeyName>"
            ));
        }
        ek.push_str("</xenc:EncryptedKey>");
        ek
    };
    let key_info = match options.placement {
        KeyPlacement::InsideKeyInfo => Some(encrypted_key.clone()),
        KeyPlacement::BesideWithRetrievalMethod => Some(format!(
            r##"<ds:RetrievalMethod URI="#{key_id}" Type="{kind}"/>"##,
            kind = uri::TYPE_ENCRYPTED_KEY
        )),
        KeyPlacement::BesideWithDataReference => None,
        KeyPlacement::BesideWithKeyName => Some(format!("<ds:KeyName>{key_name}</ds:KeyName>")),
    }
    .map(|inner| {
        format!(
            r#"<ds:KeyInfo xmlns:ds="{ds}">{inner}</ds:KeyInfo>"#,
            ds = ns::DS
        )
    })
    .unwrap_or_default();

    Ok(format!(
        r#"<saml:{name} xmlns:saml="{saml}"><xenc:EncryptedData xmlns:xenc="{xenc}" Id="{data_id}" Type="{data_type}"><xenc:EncryptionMethod Algorithm="{content}"/>{key_info}<xenc:CipherData><xenc:CipherValue>{value}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>{beside_key}</saml:{name}>"#,
        name = kind.local_name(),
        saml = ns::SAML,
        xenc = ns::XENC,
        data_type = uri::TYPE_ELEMENT,
        content = options.content.uri(),
        value = b64(&ciphertext),
        beside_key = if beside { encrypted_key.as_str() } else { "" },
    ))
}

/// The `xenc:EncryptionMethod` of the EncryptedKey, with its OAEP parameters.
fn key_transport_method(transport: &KeyTransport) -> String {
    let label = |label: &[u8]| {
        if label.is_empty() {
            String::new()
        } else {
            format!(
                "<xenc:OAEPparams>{}</xenc:OAEPparams>",
                base64::engine::general_purpose::STANDARD.encode(label)
            )
        }
    };
    match transport {
        KeyTransport::RsaOaepMgf1p { digest, label: l } => format!(
            r#"<xenc:EncryptionMethod Algorithm="{alg}">{oaep}<ds:DigestMethod xmlns:ds="{ds}" Algorithm="{digest}"/></xenc:EncryptionMethod>"#,
            alg = uri::RSA_OAEP_MGF1P,
            oaep = label(l),
            ds = ns::DS,
            digest = digest.digest_uri(),
        ),
        KeyTransport::RsaOaep {
            digest,
            mgf,
            label: l,
        } => format!(
            r#"<xenc:EncryptionMethod Algorithm="{alg}">{oaep}<ds:DigestMethod xmlns:ds="{ds}" Algorithm="{digest}"/><xenc11:MGF xmlns:xenc11="{xenc11}" Algorithm="{mgf}"/></xenc:EncryptionMethod>"#,
            alg = uri::RSA_OAEP,
            oaep = label(l),
            ds = ns::DS,
            digest = digest.digest_uri(),
            xenc11 = ns::XENC11,
            mgf = mgf.mgf_uri(),
        ),
        KeyTransport::Rsa15 => format!(r#"<xenc:EncryptionMethod Algorithm="{}"/>"#, uri::RSA_1_5),
    }
}

/// RSA-encrypts the content key with the transport's padding and parameters.
fn wrap_key(
    public_key: &PKeyRef<Public>,
    transport: &KeyTransport,
    content_key: &[u8],
) -> Result<Vec<u8>, EncryptError> {
    let run = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let mut ctx = PkeyCtx::new(public_key)?;
        ctx.encrypt_init()?;
        match transport.oaep_parameters() {
            Some((digest, mgf, label)) => {
                ctx.set_rsa_padding(Padding::PKCS1_OAEP)?;
                ctx.set_rsa_oaep_md(digest.md())?;
                ctx.set_rsa_mgf1_md(mgf.md())?;
                if !label.is_empty() {
                    ctx.set_rsa_oaep_label(label)?;
                }
            }
            None => ctx.set_rsa_padding(Padding::PKCS1)?,
        }
        let mut out = Vec::new();
        ctx.encrypt_to_vec(content_key, &mut out)?;
        Ok(out)
    };
    run().map_err(|e| EncryptError::KeyTransport {
        algorithm: transport.uri(),
        message: e.to_string(),
    })
}

/// 16 random bytes in hex, for element Ids (an XML NCName once prefixed with '_').
fn random_hex() -> Result<String, EncryptError> {
    let mut bytes = [0u8; 16];
    openssl::rand::rand_bytes(&mut bytes).map_err(|e| EncryptError::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
