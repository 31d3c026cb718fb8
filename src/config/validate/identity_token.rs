//! `[identity_token]`: the identity as a signed JWT to the backend: its key (and the next one),
//! algorithm, audience, issuer, lifetime and header. The header joins the ones stripped from
//! every incoming request.

use std::path::Path;

use axum::http::HeaderName;
use toml::Spanned;

use super::fields::{bool_of, duration_field, read_file, required};
use super::keys::warn_if_others_can_read;
use crate::config::as_written::RawIdentityToken;
use crate::config::problems::Problems;
use crate::crypto::jws_key::{JwsAlgorithm, JwsKey};
use crate::identity::contract::HeaderContract;
use crate::identity::token::{
    DEFAULT_HEADER, DEFAULT_LIFETIME_SECONDS, TokenSettings, TokenSigner,
};

/// The longest lifetime accepted: a token is a bearer credential for its whole life.
pub const MAX_LIFETIME_SECONDS: i64 = 3600;

/// The signer, when enabled, and the header contract with the token's header added to what is
/// stripped (always added, enabled or not: a client-sent token must never pass through).
pub(super) fn identity_token(
    raw: Option<Spanned<RawIdentityToken>>,
    base: &Path,
    sp_entity_id: Option<&str>,
    headers: Option<HeaderContract>,
    p: &mut Problems,
) -> (Option<TokenSigner>, Option<HeaderContract>) {
    let span = raw.as_ref().map(Spanned::span);
    let r = raw.map(Spanned::into_inner).unwrap_or_default();
    let header_name = r
        .header
        .as_ref()
        .map_or(DEFAULT_HEADER, |h| h.get_ref().as_str());
    let (headers, header) = match headers.map(|h| h.with_token_header(header_name)) {
        Some(Ok((headers, header))) => (Some(headers), Some(header)),
        Some(Err(e)) => {
            let at = r.header.as_ref().map(Spanned::span).or(span.clone());
            p.error("identity_token.header", at, e.to_string());
            (None, None)
        }
        None => (None, None),
    };
    if !bool_of(&r.enabled, false) {
        return (None, headers);
    }
    let signer = signer(&r, span, base, sp_entity_id, header, p);
    (signer, headers)
}

/// The signer of an enabled `[identity_token]`; `None` when any error was recorded.
fn signer(
    r: &RawIdentityToken,
    span: Option<std::ops::Range<usize>>,
    base: &Path,
    sp_entity_id: Option<&str>,
    header: Option<HeaderName>,
    p: &mut Problems,
) -> Option<TokenSigner> {
    let key_field = |p: &mut Problems, field: &Spanned<String>, name: &str, alg| {
        let (path, bytes) = read_file(base, field, name, p)?;
        warn_if_others_can_read(&path, name, field, p);
        JwsKey::from_pem(&bytes, alg)
            .map_err(|e| p.error(name, Some(field.span()), format!("{}: {e}", path.display())))
            .ok()
    };
    let algorithm = match &r.algorithm {
        None => Some(JwsAlgorithm::Es256),
        Some(a) => JwsAlgorithm::from_name(a.get_ref()).or_else(|| {
            p.error(
                "identity_token.algorithm",
                Some(a.span()),
                format!("{:?} is not supported (ES256 or RS256)", a.get_ref()),
            );
            None
        }),
    };
    let key = required(&r.key, "identity_token.key", span.clone(), p);
    let key = key
        .zip(algorithm)
        .and_then(|(f, alg)| key_field(p, f, "identity_token.key", alg));
    let next_key = match (&r.next_key, algorithm) {
        (Some(f), Some(alg)) => key_field(p, f, "identity_token.next_key", alg),
        _ => None,
    };
    if let (Some(k), Some(n), Some(f)) = (&key, &next_key, &r.next_key)
        && k.kid() == n.kid()
    {
        p.error(
            "identity_token.next_key",
            Some(f.span()),
            "is the same key as identity_token.key: the next key must be a new one",
        );
    }
    let audience = required(&r.audience, "identity_token.audience", span, p).and_then(|a| {
        if a.get_ref().trim().is_empty() {
            p.error(
                "identity_token.audience",
                Some(a.span()),
                "must not be empty: it tells a backend the token is meant for it",
            );
            None
        } else {
            Some(a.get_ref().clone())
        }
    });
    let issuer = match &r.issuer {
        Some(i) if i.get_ref().trim().is_empty() => {
            p.error("identity_token.issuer", Some(i.span()), "must not be empty");
            None
        }
        Some(i) => Some(i.get_ref().clone()),
        None => sp_entity_id.map(str::to_owned),
    };
    let lifetime = duration_field(
        &r.lifetime,
        "identity_token.lifetime",
        time::Duration::seconds(DEFAULT_LIFETIME_SECONDS),
        p,
    )
    .and_then(|d| {
        let seconds = d.whole_seconds();
        if (2..=MAX_LIFETIME_SECONDS).contains(&seconds) {
            Some(seconds)
        } else {
            p.error(
                "identity_token.lifetime",
                r.lifetime.as_ref().map(Spanned::span),
                format!("must be between 2s and {MAX_LIFETIME_SECONDS}s (a token is a bearer credential while it lives)"),
            );
            None
        }
    });
    let settings = TokenSettings {
        issuer: issuer?,
        audience: audience?,
        lifetime_seconds: lifetime?,
        header: header?,
    };
    Some(TokenSigner::new(settings, key?, next_key))
}
