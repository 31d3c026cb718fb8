//! Where an IdP's metadata comes from: `metadata` (a file), `metadata_url` (fetched by the
//! gateway, with its last-known-good copy in `metadata_cache_dir`), `metadata_signing_cert`
//! (pinned certificates the document must be signed by). Reading the configuration never goes
//! to the network: a URL source starts from its cached copy (or the `metadata` file beside it),
//! and `gateway::idp_sources` fetches it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;
use url::Url;

use super::super::fields::{duration_field, is_loopback_host, read_file, resolve, span_of};
use super::super::keys::load_cert;
use crate::config::as_written::RawIdp;
use crate::config::model::{IdpMetadataInUse, MetadataSource, MetadataUrl};
use crate::config::problems::Problems;
use crate::crypto::keys::VerificationKey;
use crate::saml::metadata_trust::{MetadataTrustError, trust_metadata};

/// The shortest `metadata_refresh`, and the floor of every wait the server's hints suggest.
pub const MIN_REFRESH: Duration = Duration::from_secs(5);
/// `metadata_refresh` when not set.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(3600);
/// `metadata_cache_dir` when not set, beside the configuration file.
pub const DEFAULT_CACHE_DIR: &str = "metadata-cache";

/// The source, the metadata in hand and the file it was read from.
pub(super) struct Sourced {
    pub source: MetadataSource,
    pub metadata: Option<Arc<IdpMetadataInUse>>,
    pub file: std::path::PathBuf,
}

/// `metadata_signing_cert`: every listed certificate, loaded.
fn signing_certs(
    r: &RawIdp,
    base: &Path,
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) -> Vec<VerificationKey> {
    let Some(field) = &r.metadata_signing_cert else {
        return Vec::new();
    };
    if field.get_ref().items().is_empty() {
        p.error(
            key("metadata_signing_cert"),
            Some(field.span()),
            "lists no certificate",
        );
    }
    let mut certs = Vec::new();
    for item in field.get_ref().items() {
        let spanned = Spanned::new(field.span(), item.to_string());
        let k = key("metadata_signing_cert");
        if let Some(cert) = load_cert(base, &spanned, &k, p) {
            match VerificationKey::from_certificate(cert, &format!("metadata_signing_cert {item}"))
            {
                Ok(v) => certs.push(v),
                Err(e) => p.error(k, Some(field.span()), format!("{item}: {e}")),
            }
        }
    }
    certs
}

/// Why a document is not used as an IdP's metadata.
#[derive(Debug, thiserror::Error)]
pub enum MetadataRefused {
    #[error(transparent)]
    Trust(#[from] MetadataTrustError),
    #[error("{0}")]
    Unusable(String),
}

impl MetadataRefused {
    /// Stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            MetadataRefused::Trust(e) => e.kind(),
            MetadataRefused::Unusable(_) => "unusable",
        }
    }
}

/// Read `bytes` as this IdP's metadata: signature (when certificates are pinned), entity, SSO
/// endpoint. `enforce_expiry`: a copy past its validUntil is refused (fetched copies); a file the
/// admin placed is only warned about by the caller.
pub fn read_metadata(
    bytes: &[u8],
    origin: &str,
    entity_id: Option<&str>,
    pinned: &[VerificationKey],
    enforce_expiry: Option<time::OffsetDateTime>,
) -> Result<IdpMetadataInUse, MetadataRefused> {
    let trusted = trust_metadata(bytes, origin, entity_id, pinned)?;
    if let Some(now) = enforce_expiry {
        trusted.check_not_expired(origin, now)?;
    }
    IdpMetadataInUse::from_trusted(trusted, origin).map_err(MetadataRefused::Unusable)
}

pub(super) fn source(
    name: Option<&str>,
    r: &RawIdp,
    base: &Path,
    section: Option<std::ops::Range<usize>>,
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) -> Option<Sourced> {
    let pinned = signing_certs(r, base, key, p);
    let entity_id = r.entity_id.as_ref().map(|e| e.get_ref().as_str());
    // The URL to follow: `metadata_url`, or the Metadata Query URL for `entity_id`.
    let url_field: Option<(String, std::ops::Range<usize>, &str)> =
        match (&r.metadata_url, &r.mdq_url) {
            (Some(_), Some(mdq)) => {
                p.error(
                    key("mdq_url"),
                    Some(mdq.span()),
                    "set metadata_url or mdq_url, not both",
                );
                None
            }
            (Some(u), None) => Some((u.get_ref().clone(), u.span(), "metadata_url")),
            (None, Some(mdq)) => {
                mdq_query(mdq, entity_id, &pinned, key, p).map(|u| (u, mdq.span(), "mdq_url"))
            }
            (None, None) => None,
        };
    if url_field.is_none() {
        for (k, f) in [
            ("metadata_refresh", span_of(&r.metadata_refresh)),
            ("metadata_cache_dir", span_of(&r.metadata_cache_dir)),
        ] {
            if f.is_some() {
                p.error(key(k), f, "applies only with metadata_url or mdq_url");
            }
        }
    }
    let Some(url_field) = url_field else {
        let Some(file_field) = r.metadata.as_ref() else {
            p.error(
                key("metadata"),
                section,
                "required key is missing (metadata = \"file\" or metadata_url = \"https://...\")",
            );
            return None;
        };
        let (file, bytes) = read_file(base, file_field, &key("metadata"), p)?;
        let origin = file.display().to_string();
        return match read_metadata(&bytes, &origin, entity_id, &pinned, None) {
            Ok(m) => Some(Sourced {
                source: MetadataSource::File,
                metadata: Some(Arc::new(m)),
                file,
            }),
            Err(e) => {
                p.error(key("metadata"), Some(file_field.span()), e.to_string());
                None
            }
        };
    };
    let (url_text, url_span, url_key) = url_field;
    let url = match Url::parse(&url_text) {
        Ok(u) if u.scheme() == "https" => Some(u),
        Ok(u) if u.scheme() == "http" && (is_loopback_host(&u) || !pinned.is_empty()) => Some(u),
        Ok(u) if u.scheme() == "http" => {
            p.error(
                key(url_key),
                Some(url_span.clone()),
                "plain http is allowed only to a loopback host, or with metadata_signing_cert set (anyone on the path could hand over their own keys): use https",
            );
            None
        }
        Ok(u) => {
            p.error(
                key(url_key),
                Some(url_span.clone()),
                format!("scheme {} is not supported: use https", u.scheme()),
            );
            None
        }
        Err(e) => {
            p.error(
                key(url_key),
                Some(url_span.clone()),
                format!("not a URL: {e}"),
            );
            None
        }
    };
    let refresh = duration_field(
        &r.metadata_refresh,
        &key("metadata_refresh"),
        time::Duration::try_from(DEFAULT_REFRESH).unwrap_or(time::Duration::HOUR),
        p,
    )
    .and_then(|d| {
        let d = Duration::try_from(d).ok()?;
        if d < MIN_REFRESH {
            p.error(
                key("metadata_refresh"),
                span_of(&r.metadata_refresh),
                format!("is below the minimum of {} s", MIN_REFRESH.as_secs()),
            );
            return None;
        }
        Some(d)
    });
    let cache_dir = resolve(
        base,
        r.metadata_cache_dir
            .as_ref()
            .map_or(DEFAULT_CACHE_DIR, |d| d.get_ref().as_str()),
    );
    let cache_file = cache_dir.join(format!("{}.xml", name.unwrap_or("idp")));
    let now = time::OffsetDateTime::now_utc();
    // The copy to start from: the cached one, else the `metadata` file given beside the URL.
    let mut metadata = None;
    let mut file = cache_file.clone();
    if let Ok(bytes) = std::fs::read(&cache_file) {
        let origin = cache_file.display().to_string();
        match read_metadata(&bytes, &origin, entity_id, &pinned, Some(now)) {
            Ok(m) => metadata = Some(Arc::new(m)),
            Err(e) => p.warning(
                key("metadata_cache_dir"),
                span_of(&r.metadata_cache_dir),
                format!("the cached copy is not used: {e}"),
            ),
        }
    }
    if metadata.is_none()
        && let Some(file_field) = r.metadata.as_ref()
        && let Some((path, bytes)) = read_file(base, file_field, &key("metadata"), p)
    {
        let origin = path.display().to_string();
        match read_metadata(&bytes, &origin, entity_id, &pinned, Some(now)) {
            Ok(m) => {
                metadata = Some(Arc::new(m));
                file = path;
            }
            Err(e) => p.error(key("metadata"), Some(file_field.span()), e.to_string()),
        }
    }
    if pinned.is_empty()
        && let Some(u) = &url
    {
        p.warning(
            key(url_key),
            Some(url_span.clone()),
            format!(
                "metadata from {u} is trusted because of TLS alone: set metadata_signing_cert unless {} is a host you control",
                u.host_str().unwrap_or_default()
            ),
        );
    }
    Some(Sourced {
        source: MetadataSource::Url(MetadataUrl {
            url: url?,
            refresh: refresh?,
            cache_file,
            entity_id: entity_id.map(str::to_string),
            signing_certs: pinned,
        }),
        metadata,
        file,
    })
}

/// The Metadata Query URL of `entity_id` under `mdq_url`: `BASE/entities/{sha1}HEX`. A query
/// service's answers are trusted only by their signature, so a signing certificate is required.
fn mdq_query(
    mdq: &Spanned<String>,
    entity_id: Option<&str>,
    pinned: &[VerificationKey],
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) -> Option<String> {
    if pinned.is_empty() {
        p.error(
            key("mdq_url"),
            Some(mdq.span()),
            "needs metadata_signing_cert: the answers of a metadata query service are trusted only by their signature",
        );
    }
    let Some(entity_id) = entity_id else {
        p.error(
            key("mdq_url"),
            Some(mdq.span()),
            "needs entity_id: the IdP to ask the metadata query service for",
        );
        return None;
    };
    let digest =
        openssl::hash::hash(openssl::hash::MessageDigest::sha1(), entity_id.as_bytes()).ok()?;
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!(
        "{}/entities/%7Bsha1%7D{hex}",
        mdq.get_ref().trim_end_matches('/')
    ))
}
