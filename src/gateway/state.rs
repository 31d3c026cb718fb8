//! Everything the handlers share: the validated configuration, the stores, metrics, the clock.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::config::{Config, Idp, SessionStoreKind};
use crate::crypto::keys::not_after_unix;
use crate::ops::Metrics;
use crate::saml::policy::SpIdentity;
use crate::saml::sp_metadata::{SpMetadata, SpMetadataError, sign_metadata};
use crate::session::{SessionSettings, Sessions, Stores};
use crate::store::{ReplayCache, SessionIndex, StoreError};

use super::idp_sources::IdpDirectory;
use super::login_seal::{LoginSeal, SealError};
use crate::proxy::{Proxy, ProxyConfig, ProxyConfigError};
use crate::server::offload::Offload;

pub use crate::ops::clock::{Clock, system_clock};

pub struct AppState {
    pub config: Config,
    pub sp: SpIdentity,
    /// Seals the logins in progress that browsers carry (see `relay_state`).
    pub login_seal: LoginSeal,
    /// Assertion IDs and answered AuthnRequest IDs.
    pub replay: Arc<dyn ReplayCache>,
    /// (IdP, NameID, SessionIndex) -> session IDs, for single logout.
    pub session_index: Arc<dyn SessionIndex>,
    /// The stores behind `replay`, `session_index` and the session layer.
    pub stores: Stores,
    /// ACS validations, off the event loops, `[server] acs_concurrency` at once.
    pub acs_work: Arc<Offload>,
    /// AuthnRequests signed for visitors without a session, off the event loops, as many at
    /// once as ACS validations.
    pub login_work: Arc<Offload>,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    /// The SP metadata document, built once at startup.
    pub sp_metadata: String,
    pub proxy: Proxy,
    /// Look up, establish and end sessions (and this node's cache of them).
    pub sessions: Sessions,
    /// TLS on the listener (`[server] tls_cert`), its certificate followed by a task.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// The IdPs' metadata in use, swapped as their sources refresh (`idp_sources`).
    pub idp_metadata: Arc<IdpDirectory>,
    /// Bearer access tokens of `[[oauth]]` issuers (API clients).
    pub bearer: crate::oauth::Bearer,
}

/// Why the shared state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Metadata(#[from] SpMetadataError),
    #[error(transparent)]
    Proxy(#[from] ProxyConfigError),
    #[error("cannot open the session store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot derive the login cookie key from the SP key: {0}")]
    Seal(#[from] SealError),
    #[error("server.tls_cert: {0}")]
    Tls(#[from] crate::server::tls::TlsError),
    #[error("cannot follow IdP metadata URLs: {0}")]
    IdpSources(#[from] super::idp_sources::fetch::FetchError),
    #[error("cannot set up fetching the [[oauth]] issuers' keys: {0}")]
    OAuth(#[from] crate::oauth::fetch::FetchError),
}

/// The proxy settings for a configuration.
pub fn proxy_config(config: &Config) -> ProxyConfig {
    let mut p = ProxyConfig::new(config.backend.url.as_str().trim_end_matches('/'));
    p.connect_timeout = std::time::Duration::from_secs(
        config
            .backend
            .connect_timeout
            .whole_seconds()
            .unsigned_abs(),
    );
    p.pools = config.server.event_loop_count();
    p.tls = crate::proxy::tls::BackendTls {
        ca: config.backend.ca.clone(),
        client_cert: config.backend.client_cert.clone(),
    };
    p.public_host = Some(public_authority(&config.server.public_url));
    p.loop_mark = Some(crate::proxy::edge::LoopMark::for_entity_id(
        &config.sp.entity_id,
    ));
    p.response_timeout = std::time::Duration::from_secs(
        config
            .backend
            .request_timeout
            .whole_seconds()
            .unsigned_abs(),
    );
    p.body_timeout = config.backend.body_timeout.unsigned_abs();
    p.websocket_idle_timeout = config.backend.websocket_idle_timeout.unsigned_abs();
    p
}

/// `host[:port]` of a URL, the port only when it is not the scheme's default (as a browser
/// writes `Host`).
pub fn public_authority(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

impl AppState {
    /// The state for `config`, with the stores it names (Redis: must run inside a Tokio runtime).
    pub fn new(config: Config, clock: Clock) -> Result<Self, StateError> {
        let stores = match &config.session.store {
            SessionStoreKind::Memory => Stores::memory(),
            SessionStoreKind::Redis(settings) => Stores::redis(settings)?,
        };
        Self::with_stores(config, clock, stores)
    }

    /// The state for `config` over the given stores.
    pub fn with_stores(config: Config, clock: Clock, stores: Stores) -> Result<Self, StateError> {
        Self::with_stores_and_metrics(config, clock, stores, Arc::new(Metrics::new()))
    }

    /// The state for `config` over the given stores and metrics: what a reload builds, so that
    /// sessions and counters carry over.
    pub fn with_stores_and_metrics(
        config: Config,
        clock: Clock,
        stores: Stores,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StateError> {
        let mut decryption_keys = vec![config.sp.key.clone()];
        decryption_keys.extend(config.sp.old_keys.iter().cloned());
        let sp = SpIdentity {
            entity_id: config.sp.entity_id.clone(),
            acs_url: config.server.acs_url(),
            decryption_keys,
        };
        let old_keys: Vec<_> = config.sp.old_keys.iter().map(|k| &k.key).collect();
        let login_seal = LoginSeal::new(&config.sp.key.key, &old_keys, &config.sp.entity_id)?;
        let heavy = config.server.acs_validations().get();
        let acs_work = Arc::new(Offload::new("ACS validation", heavy));
        let login_work = Arc::new(Offload::new("AuthnRequest signing", heavy));
        let sp_metadata = sp_metadata_xml(&config)?;
        record_certificate_expiry(&config, &metrics);
        let proxy = Proxy::new(&proxy_config(&config))?;
        let sessions = Sessions::new(
            &stores,
            SessionSettings {
                idle_timeout: config.session.idle_timeout,
                contract: config.headers.clone(),
                metrics: metrics.clone(),
                clock: clock.clone(),
            },
        )?;
        let tls = config.server.tls.as_ref().map(tls_acceptor).transpose()?;
        let idp_metadata = Arc::new(IdpDirectory::new(&config.idps));
        let bearer =
            crate::oauth::Bearer::new(&config.oauth, config.headers.clone(), metrics.clone())?;
        Ok(AppState {
            tls,
            idp_metadata,
            bearer,
            proxy,
            sessions,
            sp,
            login_seal,
            replay: stores.replay.clone(),
            session_index: stores.session_index.clone(),
            stores,
            acs_work,
            login_work,
            metrics,
            clock,
            sp_metadata,
            config,
        })
    }

    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    pub fn idp(&self, name: &str) -> Option<&Idp> {
        self.config.idps.iter().find(|i| i.name == name)
    }

    /// `idp`'s SingleLogoutService endpoints with a binding samlgate speaks, from its metadata in
    /// use now: a refresh that adds, moves or removes them applies at once, as it does to keys.
    /// None with `slo = false`; the ones read at load while no copy is in hand.
    pub fn slo_endpoints(&self, idp: &Idp) -> Vec<crate::saml::metadata::Endpoint> {
        if idp.slo_off {
            return Vec::new();
        }
        match self
            .idp_metadata
            .current(&idp.name)
            .and_then(|current| current.metadata.clone())
        {
            Some(metadata) => crate::config::validate::idp::slo::usable_endpoints(&metadata.slo),
            None => idp.slo.clone(),
        }
    }

    /// With `encrypt_logout_name_id = true`, the certificate our LogoutRequests encrypt the
    /// NameID to: the first encryption certificate of `idp`'s metadata in use now. `Ok(None)`
    /// when the setting is off; `Err` when it is on and that metadata has none (the NameID is
    /// then never sent in clear: no LogoutRequest goes).
    pub fn logout_encryption(&self, idp: &Idp) -> Result<Option<openssl::x509::X509>, String> {
        if !idp.encrypt_logout_name_id {
            return Ok(None);
        }
        let current = self
            .idp_metadata
            .current(&idp.name)
            .and_then(|current| current.metadata.clone());
        let certificate = match &current {
            Some(metadata) => metadata.encryption_certificates.first().cloned(),
            None => idp.logout_name_id_encryption.clone(),
        };
        certificate.map(Some).ok_or_else(|| {
            format!(
                "encrypt_logout_name_id = true, but the metadata of IdP {} in use has no encryption certificate",
                idp.name
            )
        })
    }

    /// `idp`'s policy with the signing keys of its metadata in use now (they change when its
    /// source refreshes); `None` while the IdP is not ready (no metadata, or expired).
    pub fn current_policy(
        &self,
        idp: &Idp,
        now: time::OffsetDateTime,
    ) -> Option<crate::saml::policy::IdpPolicy> {
        self.idp_metadata
            .usable(&idp.name, now)
            .ok()
            .map(|(metadata, _)| metadata.policy(&idp.policy))
    }
}

/// The TLS acceptor for `files`; the task that reloads its certificate (on SIGHUP, when the
/// files change) is started on the runtime this runs in, if any.
fn tls_acceptor(
    files: &crate::config::TlsFiles,
) -> Result<tokio_rustls::TlsAcceptor, crate::server::tls::TlsError> {
    let (acceptor, slot) = crate::server::tls::acceptor(files)?;
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            // The acceptor's configuration holds the slot; the watcher only looks at it, and
            // ends once the acceptor is gone.
            runtime.spawn(crate::server::tls::reload::watch(Arc::downgrade(&slot)));
        }
        Err(_) => tracing::warn!("no runtime: the TLS certificate will not be reloaded"),
    }
    Ok(acceptor)
}

/// The SP metadata for `config`.
pub fn sp_metadata_xml(config: &Config) -> Result<String, SpMetadataError> {
    let mut certificates = vec![&config.sp.cert];
    if let Some(next) = &config.sp.next_cert {
        certificates.push(next);
    }
    let mut name_id_formats: Vec<String> = config
        .idps
        .iter()
        .filter_map(|i| i.name_id_policy.clone())
        .collect();
    name_id_formats.sort();
    name_id_formats.dedup();
    let acs_url = config.server.acs_url();
    let slo_url = config.server.url_for("/saml/slo");
    let xml = SpMetadata {
        entity_id: &config.sp.entity_id,
        acs_url: &acs_url,
        slo_url: config
            .idps
            .iter()
            // A URL source may bring SLO endpoints with a later copy.
            .any(|i| {
                !i.slo_off
                    && (!i.slo.is_empty()
                        || matches!(i.source, crate::config::MetadataSource::Url(_)))
            })
            .then_some(slo_url.as_str()),
        certificates,
        authn_requests_signed: config.sp.sign_authn_requests,
        want_assertions_signed: true,
        name_id_formats,
        accept_cbc: config.idps.iter().any(|i| i.policy.allow_cbc),
    }
    .to_xml()?;
    if config.sp.sign_metadata {
        sign_metadata(&xml, &config.sp.key.key, &config.sp.cert)
    } else {
        Ok(xml)
    }
}

/// A certificate's notAfter as a gauge value.
fn expiry_gauge(cert: &openssl::x509::X509Ref) -> Option<f64> {
    not_after_unix(cert).map(|t| t as f64)
}

/// Certificate notAfter gauges, so expiry can be alerted on (docs/security.md: expiry is reported,
/// it never gates verification).
fn record_certificate_expiry(config: &Config, metrics: &Metrics) {
    let name = "samlgate_certificate_expiry_timestamp_seconds";
    if let Some(t) = expiry_gauge(&config.sp.cert) {
        metrics.set(name, &[("owner", "sp"), ("use", "current")], t);
    }
    if let Some(t) = config.sp.next_cert.as_ref().and_then(|c| expiry_gauge(c)) {
        metrics.set(name, &[("owner", "sp"), ("use", "next")], t);
    }
    for idp in &config.idps {
        for (i, key) in idp.policy.signing_keys.iter().enumerate() {
            if let Some(t) = key.certificate.as_ref().and_then(|c| expiry_gauge(c)) {
                metrics.set(
                    name,
                    &[
                        ("owner", idp.name.as_str()),
                        ("use", &format!("signing{i}")),
                    ],
                    t,
                );
            }
        }
    }
}
