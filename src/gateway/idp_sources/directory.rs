//! The IdPs' metadata in use, one atomically swapped copy per IdP: a refresh replaces it as a
//! whole, a login takes its own reference once and keeps it to the end (a login in flight
//! during a swap finishes on the copy it started with).

use std::sync::Arc;

use arc_swap::ArcSwap;
use time::OffsetDateTime;

use crate::config::{Idp, IdpMetadataInUse};
use crate::crypto::keys::VerificationKey;
use crate::saml::key_set::{KeySetChange, diff, key_facts};
use crate::saml::time::format_instant;

/// The last key-set change of an IdP: when, and what.
#[derive(Clone, Debug)]
pub struct KeyChange {
    pub at: OffsetDateTime,
    pub change: KeySetChange,
    /// The keys that went away: a refused Response is tried against them, so the log can say
    /// it was signed by a key the IdP no longer publishes.
    pub removed_keys: Vec<VerificationKey>,
}

/// What is known of one IdP's metadata now.
#[derive(Clone, Debug, Default)]
pub struct Current {
    /// The copy in use; `None` until a first one was read or fetched.
    pub metadata: Option<Arc<IdpMetadataInUse>>,
    /// The last time a refresh changed the signing keys.
    pub key_change: Option<KeyChange>,
    /// Why the last fetch failed, when it did (cleared by the next success).
    pub last_error: Option<String>,
}

/// Why logins for an IdP are refused now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    #[error("IdP {idp}: no metadata yet (never fetched{})", last_error.as_ref().map(|e| format!("; last attempt: {e}")).unwrap_or_default())]
    NoMetadata {
        idp: String,
        last_error: Option<String>,
    },
    #[error("IdP {idp}: metadata expired at {valid_until} and no fresh copy could be fetched{}", last_error.as_ref().map(|e| format!(" (last attempt: {e})")).unwrap_or_default())]
    Expired {
        idp: String,
        valid_until: String,
        last_error: Option<String>,
    },
    #[error("IdP {0} is not configured")]
    Unknown(String),
}

impl NotReady {
    /// The IdP's name.
    pub fn idp(&self) -> &str {
        match self {
            NotReady::NoMetadata { idp, .. } | NotReady::Expired { idp, .. } => idp,
            NotReady::Unknown(idp) => idp,
        }
    }

    /// A few words without addresses or errors, for `/readyz` (which anyone may read).
    pub fn short(&self) -> &'static str {
        match self {
            NotReady::NoMetadata { .. } => "no metadata yet",
            NotReady::Expired { .. } => "metadata expired",
            NotReady::Unknown(_) => "not configured",
        }
    }
}

/// Every configured IdP's current metadata, in configuration order.
pub struct IdpDirectory {
    entries: Vec<(String, ArcSwap<Current>)>,
    /// Set when a reload replaced this directory: its refresh tasks stop.
    retired: std::sync::atomic::AtomicBool,
}

impl IdpDirectory {
    /// The metadata read with the configuration.
    pub fn new(idps: &[Idp]) -> Self {
        IdpDirectory {
            entries: idps
                .iter()
                .map(|i| {
                    let current = Current {
                        metadata: i.metadata.clone(),
                        ..Current::default()
                    };
                    (i.name.clone(), ArcSwap::from_pointee(current))
                })
                .collect(),
            retired: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// A reload replaced this directory: its sources stop being followed.
    pub fn retire(&self) {
        self.retired
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn is_retired(&self) -> bool {
        self.retired.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn entry(&self, name: &str) -> Option<&ArcSwap<Current>> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, e)| e)
    }

    /// What is known of `name` now.
    pub fn current(&self, name: &str) -> Option<Arc<Current>> {
        self.entry(name).map(ArcSwap::load_full)
    }

    /// The metadata a login for `name` uses at `now`, with the IdP's last key change. Expired
    /// metadata is never used.
    pub fn usable(
        &self,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<(Arc<IdpMetadataInUse>, Option<KeyChange>), NotReady> {
        let current = self
            .current(name)
            .ok_or_else(|| NotReady::Unknown(name.to_string()))?;
        let Some(metadata) = &current.metadata else {
            return Err(NotReady::NoMetadata {
                idp: name.to_string(),
                last_error: current.last_error.clone(),
            });
        };
        match metadata.valid_until {
            Some(until) if until <= now => Err(NotReady::Expired {
                idp: name.to_string(),
                valid_until: format_instant(until),
                last_error: current.last_error.clone(),
            }),
            _ => Ok((metadata.clone(), current.key_change.clone())),
        }
    }

    /// How many IdPs there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The IdPs whose logins are refused at `now`, and why (for `/readyz`).
    pub fn not_ready(&self, now: OffsetDateTime) -> Vec<NotReady> {
        self.entries
            .iter()
            .filter_map(|(name, _)| self.usable(name, now).err())
            .collect()
    }

    /// Swap in a new copy for `name` (a refresh that passed every check). Returns the key-set
    /// change against the copy it replaces, when there was one and the keys differ.
    pub fn install(
        &self,
        name: &str,
        metadata: Arc<IdpMetadataInUse>,
        now: OffsetDateTime,
    ) -> Option<KeySetChange> {
        let entry = self.entry(name)?;
        let mut change = None;
        entry.rcu(|old| {
            let found = old.metadata.as_ref().map(|m| {
                diff(
                    &key_facts(&m.signing_keys),
                    &key_facts(&metadata.signing_keys),
                )
            });
            change = found.filter(|c| !c.is_empty());
            let removed_keys = |c: &KeySetChange| -> Vec<VerificationKey> {
                old.metadata
                    .iter()
                    .flat_map(|m| m.signing_keys.iter())
                    .filter(|k| {
                        let fact = crate::saml::key_set::KeyFact::of(k);
                        c.removed.iter().any(|r| r.fingerprint == fact.fingerprint)
                    })
                    .cloned()
                    .collect()
            };
            Current {
                metadata: Some(metadata.clone()),
                key_change: match &change {
                    Some(c) => Some(KeyChange {
                        at: now,
                        change: c.clone(),
                        removed_keys: removed_keys(c),
                    }),
                    None => old.key_change.clone(),
                },
                last_error: None,
            }
        });
        change
    }

    /// A fetch for `name` failed: the copy in use stays; the reason is kept for `/readyz`.
    pub fn record_failure(&self, name: &str, error: &str) {
        if let Some(entry) = self.entry(name) {
            entry.rcu(|old| Current {
                last_error: Some(error.to_string()),
                ..Current::clone(old)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SsoBinding, SsoEndpoint};
    use crate::saml::metadata_trust::SignatureStatus;

    fn key(cn: &str) -> VerificationKey {
        let pkey =
            openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let cert = crate::crypto::keygen::self_signed_certificate(&pkey, cn, 30).unwrap();
        VerificationKey::from_certificate(cert, cn).unwrap()
    }

    fn metadata(
        keys: &[&VerificationKey],
        valid_until: Option<OffsetDateTime>,
    ) -> Arc<IdpMetadataInUse> {
        Arc::new(IdpMetadataInUse {
            entity_id: "https://idp.example/".into(),
            signing_keys: keys.iter().map(|k| (*k).clone()).collect(),
            sso: SsoEndpoint {
                binding: SsoBinding::Redirect,
                location: "https://idp.example/sso".into(),
            },
            want_authn_requests_signed: false,
            slo: Vec::new(),
            encryption_certificates: Vec::new(),
            valid_until,
            cache_duration: None,
            signature: SignatureStatus::NotChecked,
            origin: "test".into(),
        })
    }

    fn directory() -> IdpDirectory {
        IdpDirectory {
            entries: vec![("corp".into(), ArcSwap::from_pointee(Current::default()))],
            retired: std::sync::atomic::AtomicBool::new(false),
        }
    }

    #[test]
    fn no_copy_or_an_expired_copy_is_not_ready_and_says_why() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(10_000);
        let d = directory();
        d.record_failure("corp", "connection refused");
        let err = d.usable("corp", now).unwrap_err();
        assert_eq!(err.short(), "no metadata yet");
        assert!(err.to_string().contains("connection refused"), "{err}");
        let a = key("A");
        d.install(
            "corp",
            metadata(&[&a], Some(now + time::Duration::hours(1))),
            now,
        );
        assert!(d.usable("corp", now).is_ok());
        assert!(d.current("corp").unwrap().last_error.is_none());
        let later = now + time::Duration::hours(1);
        let err = d.usable("corp", later).unwrap_err();
        assert_eq!(err.short(), "metadata expired");
        assert_eq!(d.not_ready(later), vec![err]);
        assert!(matches!(d.usable("other", now), Err(NotReady::Unknown(_))));
    }

    #[test]
    fn a_swap_reports_the_key_change_and_keeps_the_removed_keys_for_the_hint() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let (a, b) = (key("A"), key("B"));
        let d = directory();
        assert!(
            d.install("corp", metadata(&[&a], None), now).is_none(),
            "first copy"
        );
        let held = d.usable("corp", now).unwrap().0;
        assert!(
            d.install("corp", metadata(&[&a], None), now).is_none(),
            "same keys"
        );
        let later = now + time::Duration::hours(1);
        let change = d.install("corp", metadata(&[&b], None), later).unwrap();
        assert_eq!(change.added.len(), 1);
        assert_eq!(change.removed.len(), 1);
        let (current, key_change) = d.usable("corp", later).unwrap();
        let key_change = key_change.unwrap();
        assert_eq!(key_change.at, later);
        assert_eq!(key_change.removed_keys.len(), 1);
        assert_eq!(key_change.removed_keys[0].description, a.description);
        assert_eq!(current.signing_keys[0].description, b.description);
        // A login that took the old copy keeps it.
        assert_eq!(held.signing_keys[0].description, a.description);
        // A failed refresh afterwards leaves the copy and the last change in place.
        d.record_failure("corp", "bad signature");
        assert!(d.usable("corp", later).unwrap().1.is_some());
    }
}
