//! `[[idp]]`: whom we trust (their metadata), how we ask them, and how their logins map.

pub mod slo;
pub mod source;

use std::path::Path;

use time::Duration;
use toml::Spanned;

use super::fields::{bool_of, duration_field, label_name, required, resolve, span_of};
use super::keys::{EXPIRY_WARNING_DAYS, check_key_strength, warn_if_expiring};
use crate::config::as_written::RawIdp;
use crate::config::duration::format_duration;
use crate::config::model::{Idp, IdpMetadataInUse};
use crate::config::problems::{Problems, Severity};
use crate::mapping::{MappingLoadError, MappingTable, validate_against_routes};
use crate::saml::policy::{DEFAULT_CLOCK_SKEW, IdpPolicy, MAX_CLOCK_SKEW};

/// Load a mapping table; its own problems are reported against its own file and lines.
pub(super) fn mapping_table(
    base: &Path,
    field: &Spanned<String>,
    key: &str,
    route_groups: &[&str],
    p: &mut Problems,
) -> Option<MappingTable> {
    let path = resolve(base, field.get_ref());
    match MappingTable::load(&path) {
        Ok(table) => {
            // Without routes that restrict by access group, the group only informs the
            // backend; the "not mentioned by any route" warnings would be noise.
            let warnings = if route_groups.is_empty() {
                Vec::new()
            } else {
                validate_against_routes(&table, route_groups)
            };
            for w in warnings.into_iter().chain(table.warnings().iter().cloned()) {
                p.external(Severity::Warning, &w.file, w.line, w.key, w.message);
            }
            Some(table)
        }
        Err(MappingLoadError::Invalid { file, problems }) => {
            for problem in problems {
                p.external(
                    Severity::Error,
                    &file,
                    problem.line,
                    problem.key,
                    problem.kind.to_string(),
                );
            }
            None
        }
        Err(e) => {
            p.error(key, Some(field.span()), e.to_string());
            None
        }
    }
}

pub(super) fn idp(
    i: usize,
    raw: &Spanned<RawIdp>,
    base: &Path,
    route_groups: &[&str],
    p: &mut Problems,
) -> Option<Idp> {
    let key = |k: &str| format!("idp[{i}].{k}");
    let span = Some(raw.span());
    let r = raw.get_ref();
    let name = required(&r.name, &key("name"), span.clone(), p)
        .and_then(|n| label_name(n, &key("name"), "URLs and metric labels", p));
    let skew =
        duration_field(&r.clock_skew, &key("clock_skew"), DEFAULT_CLOCK_SKEW, p).and_then(|d| {
            if d > MAX_CLOCK_SKEW {
                let span = r.clock_skew.as_ref().map(Spanned::span);
                p.error(
                    key("clock_skew"),
                    span,
                    format!(
                        "{} is over the maximum of {}",
                        format_duration(d),
                        format_duration(MAX_CLOCK_SKEW)
                    ),
                );
                None
            } else {
                Some(d)
            }
        });
    let mapping = required(&r.mapping, &key("mapping"), span.clone(), p)
        .and_then(|m| mapping_table(base, m, &key("mapping"), route_groups, p));
    let key_fn = |k: &str| key(k);
    let sourced = source::source(name.as_deref(), r, base, span, &key_fn, p)?;
    let meta_span = span_of(&r.metadata).or_else(|| span_of(&r.metadata_url));
    if let Some(meta) = &sourced.metadata {
        check_metadata(meta, &key("metadata"), meta_span, p);
    }
    if let Some(name_id) = &r.name_id_policy
        && !name_id.get_ref().starts_with("urn:oasis:names:tc:SAML:")
    {
        p.error(
            key("name_id_policy"),
            Some(name_id.span()),
            "must be a NameID format URI (urn:oasis:names:tc:SAML:...)",
        );
    }
    let allow_idp_initiated = bool_of(&r.allow_idp_initiated, false);
    // The SLO endpoints and encryption certificate of the metadata in hand at load are checked
    // against `slo = true` and `encrypt_logout_name_id = true` here; the running gateway reads
    // them from the metadata in use (a URL source fetched or refreshed later included).
    let (slo_endpoints, logout_name_id_encryption) = match &sourced.metadata {
        Some(meta) => (
            slo::endpoints(r, &key("slo"), &meta.entity_id, &meta.slo, p),
            slo::name_id_encryption(
                r,
                &key("encrypt_logout_name_id"),
                &meta.entity_id,
                &meta.encryption_certificates,
                p,
            ),
        ),
        None => (Vec::new(), None),
    };
    let mut policy = match &sourced.metadata {
        Some(m) => IdpPolicy::new(m.entity_id.clone(), m.signing_keys.clone()),
        None => IdpPolicy::new(
            r.entity_id
                .as_ref()
                .map(|e| e.get_ref().clone())
                .unwrap_or_default(),
            Vec::new(),
        ),
    };
    policy.clock_skew = skew?;
    policy.allow_sha1 = bool_of(&r.allow_sha1, false);
    policy.require_signed_assertion = bool_of(&r.require_signed_assertion, false);
    policy.require_signed_response = bool_of(&r.require_signed_response, false);
    policy.allow_cbc = bool_of(&r.allow_cbc, true);
    policy.allow_3des = bool_of(&r.allow_3des, false);
    Some(Idp {
        name: name?,
        metadata_file: sourced.file,
        source: sourced.source,
        metadata: sourced.metadata,
        policy,
        mapping: mapping?,
        allow_idp_initiated,
        force_authn: bool_of(&r.force_authn, false),
        is_passive: bool_of(&r.is_passive, false),
        name_id_policy: r.name_id_policy.as_ref().map(|n| n.get_ref().clone()),
        authn_context: r
            .authn_context
            .as_ref()
            .map(|v| v.get_ref().clone())
            .unwrap_or_default(),
        slo: slo_endpoints,
        slo_off: r.slo.as_ref().is_some_and(|flag| !*flag.get_ref()),
        sign_logout_requests: bool_of(&r.sign_logout_requests, true),
        encrypt_logout_name_id: bool_of(&r.encrypt_logout_name_id, false),
        logout_name_id_encryption,
    })
}

/// Key strength, certificate expiry and `validUntil` of the metadata in hand: warnings an admin
/// should see before the IdP's next rotation.
fn check_metadata(
    meta: &IdpMetadataInUse,
    key: &str,
    meta_span: Option<std::ops::Range<usize>>,
    p: &mut Problems,
) {
    let source = &meta.origin;
    if meta.signing_keys.is_empty() {
        p.error(
            key,
            meta_span.clone(),
            format!("IdP {} has no signing certificate in {source}: its assertions could not be verified", meta.entity_id),
        );
    }
    for k in &meta.signing_keys {
        check_key_strength(
            &k.key,
            key,
            meta_span.clone(),
            &format!("signing key of IdP {} ({})", meta.entity_id, k.description),
            true,
            p,
        );
        if let Some(cert) = &k.certificate {
            warn_if_expiring(
                cert,
                key,
                meta_span.clone(),
                &format!("IdP {} metadata", meta.entity_id),
                p,
            );
        }
    }
    if let Some(until) = meta.valid_until {
        let now = time::OffsetDateTime::now_utc();
        let when = crate::saml::time::format_instant(until);
        if until <= now {
            p.warning(
                key,
                meta_span,
                format!(
                    "metadata of IdP {} expired (validUntil {when}): fetch a fresh copy",
                    meta.entity_id
                ),
            );
        } else if until - now < Duration::days(i64::from(EXPIRY_WARNING_DAYS)) {
            p.warning(
                key,
                meta_span,
                format!(
                    "metadata of IdP {} expires on {when} (validUntil)",
                    meta.entity_id
                ),
            );
        }
    }
}
