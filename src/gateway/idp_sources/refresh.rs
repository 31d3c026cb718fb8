//! Following one URL source: fetch, check (signature, entity, expiry) off the event loops,
//! store the last-known-good copy, swap it in, and report what changed. A document that fails
//! any check never replaces the copy in use.

use std::sync::{Arc, Weak};
use std::time::Duration;

use time::OffsetDateTime;

use crate::config::validate::idp::source::{MIN_REFRESH, MetadataRefused, read_metadata};
use crate::config::{IdpMetadataInUse, MetadataUrl};
use crate::ops::Metrics;
use crate::ops::audit;
use crate::ops::clock::Clock;
use crate::saml::key_set::KeySetChange;
use crate::saml::time::format_instant;

use super::directory::IdpDirectory;
use super::fetch::{self, FetchError, Fetched, Validators};
use super::schedule::{self, Hints};

/// Why a refresh brought no new copy.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Refused(#[from] MetadataRefused),
    #[error("checking the document did not finish: {0}")]
    Worker(String),
}

impl RefreshError {
    pub fn kind(&self) -> &'static str {
        match self {
            RefreshError::Fetch(e) => e.kind(),
            RefreshError::Refused(e) => e.kind(),
            RefreshError::Worker(_) => "internal",
        }
    }
}

/// What a successful refresh did.
#[derive(Debug)]
pub enum Refreshed {
    /// A new copy is in use; `change` when its signing keys differ from the previous copy's.
    Updated {
        metadata: Arc<IdpMetadataInUse>,
        change: Option<KeySetChange>,
        http_max_age: Option<Duration>,
    },
    /// 304: the copy in use is current.
    NotModified { http_max_age: Option<Duration> },
}

/// What refreshing needs, shared by every source's task.
#[derive(Clone)]
pub struct Refresher {
    pub directory: Arc<IdpDirectory>,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    pub client: reqwest::Client,
}

/// Fetch and check the document at `url` once; an Err leaves the copy in use as it was.
pub async fn fetch_and_check(
    client: &reqwest::Client,
    source: &MetadataUrl,
    validators: &Validators,
    now: OffsetDateTime,
) -> Result<
    (
        Option<(IdpMetadataInUse, Vec<u8>, Validators)>,
        Option<Duration>,
    ),
    RefreshError,
> {
    match fetch::fetch(client, &source.url, validators, fetch::max_bytes()).await? {
        Fetched::NotModified { max_age } => Ok((None, max_age)),
        Fetched::Document {
            bytes,
            validators,
            max_age,
        } => {
            let origin = source.url.to_string();
            let entity_id = source.entity_id.clone();
            let pinned = source.signing_certs.clone();
            // Parsing and verifying a federation aggregate takes CPU seconds: off the event loops.
            let (read, bytes) = tokio::task::spawn_blocking(move || {
                let read = read_metadata(&bytes, &origin, entity_id.as_deref(), &pinned, Some(now));
                (read, bytes)
            })
            .await
            .map_err(|e| RefreshError::Worker(e.to_string()))?;
            Ok((Some((read?, bytes, validators)), max_age))
        }
    }
}

impl Refresher {
    /// One refresh of IdP `idp` from `source`: on success the new copy is stored, swapped in
    /// and reported; on failure the reason is logged and kept, the copy in use stays.
    pub async fn refresh(
        &self,
        idp: &str,
        source: &MetadataUrl,
        validators: &mut Validators,
    ) -> Result<Refreshed, RefreshError> {
        let now = (self.clock)();
        let result = fetch_and_check(&self.client, source, validators, now).await;
        let outcome = match result {
            Err(e) => {
                self.failed(idp, source, &e, now);
                return Err(e);
            }
            Ok((None, http_max_age)) => Refreshed::NotModified { http_max_age },
            Ok((Some((metadata, bytes, found)), http_max_age)) => {
                *validators = found;
                let cache_file = source.cache_file.clone();
                let stored =
                    tokio::task::spawn_blocking(move || super::cache::store(&cache_file, &bytes))
                        .await;
                match stored {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::warn!(
                        idp,
                        "cannot store the last-known-good copy in {}: {e}",
                        source.cache_file.display()
                    ),
                    Err(e) => tracing::warn!(idp, "storing the last-known-good copy: {e}"),
                }
                let metadata = Arc::new(metadata);
                let change = self.directory.install(idp, metadata.clone(), now);
                if let Some(change) = &change {
                    keys_changed(&self.metrics, idp, change);
                }
                tracing::info!(
                    idp,
                    url = %source.url,
                    valid_until = metadata.valid_until.map(format_instant).unwrap_or_default(),
                    signature = %metadata.signature,
                    "IdP metadata refreshed"
                );
                Refreshed::Updated {
                    metadata,
                    change,
                    http_max_age,
                }
            }
        };
        self.succeeded(idp, &outcome, now);
        Ok(outcome)
    }

    fn succeeded(&self, idp: &str, outcome: &Refreshed, now: OffsetDateTime) {
        let result = match outcome {
            Refreshed::Updated { metadata, .. } => {
                // The certificates in use now, as at start (`state::record_certificate_expiry`).
                for (i, key) in metadata.signing_keys.iter().enumerate() {
                    if let Some(t) = key
                        .certificate
                        .as_ref()
                        .and_then(|c| crate::crypto::keys::not_after_unix(c))
                    {
                        self.metrics.set(
                            "samlgate_certificate_expiry_timestamp_seconds",
                            &[("owner", idp), ("use", &format!("signing{i}"))],
                            t as f64,
                        );
                    }
                }
                "updated"
            }
            Refreshed::NotModified { .. } => "not_modified",
        };
        self.metrics.inc(
            "samlgate_idp_metadata_refresh_total",
            &[("idp", idp), ("result", result)],
        );
        self.metrics.set(
            "samlgate_idp_metadata_last_success_timestamp",
            &[("idp", idp)],
            now.unix_timestamp() as f64,
        );
        super::record_state(&self.directory, &self.metrics, idp, now);
    }

    fn failed(&self, idp: &str, source: &MetadataUrl, e: &RefreshError, now: OffsetDateTime) {
        self.metrics.inc(
            "samlgate_idp_metadata_refresh_total",
            &[("idp", idp), ("result", e.kind())],
        );
        self.directory.record_failure(idp, &e.to_string());
        let in_use = match self.directory.usable(idp, now) {
            Ok((m, _)) => format!(
                "still using the copy from {} (validUntil {})",
                m.origin,
                m.valid_until
                    .map(format_instant)
                    .unwrap_or_else(|| "none".into())
            ),
            Err(not_ready) => format!("logins refused: {not_ready}"),
        };
        tracing::warn!(idp, url = %source.url, kind = e.kind(), "IdP metadata refresh failed: {e}; {in_use}");
        super::record_state(&self.directory, &self.metrics, idp, now);
    }

    /// Follow `source` until the directory is dropped or retired: fetch now, then again when the schedule
    /// says (jittered backoff after failures).
    pub fn spawn(self, idp: String, source: MetadataUrl) {
        let directory = Arc::downgrade(&self.directory);
        let Refresher {
            metrics,
            clock,
            client,
            ..
        } = self;
        tokio::spawn(follow(directory, metrics, clock, client, idp, source));
    }
}

async fn follow(
    directory: Weak<IdpDirectory>,
    metrics: Arc<Metrics>,
    clock: Clock,
    client: reqwest::Client,
    idp: String,
    source: MetadataUrl,
) {
    let mut validators = Validators::default();
    let mut failures: u32 = 0;
    loop {
        let Some(directory) = directory.upgrade().filter(|d| !d.is_retired()) else {
            return;
        };
        let refresher = Refresher {
            directory,
            metrics: metrics.clone(),
            clock: clock.clone(),
            client: client.clone(),
        };
        let wait = match refresher.refresh(&idp, &source, &mut validators).await {
            Ok(outcome) => {
                failures = 0;
                let http_max_age = match &outcome {
                    Refreshed::Updated { http_max_age, .. }
                    | Refreshed::NotModified { http_max_age } => *http_max_age,
                };
                let current = refresher
                    .directory
                    .current(&idp)
                    .and_then(|c| c.metadata.clone());
                let hints = Hints {
                    cache_duration: current
                        .as_ref()
                        .and_then(|m| m.cache_duration)
                        .and_then(|d| Duration::try_from(d).ok()),
                    valid_until: current.as_ref().and_then(|m| m.valid_until),
                    http_max_age,
                };
                schedule::after_success(source.refresh, MIN_REFRESH, hints, (clock)())
            }
            Err(_) => {
                failures = failures.saturating_add(1);
                schedule::after_failure(source.refresh, MIN_REFRESH, failures, rand::random())
            }
        };
        drop(refresher);
        tokio::time::sleep(wait).await;
    }
}

/// A key-set change: the log line (old and new fingerprints, not-after dates), the audit
/// trail, the counter.
fn keys_changed(metrics: &Metrics, idp: &str, change: &KeySetChange) {
    let list = |facts: &[crate::saml::key_set::KeyFact]| {
        facts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let (added, removed) = (list(&change.added), list(&change.removed));
    tracing::warn!(idp, %added, %removed, "IdP signing keys changed: {change}");
    audit::idp_keys_changed(idp, &added, &removed);
    metrics.inc("samlgate_idp_signing_keys_changed_total", &[("idp", idp)]);
}
