//! JWS signature algorithms (RFC 7518) for access tokens: which ones exist here, and verifying
//! one signature with a public key.
//!
//! Only asymmetric algorithms exist: `none` and the HMAC family are refused by name when read,
//! so an HMAC "signature" made with an issuer's public key as the secret can never verify.
//! RSA keys must have at least [`MIN_JWS_RSA_BITS`] bits; an EC key must be on the curve its
//! algorithm names.

use std::fmt;
use std::str::FromStr;

use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKeyRef, Private, Public};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer, Verifier};

/// The smallest RSA modulus accepted for a token signing key (RFC 7518 section 3.3 says 2048).
pub const MIN_JWS_RSA_BITS: u32 = 2048;

/// An asymmetric JWS algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JwsAlgorithm {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    Es512,
}

/// Every algorithm, strongest family last: the default allow-list.
pub const ALL_JWS_ALGORITHMS: [JwsAlgorithm; 9] = [
    JwsAlgorithm::Rs256,
    JwsAlgorithm::Rs384,
    JwsAlgorithm::Rs512,
    JwsAlgorithm::Ps256,
    JwsAlgorithm::Ps384,
    JwsAlgorithm::Ps512,
    JwsAlgorithm::Es256,
    JwsAlgorithm::Es384,
    JwsAlgorithm::Es512,
];

/// Why an `alg` value is not an algorithm here.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwsAlgorithmError {
    #[error("alg \"none\" (an unsigned token) is never accepted")]
    None,
    #[error(
        "alg {0:?} is an HMAC (shared-secret) algorithm, never accepted: an issuer signs with a private key"
    )]
    Hmac(String),
    #[error(
        "alg {0:?} is not supported (known: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512)"
    )]
    Unknown(String),
}

impl FromStr for JwsAlgorithm {
    type Err = JwsAlgorithmError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "RS256" => JwsAlgorithm::Rs256,
            "RS384" => JwsAlgorithm::Rs384,
            "RS512" => JwsAlgorithm::Rs512,
            "PS256" => JwsAlgorithm::Ps256,
            "PS384" => JwsAlgorithm::Ps384,
            "PS512" => JwsAlgorithm::Ps512,
            "ES256" => JwsAlgorithm::Es256,
            "ES384" => JwsAlgorithm::Es384,
            "ES512" => JwsAlgorithm::Es512,
            _ if s.eq_ignore_ascii_case("none") => return Err(JwsAlgorithmError::None),
            _ if s.len() >= 2 && s.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("HS")) => {
                return Err(JwsAlgorithmError::Hmac(s.to_owned()));
            }
            _ => return Err(JwsAlgorithmError::Unknown(s.to_owned())),
        })
    }
}

impl JwsAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            JwsAlgorithm::Rs256 => "RS256",
            JwsAlgorithm::Rs384 => "RS384",
            JwsAlgorithm::Rs512 => "RS512",
            JwsAlgorithm::Ps256 => "PS256",
            JwsAlgorithm::Ps384 => "PS384",
            JwsAlgorithm::Ps512 => "PS512",
            JwsAlgorithm::Es256 => "ES256",
            JwsAlgorithm::Es384 => "ES384",
            JwsAlgorithm::Es512 => "ES512",
        }
    }

    fn digest(self) -> MessageDigest {
        match self {
            JwsAlgorithm::Rs256 | JwsAlgorithm::Ps256 | JwsAlgorithm::Es256 => {
                MessageDigest::sha256()
            }
            JwsAlgorithm::Rs384 | JwsAlgorithm::Ps384 | JwsAlgorithm::Es384 => {
                MessageDigest::sha384()
            }
            JwsAlgorithm::Rs512 | JwsAlgorithm::Ps512 | JwsAlgorithm::Es512 => {
                MessageDigest::sha512()
            }
        }
    }

    /// The curve an ECDSA algorithm requires, and the byte length of one coordinate.
    fn curve(self) -> Option<(Nid, usize)> {
        match self {
            JwsAlgorithm::Es256 => Some((Nid::X9_62_PRIME256V1, 32)),
            JwsAlgorithm::Es384 => Some((Nid::SECP384R1, 48)),
            JwsAlgorithm::Es512 => Some((Nid::SECP521R1, 66)),
            _ => None,
        }
    }

    fn is_rsa(self) -> bool {
        self.curve().is_none()
    }

    /// Can `key` sign with this algorithm? (Its type, its curve, its size.)
    pub fn fits(self, key: &PKeyRef<Public>) -> Result<(), JwsKeyMismatch> {
        match (self.curve(), key.id()) {
            (None, Id::RSA) => {
                let bits = key.bits();
                if bits < MIN_JWS_RSA_BITS {
                    return Err(JwsKeyMismatch::RsaTooSmall { bits });
                }
                Ok(())
            }
            (Some((want, _)), Id::EC) => {
                let have = key
                    .ec_key()
                    .ok()
                    .and_then(|ec| ec.group().curve_name())
                    .ok_or(JwsKeyMismatch::UnknownCurve)?;
                if have == want {
                    Ok(())
                } else {
                    Err(JwsKeyMismatch::Curve {
                        alg: self.name(),
                        have: have.short_name().unwrap_or("?").to_owned(),
                    })
                }
            }
            _ => Err(JwsKeyMismatch::KeyType { alg: self.name() }),
        }
    }
}

impl fmt::Display for JwsAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a key cannot verify an algorithm's signature.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwsKeyMismatch {
    #[error("the RSA key has {bits} bits, fewer than the {MIN_JWS_RSA_BITS} required")]
    RsaTooSmall { bits: u32 },
    #[error("the EC key's curve is not a named curve")]
    UnknownCurve,
    #[error("{alg} needs another curve than the key's {have}")]
    Curve { alg: &'static str, have: String },
    #[error("the key's type does not fit {alg}")]
    KeyType { alg: &'static str },
}

/// Why a signature did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwsVerifyError {
    #[error(transparent)]
    Key(#[from] JwsKeyMismatch),
    #[error("an {alg} signature is {want} bytes, this one {have}")]
    Length {
        alg: &'static str,
        want: usize,
        have: usize,
    },
    #[error("the signature does not match the signed bytes")]
    Mismatch,
    #[error("openssl: {0}")]
    Openssl(String),
}

fn ossl(e: openssl::error::ErrorStack) -> JwsVerifyError {
    JwsVerifyError::Openssl(e.to_string())
}

/// Verify `signature` (as JWS carries it: RSA bytes, or ECDSA `r || s`) over `input` with `key`.
pub fn verify(
    alg: JwsAlgorithm,
    key: &PKeyRef<Public>,
    input: &[u8],
    signature: &[u8],
) -> Result<(), JwsVerifyError> {
    alg.fits(key)?;
    let der;
    let signature = match alg.curve() {
        Some((_, n)) => {
            let want = n.saturating_mul(2);
            if signature.len() != want {
                return Err(JwsVerifyError::Length {
                    alg: alg.name(),
                    want,
                    have: signature.len(),
                });
            }
            let (r, s) = signature.split_at(n);
            let sig = EcdsaSig::from_private_components(
                BigNum::from_slice(r).map_err(ossl)?,
                BigNum::from_slice(s).map_err(ossl)?,
            )
            .map_err(ossl)?;
            der = sig.to_der().map_err(ossl)?;
            der.as_slice()
        }
        None => signature,
    };
    let mut verifier = Verifier::new(alg.digest(), key).map_err(ossl)?;
    if alg.is_rsa() {
        match alg {
            JwsAlgorithm::Ps256 | JwsAlgorithm::Ps384 | JwsAlgorithm::Ps512 => {
                verifier.set_rsa_padding(Padding::PKCS1_PSS).map_err(ossl)?;
                verifier
                    .set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
                    .map_err(ossl)?;
                verifier.set_rsa_mgf1_md(alg.digest()).map_err(ossl)?;
            }
            _ => verifier.set_rsa_padding(Padding::PKCS1).map_err(ossl)?,
        }
    }
    verifier.update(input).map_err(ossl)?;
    // openssl reports a malformed signature as an error and a wrong one as false: both are a
    // signature that does not verify.
    match verifier.verify(signature) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(JwsVerifyError::Mismatch),
    }
}

/// Why a signature could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwsSignError {
    #[error("the key's type does not fit {alg}")]
    KeyType { alg: &'static str },
    #[error("openssl: {0}")]
    Openssl(String),
}

/// Sign `input` with `key` as JWS carries the signature (RSA bytes, or ECDSA `r || s`): the
/// gateway's own client assertions (RFC 7523).
pub fn sign(
    alg: JwsAlgorithm,
    key: &PKeyRef<Private>,
    input: &[u8],
) -> Result<Vec<u8>, JwsSignError> {
    let e = |e: openssl::error::ErrorStack| JwsSignError::Openssl(e.to_string());
    let fits = match alg.curve() {
        None => key.id() == Id::RSA,
        Some((nid, _)) => {
            key.id() == Id::EC
                && key.ec_key().ok().and_then(|k| k.group().curve_name()) == Some(nid)
        }
    };
    if !fits {
        return Err(JwsSignError::KeyType { alg: alg.name() });
    }
    let mut signer = Signer::new(alg.digest(), key).map_err(e)?;
    match alg {
        JwsAlgorithm::Ps256 | JwsAlgorithm::Ps384 | JwsAlgorithm::Ps512 => {
            signer.set_rsa_padding(Padding::PKCS1_PSS).map_err(e)?;
            signer
                .set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
                .map_err(e)?;
            signer.set_rsa_mgf1_md(alg.digest()).map_err(e)?;
        }
        JwsAlgorithm::Rs256 | JwsAlgorithm::Rs384 | JwsAlgorithm::Rs512 => {
            signer.set_rsa_padding(Padding::PKCS1).map_err(e)?;
        }
        _ => {}
    }
    signer.update(input).map_err(e)?;
    let signature = signer.sign_to_vec().map_err(e)?;
    match alg.curve() {
        None => Ok(signature),
        Some((_, n)) => {
            let sig = EcdsaSig::from_der(&signature).map_err(e)?;
            let len = i32::try_from(n).unwrap_or(i32::MAX);
            let mut raw = sig.r().to_vec_padded(len).map_err(e)?;
            raw.extend(sig.s().to_vec_padded(len).map_err(e)?);
            Ok(raw)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;

    fn rsa() -> (PKey<openssl::pkey::Private>, PKey<Public>) {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let public = PKey::public_key_from_pem(&key.public_key_to_pem().unwrap()).unwrap();
        (key, public)
    }

    #[test]
    fn none_and_hmac_are_refused_by_name() {
        assert_eq!("none".parse::<JwsAlgorithm>(), Err(JwsAlgorithmError::None));
        assert_eq!("NONE".parse::<JwsAlgorithm>(), Err(JwsAlgorithmError::None));
        assert!(matches!(
            "HS256".parse::<JwsAlgorithm>(),
            Err(JwsAlgorithmError::Hmac(_))
        ));
        assert!(matches!(
            "rs256".parse::<JwsAlgorithm>(),
            Err(JwsAlgorithmError::Unknown(_))
        ));
    }

    #[test]
    fn rs256_and_ps256_verify_and_refuse_a_changed_byte() {
        let (key, public) = rsa();
        let mut s = Signer::new(MessageDigest::sha256(), &key).unwrap();
        s.update(b"a.b").unwrap();
        let sig = s.sign_to_vec().unwrap();
        assert_eq!(verify(JwsAlgorithm::Rs256, &public, b"a.b", &sig), Ok(()));
        assert_eq!(
            verify(JwsAlgorithm::Rs256, &public, b"a.c", &sig),
            Err(JwsVerifyError::Mismatch)
        );
        // The same bytes are not a PS256 signature.
        assert_eq!(
            verify(JwsAlgorithm::Ps256, &public, b"a.b", &sig),
            Err(JwsVerifyError::Mismatch)
        );
        let mut s = Signer::new(MessageDigest::sha256(), &key).unwrap();
        s.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
        s.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH).unwrap();
        s.update(b"a.b").unwrap();
        let pss = s.sign_to_vec().unwrap();
        assert_eq!(verify(JwsAlgorithm::Ps256, &public, b"a.b", &pss), Ok(()));
    }

    #[test]
    fn es256_takes_r_and_s_and_refuses_der_or_another_curve() {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let public = PKey::public_key_from_pem(&key.public_key_to_pem().unwrap()).unwrap();
        let mut s = Signer::new(MessageDigest::sha256(), &key).unwrap();
        s.update(b"x.y").unwrap();
        let der = s.sign_to_vec().unwrap();
        let sig = EcdsaSig::from_der(&der).unwrap();
        let mut raw = sig.r().to_vec_padded(32).unwrap();
        raw.extend(sig.s().to_vec_padded(32).unwrap());
        assert_eq!(verify(JwsAlgorithm::Es256, &public, b"x.y", &raw), Ok(()));
        assert!(matches!(
            verify(JwsAlgorithm::Es256, &public, b"x.y", &der),
            Err(JwsVerifyError::Length { .. }) | Err(JwsVerifyError::Mismatch)
        ));
        assert!(matches!(
            verify(JwsAlgorithm::Es384, &public, b"x.y", &raw),
            Err(JwsVerifyError::Key(JwsKeyMismatch::Curve { .. }))
        ));
        assert!(matches!(
            verify(JwsAlgorithm::Rs256, &public, b"x.y", &raw),
            Err(JwsVerifyError::Key(JwsKeyMismatch::KeyType { .. }))
        ));
    }

    #[test]
    fn what_sign_makes_verify_accepts() {
        let (key, public) = rsa();
        for alg in [JwsAlgorithm::Rs256, JwsAlgorithm::Ps384] {
            let sig = sign(alg, &key, b"h.p").unwrap();
            assert_eq!(verify(alg, &public, b"h.p", &sig), Ok(()));
        }
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let ec = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let ec_public = PKey::public_key_from_pem(&ec.public_key_to_pem().unwrap()).unwrap();
        let sig = sign(JwsAlgorithm::Es256, &ec, b"h.p").unwrap();
        assert_eq!(sig.len(), 64);
        assert_eq!(
            verify(JwsAlgorithm::Es256, &ec_public, b"h.p", &sig),
            Ok(())
        );
        assert!(sign(JwsAlgorithm::Es256, &key, b"h.p").is_err());
    }

    #[test]
    fn a_small_rsa_key_is_refused() {
        let key = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
        let public = PKey::public_key_from_pem(&key.public_key_to_pem().unwrap()).unwrap();
        assert_eq!(
            JwsAlgorithm::Rs256.fits(&public),
            Err(JwsKeyMismatch::RsaTooSmall { bits: 1024 })
        );
    }
}
