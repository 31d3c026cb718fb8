//! `[[idp]]`: whom we trust (their metadata), how we ask them, and how their logins map.

pub mod metadata;

use std::path::Path;

use time::Duration;
use toml::Spanned;

use super::fields::{bool_of, duration_field, read_file, required, resolve};
use super::keys::{EXPIRY_WARNING_DAYS, check_key_strength, warn_if_expiring};
use crate::config::as_written::RawIdp;
use crate::config::duration::format_duration;
use crate::config::model::{Idp, SsoBinding};
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
    let name = required(&r.name, &key("name"), span.clone(), p).and_then(|n| {
        let ok = !n.get_ref().is_empty()
            && n.get_ref()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            p.error(
                key("name"),
                Some(n.span()),
                "use letters, digits, '_' or '-' (it appears in URLs and metric labels)",
            );
        }
        ok.then(|| n.get_ref().clone())
    });
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
    let metadata_field = required(&r.metadata, &key("metadata"), span, p)?;
    let (metadata_file, bytes) = read_file(base, metadata_field, &key("metadata"), p)?;
    let meta_span = Some(metadata_field.span());
    let source = metadata_file.display().to_string();
    let wanted = r.entity_id.as_ref().map(|e| e.get_ref().as_str());
    let meta = match metadata::read(&bytes, &source, wanted) {
        Ok(m) => m,
        Err(e) => {
            p.error(key("metadata"), meta_span, e);
            return None;
        }
    };
    if meta.signing_keys.is_empty() {
        p.error(
            key("metadata"),
            meta_span.clone(),
            format!("IdP {} has no signing certificate in {source}: its assertions could not be verified", meta.entity_id),
        );
    }
    for k in &meta.signing_keys {
        check_key_strength(
            &k.key,
            &key("metadata"),
            meta_span.clone(),
            &format!("signing key of IdP {} ({})", meta.entity_id, k.description),
            true,
            p,
        );
        if let Some(cert) = &k.certificate {
            warn_if_expiring(
                cert,
                &key("metadata"),
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
                key("metadata"),
                meta_span.clone(),
                format!(
                    "metadata of IdP {} expired (validUntil {when}): fetch a fresh copy",
                    meta.entity_id
                ),
            );
        } else if until - now < Duration::days(i64::from(EXPIRY_WARNING_DAYS)) {
            p.warning(
                key("metadata"),
                meta_span.clone(),
                format!(
                    "metadata of IdP {} expires on {when} (validUntil)",
                    meta.entity_id
                ),
            );
        }
    }
    let sso = meta
        .sso
        .iter()
        .find(|e| e.binding == SsoBinding::Redirect)
        .or_else(|| meta.sso.iter().find(|e| e.binding == SsoBinding::Post))
        .cloned();
    if sso.is_none() {
        p.error(
            key("metadata"),
            meta_span,
            format!(
                "IdP {} offers no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding",
                meta.entity_id
            ),
        );
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
    let mut policy = IdpPolicy::new(meta.entity_id.clone(), meta.signing_keys);
    policy.clock_skew = skew?;
    policy.allow_sha1 = bool_of(&r.allow_sha1, false);
    policy.require_signed_assertion = bool_of(&r.require_signed_assertion, false);
    policy.require_signed_response = bool_of(&r.require_signed_response, false);
    policy.allow_cbc = bool_of(&r.allow_cbc, true);
    policy.allow_3des = bool_of(&r.allow_3des, false);
    Some(Idp {
        name: name?,
        metadata_file,
        policy,
        sso: sso?,
        want_authn_requests_signed: meta.want_authn_requests_signed,
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
    })
}
