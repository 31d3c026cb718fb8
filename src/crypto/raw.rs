//! Signing and verifying bytes with an allow-listed algorithm: the primitive under XML-DSig's
//! SignatureValue and the HTTP-Redirect binding's `Signature` parameter.
//!
//! Both wire formats carry ECDSA signatures as raw `r || s`, each half left-padded to the
//! curve's field size (XML-DSig 1.1 section 6.4.3; SAML bindings 3.4.4.1 reuses the URIs),
//! while OpenSSL speaks DER. The conversion lives here and nowhere else.

use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::pkey::{HasPublic, Id, PKeyRef, Private};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer, Verifier};

use super::algorithms::{SignatureAlgorithm, SignatureScheme};
use super::dsig::SignatureError;
use super::sign::SignError;

/// Sign `data` with `key` under `algorithm`, in the wire format (raw `r || s` for ECDSA).
pub fn sign_bytes(
    algorithm: SignatureAlgorithm,
    key: &PKeyRef<Private>,
    data: &[u8],
) -> Result<Vec<u8>, SignError> {
    check_key_type(algorithm, key).map_err(|e| SignError::Key(e.to_string()))?;
    let crypto = |e: openssl::error::ErrorStack| SignError::Crypto(e.to_string());
    let md = algorithm.hash().message_digest();
    let mut signer = Signer::new(md, key).map_err(crypto)?;
    if algorithm.scheme() == SignatureScheme::RsaPss {
        signer.set_rsa_padding(Padding::PKCS1_PSS).map_err(crypto)?;
        signer
            .set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
            .map_err(crypto)?;
        signer.set_rsa_mgf1_md(md).map_err(crypto)?;
    }
    signer.update(data).map_err(crypto)?;
    let signature = signer.sign_to_vec().map_err(crypto)?;
    if algorithm.scheme() != SignatureScheme::Ecdsa {
        return Ok(signature);
    }
    let half = ecdsa_half_len(key).map_err(|e| SignError::Key(e.to_string()))?;
    let half = i32::try_from(half)
        .map_err(|_| SignError::Key(format!("curve field size {half} is absurd")))?;
    let der = EcdsaSig::from_der(&signature).map_err(crypto)?;
    let mut raw = der.r().to_vec_padded(half).map_err(crypto)?;
    raw.extend(der.s().to_vec_padded(half).map_err(crypto)?);
    Ok(raw)
}

/// Verify a wire-format `signature` over `data` with one key.
pub fn verify_bytes<T: HasPublic>(
    algorithm: SignatureAlgorithm,
    key: &PKeyRef<T>,
    data: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    check_key_type(algorithm, key)?;
    let crypto = |e: openssl::error::ErrorStack| SignatureError::Crypto(e.to_string());
    let der;
    let signature = if algorithm.scheme() == SignatureScheme::Ecdsa {
        der = ecdsa_raw_to_der(key, signature)?;
        der.as_slice()
    } else {
        signature
    };
    let md = algorithm.hash().message_digest();
    let mut verifier = Verifier::new(md, key).map_err(crypto)?;
    if algorithm.scheme() == SignatureScheme::RsaPss {
        verifier
            .set_rsa_padding(Padding::PKCS1_PSS)
            .map_err(crypto)?;
        // DIGEST_LENGTH makes OpenSSL insist on exactly that salt length, as RFC 6931 fixes it.
        verifier
            .set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
            .map_err(crypto)?;
        verifier.set_rsa_mgf1_md(md).map_err(crypto)?;
    }
    verifier.update(data).map_err(crypto)?;
    // A malformed value makes OpenSSL report an error rather than `false`; both mean "does not
    // verify", and the error queue is drained by `verify` either way.
    match verifier.verify(signature) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(SignatureError::Invalid { algorithm }),
    }
}

/// The algorithm's key family must match the key: an RSA signature is never checked with an EC
/// key or the other way round, whatever OpenSSL would make of it.
fn check_key_type<T>(
    algorithm: SignatureAlgorithm,
    key: &PKeyRef<T>,
) -> Result<(), SignatureError> {
    let id = key.id();
    let fits = match algorithm.scheme() {
        SignatureScheme::RsaPkcs1 => id == Id::RSA,
        SignatureScheme::RsaPss => id == Id::RSA || id == Id::RSA_PSS,
        SignatureScheme::Ecdsa => id == Id::EC,
    };
    if fits {
        Ok(())
    } else {
        Err(SignatureError::KeyTypeMismatch {
            algorithm,
            key_type: key_type_name(id),
        })
    }
}

fn key_type_name(id: Id) -> String {
    match id {
        Id::RSA => "RSA".to_string(),
        Id::RSA_PSS => "RSA-PSS".to_string(),
        Id::EC => "EC".to_string(),
        Id::ED25519 => "Ed25519".to_string(),
        Id::ED448 => "Ed448".to_string(),
        Id::DSA => "DSA".to_string(),
        other => format!("OpenSSL key type {}", other.as_raw()),
    }
}

/// Length in bytes of one of `r`, `s` for the key's curve: the field size, rounded up to bytes
/// (32 for P-256, 48 for P-384, 66 for P-521).
fn ecdsa_half_len<T: HasPublic>(key: &PKeyRef<T>) -> Result<usize, SignatureError> {
    let ec = key
        .ec_key()
        .map_err(|e| SignatureError::Crypto(e.to_string()))?;
    let bits = ec.group().degree();
    usize::try_from(bits.div_ceil(8))
        .map_err(|_| SignatureError::Crypto(format!("curve degree {bits} is absurd")))
}

/// Raw `r || s` to DER. The value must be exactly twice the field size: a value cut short or
/// padded further is not what the specification allows, and accepting several encodings of one
/// signature only helps an attacker.
fn ecdsa_raw_to_der<T: HasPublic>(key: &PKeyRef<T>, raw: &[u8]) -> Result<Vec<u8>, SignatureError> {
    let half = ecdsa_half_len(key)?;
    let expected = half.saturating_mul(2);
    if raw.len() != expected {
        return Err(SignatureError::EcdsaLength {
            length: raw.len(),
            expected,
        });
    }
    // infallible: the length was just checked to be exactly 2 * half.
    let Some((r, s)) = raw.split_at_checked(half) else {
        return Err(SignatureError::EcdsaLength {
            length: raw.len(),
            expected,
        });
    };
    let crypto = |e: openssl::error::ErrorStack| SignatureError::Crypto(e.to_string());
    let r = BigNum::from_slice(r).map_err(crypto)?;
    let s = BigNum::from_slice(s).map_err(crypto)?;
    EcdsaSig::from_private_components(r, s)
        .and_then(|sig| sig.to_der())
        .map_err(crypto)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;

    fn rsa_key() -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
    }

    fn ec_key(nid: Nid) -> PKey<Private> {
        PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap())
            .unwrap()
    }

    #[test]
    fn every_algorithm_round_trips_with_a_fitting_key() {
        let rsa = rsa_key();
        let p256 = ec_key(Nid::X9_62_PRIME256V1);
        for alg in SignatureAlgorithm::ALL {
            let key = if alg.scheme() == SignatureScheme::Ecdsa {
                &p256
            } else {
                &rsa
            };
            let sig = sign_bytes(alg, key, b"SAMLRequest=abc&SigAlg=x").unwrap();
            verify_bytes(alg, key, b"SAMLRequest=abc&SigAlg=x", &sig).unwrap();
            assert_eq!(
                verify_bytes(alg, key, b"SAMLRequest=abd&SigAlg=x", &sig),
                Err(SignatureError::Invalid { algorithm: alg }),
                "{alg} accepted altered data"
            );
        }
    }

    #[test]
    fn ecdsa_signatures_are_raw_r_s_padded_to_the_field_size() {
        for (nid, half) in [
            (Nid::X9_62_PRIME256V1, 32),
            (Nid::SECP384R1, 48),
            (Nid::SECP521R1, 66),
        ] {
            let key = ec_key(nid);
            // Enough signatures that some r or s has a leading zero byte and needs padding.
            for i in 0..40u8 {
                let data = [i; 7];
                let raw = sign_bytes(SignatureAlgorithm::EcdsaSha256, &key, &data).unwrap();
                assert_eq!(raw.len(), 2 * half);
                // Cross-check with OpenSSL's own ECDSA over the same digest: r, s are the halves.
                let sig = EcdsaSig::from_private_components(
                    BigNum::from_slice(&raw[..half]).unwrap(),
                    BigNum::from_slice(&raw[half..]).unwrap(),
                )
                .unwrap();
                let digest = openssl::hash::hash(MessageDigest::sha256(), &data).unwrap();
                assert!(sig.verify(&digest, &key.ec_key().unwrap()).unwrap());
            }
        }
    }

    #[test]
    fn accepts_raw_ecdsa_made_by_openssl_from_der() {
        let key = ec_key(Nid::SECP384R1);
        let data = b"payload";
        let digest = openssl::hash::hash(MessageDigest::sha384(), data).unwrap();
        let sig = EcdsaSig::sign(&digest, &key.ec_key().unwrap()).unwrap();
        let mut raw = sig.r().to_vec_padded(48).unwrap();
        raw.extend(sig.s().to_vec_padded(48).unwrap());
        verify_bytes(SignatureAlgorithm::EcdsaSha384, &key, data, &raw).unwrap();
    }

    #[test]
    fn refuses_der_encoded_ecdsa_value() {
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
        signer.update(b"data").unwrap();
        let der = signer.sign_to_vec().unwrap();
        let err = verify_bytes(SignatureAlgorithm::EcdsaSha256, &key, b"data", &der).unwrap_err();
        assert!(
            matches!(
                err,
                SignatureError::EcdsaLength { expected: 64, .. } | SignatureError::Invalid { .. }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn refuses_ecdsa_value_of_the_wrong_length() {
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let raw = sign_bytes(SignatureAlgorithm::EcdsaSha256, &key, b"data").unwrap();
        let mut short = raw.clone();
        short.pop();
        assert_eq!(
            verify_bytes(SignatureAlgorithm::EcdsaSha256, &key, b"data", &short),
            Err(SignatureError::EcdsaLength {
                length: 63,
                expected: 64
            })
        );
        let mut long = vec![0u8];
        long.extend(&raw);
        assert_eq!(
            verify_bytes(SignatureAlgorithm::EcdsaSha256, &key, b"data", &long),
            Err(SignatureError::EcdsaLength {
                length: 65,
                expected: 64
            })
        );
    }

    #[test]
    fn refuses_rsa_algorithm_with_ec_key_and_ecdsa_with_rsa_key() {
        let rsa = rsa_key();
        let ec = ec_key(Nid::X9_62_PRIME256V1);
        let sig = sign_bytes(SignatureAlgorithm::RsaSha256, &rsa, b"d").unwrap();
        assert_eq!(
            verify_bytes(SignatureAlgorithm::RsaSha256, &ec, b"d", &sig),
            Err(SignatureError::KeyTypeMismatch {
                algorithm: SignatureAlgorithm::RsaSha256,
                key_type: "EC".to_string()
            })
        );
        assert!(matches!(
            verify_bytes(SignatureAlgorithm::EcdsaSha256, &rsa, b"d", &sig),
            Err(SignatureError::KeyTypeMismatch { .. })
        ));
        assert!(matches!(
            sign_bytes(SignatureAlgorithm::EcdsaSha256, &rsa, b"d"),
            Err(SignError::Key(_))
        ));
    }

    #[test]
    fn refuses_pkcs1_signature_presented_as_pss_and_the_reverse() {
        let rsa = rsa_key();
        let pkcs1 = sign_bytes(SignatureAlgorithm::RsaSha256, &rsa, b"d").unwrap();
        let pss = sign_bytes(SignatureAlgorithm::RsaPssSha256, &rsa, b"d").unwrap();
        assert!(verify_bytes(SignatureAlgorithm::RsaPssSha256, &rsa, b"d", &pkcs1).is_err());
        assert!(verify_bytes(SignatureAlgorithm::RsaSha256, &rsa, b"d", &pss).is_err());
    }

    #[test]
    fn refuses_pss_with_a_salt_shorter_than_the_hash() {
        let rsa = rsa_key();
        let md = MessageDigest::sha256();
        let mut signer = Signer::new(md, &rsa).unwrap();
        signer.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
        signer
            .set_rsa_pss_saltlen(RsaPssSaltlen::custom(8))
            .unwrap();
        signer.set_rsa_mgf1_md(md).unwrap();
        signer.update(b"d").unwrap();
        let sig = signer.sign_to_vec().unwrap();
        assert_eq!(
            verify_bytes(SignatureAlgorithm::RsaPssSha256, &rsa, b"d", &sig),
            Err(SignatureError::Invalid {
                algorithm: SignatureAlgorithm::RsaPssSha256
            })
        );
    }

    #[test]
    fn refuses_signature_made_with_another_key() {
        let a = rsa_key();
        let b = rsa_key();
        let sig = sign_bytes(SignatureAlgorithm::RsaSha512, &a, b"d").unwrap();
        assert!(verify_bytes(SignatureAlgorithm::RsaSha512, &b, b"d", &sig).is_err());
    }

    #[test]
    fn pss_signature_verifies_with_the_openssl_command_line() {
        // An independent implementation of RSASSA-PSS (salt = hash length, MGF1 with the same
        // hash) checks what we produce; skipped without the `openssl` binary unless CI=true.
        let Some(openssl) = crate::crypto::raw::tests::find_tool("openssl") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let rsa = rsa_key();
        let data = b"RelayState=x&SigAlg=pss";
        let sig = sign_bytes(SignatureAlgorithm::RsaPssSha384, &rsa, data).unwrap();
        std::fs::write(dir.path().join("pub.pem"), rsa.public_key_to_pem().unwrap()).unwrap();
        std::fs::write(dir.path().join("data"), data).unwrap();
        std::fs::write(dir.path().join("sig"), &sig).unwrap();
        let out = std::process::Command::new(openssl)
            .current_dir(dir.path())
            .args([
                "dgst",
                "-sha384",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:48",
                "-sigopt",
                "rsa_mgf1_md:sha384",
                "-verify",
                "pub.pem",
                "-signature",
                "sig",
                "data",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl refused our PSS signature: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    /// The path of an external tool, or None with a printed reason; panics when CI=true.
    pub(crate) fn find_tool(name: &str) -> Option<std::path::PathBuf> {
        let found = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        });
        if found.is_none() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{name} is required when CI=true"
            );
            eprintln!("skipping: {name} is not installed");
        }
        found
    }
}
