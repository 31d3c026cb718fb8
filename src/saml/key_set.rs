//! An IdP's signing keys as an admin compares them (certificate fingerprint, subject, expiry),
//! and what changed between two metadata documents: a rotation is an event to log, count and
//! explain, not a silent swap.

use time::OffsetDateTime;

use crate::crypto::keys::{VerificationKey, hex_colon, not_after_unix};

/// One signing key as the log and `check` show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFact {
    /// SHA-256 of the certificate (DER), `AB:CD:...`; of the public key when there is no
    /// certificate.
    pub fingerprint: String,
    pub subject: String,
    /// The certificate's notAfter (reported; expiry never gates verification).
    pub not_after: Option<OffsetDateTime>,
}

impl KeyFact {
    pub fn of(key: &VerificationKey) -> KeyFact {
        let digest = |der: Vec<u8>| {
            openssl::hash::hash(openssl::hash::MessageDigest::sha256(), &der)
                .map(|d| hex_colon(&d))
                .unwrap_or_default()
        };
        match &key.certificate {
            Some(cert) => KeyFact {
                fingerprint: cert.to_der().map(digest).unwrap_or_default(),
                subject: cert
                    .subject_name()
                    .entries()
                    .map(|e| String::from_utf8_lossy(e.data().as_slice()).into_owned())
                    .collect::<Vec<_>>()
                    .join(","),
                not_after: not_after_unix(cert)
                    .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()),
            },
            None => KeyFact {
                fingerprint: key.key.public_key_to_der().map(digest).unwrap_or_default(),
                subject: String::new(),
                not_after: None,
            },
        }
    }
}

impl std::fmt::Display for KeyFact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SHA-256 {}", self.fingerprint)?;
        if !self.subject.is_empty() {
            write!(f, " ({})", self.subject)?;
        }
        match self.not_after {
            Some(t) => write!(f, ", not after {}", crate::saml::time::format_instant(t)),
            None => Ok(()),
        }
    }
}

/// The facts of a key set, in the metadata's order.
pub fn key_facts(keys: &[VerificationKey]) -> Vec<KeyFact> {
    keys.iter().map(KeyFact::of).collect()
}

/// Keys that appeared and keys that went away between two documents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySetChange {
    pub added: Vec<KeyFact>,
    pub removed: Vec<KeyFact>,
}

impl KeySetChange {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

impl std::fmt::Display for KeySetChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |facts: &[KeyFact]| {
            if facts.is_empty() {
                "none".to_string()
            } else {
                facts
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        };
        write!(
            f,
            "added: {}; removed: {}",
            list(&self.added),
            list(&self.removed)
        )
    }
}

/// What changed from `old` to `new`, compared by fingerprint (order and duplicates ignored).
pub fn diff(old: &[KeyFact], new: &[KeyFact]) -> KeySetChange {
    let absent_from =
        |set: &[KeyFact], k: &KeyFact| !set.iter().any(|o| o.fingerprint == k.fingerprint);
    let mut change = KeySetChange::default();
    for k in new {
        if absent_from(old, k) && absent_from(&change.added, k) {
            change.added.push(k.clone());
        }
    }
    for k in old {
        if absent_from(new, k) && absent_from(&change.removed, k) {
            change.removed.push(k.clone());
        }
    }
    change
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(cn: &str) -> VerificationKey {
        let pkey =
            openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let cert = crate::crypto::keygen::self_signed_certificate(&pkey, cn, 30).unwrap();
        VerificationKey::from_certificate(cert, "test").unwrap()
    }

    #[test]
    fn a_rotation_is_one_key_added_then_one_removed() {
        let a = KeyFact::of(&key("A"));
        let b = KeyFact::of(&key("B"));
        let only_a = vec![a.clone()];
        assert!(diff(&only_a, &only_a).is_empty());
        let rollover = diff(&only_a, &[a.clone(), b.clone()]);
        assert_eq!(rollover.added, vec![b.clone()]);
        assert!(rollover.removed.is_empty());
        let only_b = vec![b.clone()];
        let done = diff(&[a.clone(), b.clone()], &only_b);
        assert!(done.added.is_empty());
        assert_eq!(done.removed, vec![a.clone()]);
        assert_eq!(a.subject, "A");
        assert!(a.not_after.is_some());
        assert_eq!(a.fingerprint.len(), 32 * 3 - 1);
        assert!(done.to_string().contains(&a.fingerprint));
    }
}
