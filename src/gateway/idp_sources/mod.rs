//! IdP metadata that follows the IdP: the copy in use per IdP ([`directory`], swapped
//! atomically), and for `metadata_url` sources the fetch ([`fetch`]), the checks and the swap
//! ([`refresh`]), the schedule ([`schedule`]) and the last-known-good copy on disk ([`cache`]).
//! The pure parts (signature of the document, validity, key-set diff) are `saml::metadata_trust`
//! and `saml::key_set`; reading a source at configuration time is
//! `config::validate::idp::source`.

pub mod cache;
pub mod directory;
pub mod fetch;
pub mod refresh;
pub mod schedule;

use std::sync::Arc;

use time::OffsetDateTime;

use crate::config::{Config, MetadataSource};
use crate::ops::Metrics;
use crate::ops::clock::Clock;

pub use directory::{Current, IdpDirectory, KeyChange, NotReady};
pub use refresh::{RefreshError, Refreshed, Refresher};

/// The readiness and validUntil gauges of `idp`, as they are at `now`.
pub fn record_state(directory: &IdpDirectory, metrics: &Metrics, idp: &str, now: OffsetDateTime) {
    let usable = directory.usable(idp, now);
    metrics.set(
        "samlgate_idp_ready",
        &[("idp", idp)],
        if usable.is_ok() { 1.0 } else { 0.0 },
    );
    if let Some(until) = directory
        .current(idp)
        .and_then(|c| c.metadata.as_ref().and_then(|m| m.valid_until))
    {
        metrics.set(
            "samlgate_idp_metadata_valid_until_timestamp",
            &[("idp", idp)],
            until.unix_timestamp() as f64,
        );
    }
}

/// Start following every URL source of `config` (inside a Tokio runtime). The tasks end when
/// `directory` is dropped.
pub fn start(
    config: &Config,
    directory: &Arc<IdpDirectory>,
    metrics: &Arc<Metrics>,
    clock: &Clock,
) -> Result<(), fetch::FetchError> {
    let now = clock();
    for idp in &config.idps {
        record_state(directory, metrics, &idp.name, now);
    }
    let urls: Vec<_> = config
        .idps
        .iter()
        .filter_map(|i| match &i.source {
            MetadataSource::Url(u) => Some((i.name.clone(), u.clone())),
            MetadataSource::File => None,
        })
        .collect();
    if urls.is_empty() {
        return Ok(());
    }
    let client = fetch::client()?;
    for (name, source) in urls {
        Refresher {
            directory: directory.clone(),
            metrics: metrics.clone(),
            clock: clock.clone(),
            client: client.clone(),
        }
        .spawn(name, source);
    }
    Ok(())
}
