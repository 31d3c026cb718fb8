//! The SP's own key pair and self-signed certificate (`samlgate keygen` in `cli::keygen` writes
//! them to files).
//!
//! The certificate only carries the public key to the IdP through SP metadata (SAML pins keys;
//! nobody validates a chain), so a self-signed RSA-3072 / SHA-256 certificate is the norm, as
//! with Shibboleth's `keygen.sh` and mellon's `mellon_create_metadata.sh`.

use std::path::PathBuf;

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, PKeyRef, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectKeyIdentifier};
use openssl::x509::{X509, X509NameBuilder};

/// RSA modulus size of generated SP keys.
pub const SP_KEY_BITS: u32 = 3072;
/// The longest validity `keygen` accepts (about 30 years); SAML ignores the dates, but a
/// typo such as `--days 365000` should not go unnoticed.
pub const MAX_DAYS: u32 = 11_000;

/// Why credentials could not be generated or written.
#[derive(Debug, thiserror::Error)]
pub enum KeygenError {
    #[error("common name must be non-empty and at most 64 characters, got {0:?}")]
    BadCommonName(String),
    #[error("validity of {0} days is outside 1..={MAX_DAYS}")]
    BadDays(u32),
    #[error("OpenSSL failed while {step}: {message}")]
    OpenSsl { step: &'static str, message: String },
    #[error("{} already exists; not overwriting it (pass --force to replace it)", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
}

fn ossl(step: &'static str) -> impl Fn(openssl::error::ErrorStack) -> KeygenError {
    move |e| KeygenError::OpenSsl {
        step,
        message: e.to_string(),
    }
}

/// A fresh RSA-3072 key and a self-signed SHA-256 certificate for it, both PEM
/// (the key as PKCS#8).
pub fn generate_sp_credentials(
    common_name: &str,
    days: u32,
) -> Result<(String, String), KeygenError> {
    check_inputs(common_name, days)?;
    let rsa = Rsa::generate(SP_KEY_BITS).map_err(ossl("generating the RSA key"))?;
    let key = PKey::from_rsa(rsa).map_err(ossl("wrapping the RSA key"))?;
    let certificate = self_signed_certificate(&key, common_name, days)?;
    let key_pem = key
        .private_key_to_pem_pkcs8()
        .map_err(ossl("encoding the key as PEM"))?;
    let cert_pem = certificate
        .to_pem()
        .map_err(ossl("encoding the certificate as PEM"))?;
    Ok((
        String::from_utf8_lossy(&key_pem).into_owned(),
        String::from_utf8_lossy(&cert_pem).into_owned(),
    ))
}

/// A self-signed SHA-256 certificate for `key`: subject = issuer = `CN=<common_name>`, valid from
/// now for `days`, a random 128-bit serial, CA:FALSE, digitalSignature + keyEncipherment.
pub fn self_signed_certificate(
    key: &PKeyRef<Private>,
    common_name: &str,
    days: u32,
) -> Result<X509, KeygenError> {
    check_inputs(common_name, days)?;
    let mut name = X509NameBuilder::new().map_err(ossl("building the subject name"))?;
    name.append_entry_by_text("CN", common_name)
        .map_err(ossl("building the subject name"))?;
    let name = name.build();

    let mut serial = BigNum::new().map_err(ossl("drawing a serial number"))?;
    serial
        .rand(127, MsbOption::MAYBE_ZERO, false)
        .map_err(ossl("drawing a serial number"))?;
    let serial = Asn1Integer::from_bn(&serial).map_err(ossl("drawing a serial number"))?;

    let mut builder = X509::builder().map_err(ossl("building the certificate"))?;
    builder
        .set_version(2)
        .map_err(ossl("setting the version"))?;
    builder
        .set_serial_number(&serial)
        .map_err(ossl("setting the serial"))?;
    builder
        .set_subject_name(&name)
        .map_err(ossl("setting the subject"))?;
    builder
        .set_issuer_name(&name)
        .map_err(ossl("setting the issuer"))?;
    builder
        .set_pubkey(key)
        .map_err(ossl("setting the public key"))?;
    let not_before = Asn1Time::days_from_now(0).map_err(ossl("setting notBefore"))?;
    let not_after = Asn1Time::days_from_now(days).map_err(ossl("setting notAfter"))?;
    builder
        .set_not_before(&not_before)
        .map_err(ossl("setting notBefore"))?;
    builder
        .set_not_after(&not_after)
        .map_err(ossl("setting notAfter"))?;
    let basic = BasicConstraints::new()
        .critical()
        .build()
        .map_err(ossl("adding basicConstraints"))?;
    builder
        .append_extension(basic)
        .map_err(ossl("adding basicConstraints"))?;
    let usage = KeyUsage::new()
        .critical()
        .digital_signature()
        .key_encipherment()
        .build()
        .map_err(ossl("adding keyUsage"))?;
    builder
        .append_extension(usage)
        .map_err(ossl("adding keyUsage"))?;
    let ski = SubjectKeyIdentifier::new()
        .build(&builder.x509v3_context(None, None))
        .map_err(ossl("adding subjectKeyIdentifier"))?;
    builder
        .append_extension(ski)
        .map_err(ossl("adding subjectKeyIdentifier"))?;
    builder
        .sign(key, MessageDigest::sha256())
        .map_err(ossl("signing the certificate"))?;
    Ok(builder.build())
}

fn check_inputs(common_name: &str, days: u32) -> Result<(), KeygenError> {
    if common_name.trim().is_empty() || common_name.chars().count() > 64 {
        return Err(KeygenError::BadCommonName(common_name.to_string()));
    }
    if days == 0 || days > MAX_DAYS {
        return Err(KeygenError::BadDays(days));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_empty_common_name_and_zero_days() {
        assert!(matches!(
            generate_sp_credentials(" ", 10),
            Err(KeygenError::BadCommonName(_))
        ));
        assert!(matches!(
            generate_sp_credentials("sp", 0),
            Err(KeygenError::BadDays(0))
        ));
        assert!(matches!(
            generate_sp_credentials("sp", MAX_DAYS + 1),
            Err(KeygenError::BadDays(_))
        ));
    }

    #[test]
    fn existing_file_error_names_the_file_and_the_flag() {
        let message = KeygenError::Exists(PathBuf::from("certs/sp.key")).to_string();
        assert!(message.contains("certs/sp.key"), "{message}");
        assert!(message.contains("--force"), "{message}");
    }
}
