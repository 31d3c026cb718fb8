//! `[[oauth]]`: authorization servers whose JWT access tokens API clients may present.

use std::path::Path;

use time::Duration;
use toml::Spanned;
use url::Url;

use super::fields::{duration_field, is_loopback_host, label_name, required, resolve};
use super::idp::mapping_table;
use crate::config::as_written::RawOAuth;
use crate::config::duration::format_duration;
use crate::config::model::{ClientAuth, Introspection, JwksSource, OAuthIssuer};
use crate::config::problems::Problems;
use crate::crypto::jws::{ALL_JWS_ALGORITHMS, JwsAlgorithm};
use crate::saml::policy::{DEFAULT_CLOCK_SKEW, MAX_CLOCK_SKEW};

/// How often an issuer's keys are fetched again, when `jwks_refresh` is not given.
pub const DEFAULT_JWKS_REFRESH: Duration = Duration::hours(1);
const MIN_JWKS_REFRESH: Duration = Duration::minutes(1);
const MAX_JWKS_REFRESH: Duration = Duration::days(1);

/// Every `[[oauth]]` table, with names and issuers used once.
pub(super) fn issuers(
    raw: &[Spanned<RawOAuth>],
    base: &Path,
    route_groups: &[&str],
    p: &mut Problems,
) -> Vec<OAuthIssuer> {
    let mut out: Vec<OAuthIssuer> = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let Some(issuer) = one(i, r, base, route_groups, p) else {
            continue;
        };
        if out.iter().any(|o| o.name == issuer.name) {
            p.error(
                format!("oauth[{i}].name"),
                Some(r.span()),
                format!("the name {:?} is used by two [[oauth]] tables", issuer.name),
            );
        }
        if out.iter().any(|o| o.issuer == issuer.issuer) {
            p.error(
                format!("oauth[{i}].issuer"),
                Some(r.span()),
                format!(
                    "the issuer {:?} has two [[oauth]] tables: a token could match either",
                    issuer.issuer
                ),
            );
        }
        if issuer.introspection.is_some() && out.iter().any(|o| o.introspection.is_some()) {
            p.error(
                format!("oauth[{i}].introspection_endpoint"),
                Some(r.span()),
                "only one [[oauth]] issuer may introspect: an opaque token does not say whose it is",
            );
        }
        out.push(issuer);
    }
    out
}

/// A key or discovery URL: HTTPS, or plain HTTP to this machine only.
fn fetch_url(field: &Spanned<String>, key: &str, p: &mut Problems) -> Option<Url> {
    match Url::parse(field.get_ref()) {
        Ok(url) if url.scheme() == "https" => Some(url),
        Ok(url) if url.scheme() == "http" && is_loopback_host(&url) => Some(url),
        Ok(_) => {
            p.error(
                key,
                Some(field.span()),
                "must be an https:// URL (plain http only to a loopback address): the keys decide whose tokens are trusted",
            );
            None
        }
        Err(e) => {
            p.error(key, Some(field.span()), format!("not a URL: {e}"));
            None
        }
    }
}

fn one(
    i: usize,
    raw: &Spanned<RawOAuth>,
    base: &Path,
    route_groups: &[&str],
    p: &mut Problems,
) -> Option<OAuthIssuer> {
    let key = |k: &str| format!("oauth[{i}].{k}");
    let key: &dyn Fn(&str) -> String = &key;
    let span = Some(raw.span());
    let r = raw.get_ref();
    let introspection = introspection(r, &key, base, span.clone(), p);
    let issuer_field = required(&r.issuer, &key("issuer"), span.clone(), p);
    let issuer_url = issuer_field.and_then(|f| fetch_url(f, &key("issuer"), p));
    let issuer = issuer_field.map(|f| f.get_ref().clone());
    let name = match &r.name {
        Some(n) => label_name(n, &key("name"), "metric labels", p),
        None => issuer.clone(),
    };
    let audiences = required(&r.audience, &key("audience"), span.clone(), p).and_then(|a| {
        let list = a.get_ref().to_vec();
        if list.is_empty() || list.iter().any(String::is_empty) {
            p.error(
                key("audience"),
                Some(a.span()),
                "name the audience this gateway's APIs are (the tokens' aud), not an empty value",
            );
            None
        } else {
            Some(list)
        }
    });
    let keys = match (&r.jwks_uri, &r.discovery) {
        (Some(uri), Some(d)) => {
            p.error(
                key("discovery"),
                Some(d.span()),
                "give jwks_uri or discovery, not both",
            );
            let _ = uri;
            None
        }
        (Some(uri), None) => fetch_url(uri, &key("jwks_uri"), p).map(JwksSource::Uri),
        (None, discovery) => {
            let well_known = match discovery.as_ref().map(|d| d.get_ref().as_str()) {
                None | Some("openid-configuration") => Some("openid-configuration"),
                Some("oauth-authorization-server") => Some("oauth-authorization-server"),
                Some(other) => {
                    p.error(
                        key("discovery"),
                        discovery.as_ref().map(Spanned::span),
                        format!(
                            "{other:?}: use \"openid-configuration\" or \"oauth-authorization-server\""
                        ),
                    );
                    None
                }
            };
            match (issuer_url, well_known) {
                (Some(issuer), Some(doc)) => {
                    let base = issuer.as_str().trim_end_matches('/');
                    match Url::parse(&format!("{base}/.well-known/{doc}")) {
                        Ok(url) => Some(JwksSource::Discovery(url)),
                        Err(e) => {
                            p.error(key("issuer"), span.clone(), format!("not a URL: {e}"));
                            None
                        }
                    }
                }
                _ => None,
            }
        }
    };
    let algorithms = match &r.algorithms {
        None => Some(ALL_JWS_ALGORITHMS.to_vec()),
        Some(list) => {
            let mut algs = Vec::new();
            for name in list.get_ref() {
                match name.parse::<JwsAlgorithm>() {
                    Ok(a) => algs.push(a),
                    Err(e) => p.error(key("algorithms"), Some(list.span()), e.to_string()),
                }
            }
            if list.get_ref().is_empty() {
                p.error(
                    key("algorithms"),
                    Some(list.span()),
                    "an empty list would refuse every token: leave the key out for every asymmetric algorithm",
                );
            }
            Some(algs)
        }
    };
    let require_at_jwt = match &r.require_typ {
        None => false,
        Some(t) if t.get_ref().eq_ignore_ascii_case("at+jwt") => true,
        Some(t) => {
            p.error(
                key("require_typ"),
                Some(t.span()),
                format!(
                    "{:?}: the only type required is \"at+jwt\" (RFC 9068)",
                    t.get_ref()
                ),
            );
            false
        }
    };
    let clock_skew = duration_field(&r.clock_skew, &key("clock_skew"), DEFAULT_CLOCK_SKEW, p)
        .and_then(|d| {
            if d > MAX_CLOCK_SKEW {
                p.error(
                    key("clock_skew"),
                    r.clock_skew.as_ref().map(Spanned::span),
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
    let jwks_refresh = duration_field(
        &r.jwks_refresh,
        &key("jwks_refresh"),
        DEFAULT_JWKS_REFRESH,
        p,
    )
    .and_then(|d| {
        if (MIN_JWKS_REFRESH..=MAX_JWKS_REFRESH).contains(&d) {
            Some(d)
        } else {
            p.error(
                key("jwks_refresh"),
                r.jwks_refresh.as_ref().map(Spanned::span),
                format!(
                    "{} is outside {} to {}",
                    format_duration(d),
                    format_duration(MIN_JWKS_REFRESH),
                    format_duration(MAX_JWKS_REFRESH)
                ),
            );
            None
        }
    });
    let mapping = required(&r.mapping, &key("mapping"), span, p)
        .and_then(|m| mapping_table(base, m, &key("mapping"), route_groups, p));
    Some(OAuthIssuer {
        name: name?,
        issuer: issuer?,
        audiences: audiences?,
        keys: keys?,
        algorithms: algorithms?,
        require_at_jwt,
        clock_skew: clock_skew?,
        jwks_refresh: jwks_refresh?,
        mapping: mapping?,
        introspection: introspection?,
    })
}

/// The most an active introspection answer may be kept, when `introspection_cache` is not given.
pub const DEFAULT_INTROSPECTION_CACHE: Duration = Duration::minutes(5);
const MAX_INTROSPECTION_CACHE: Duration = Duration::hours(1);

/// `introspection_endpoint` and the client settings: `Some(None)` when not configured, `None`
/// when in error.
fn introspection(
    r: &RawOAuth,
    key: &dyn Fn(&str) -> String,
    base: &Path,
    span: Option<std::ops::Range<usize>>,
    p: &mut Problems,
) -> Option<Option<Introspection>> {
    let Some(endpoint_field) = &r.introspection_endpoint else {
        for (name, given) in [
            ("client_id", r.client_id.as_ref().map(Spanned::span)),
            ("client_auth", r.client_auth.as_ref().map(Spanned::span)),
            (
                "client_secret_file",
                r.client_secret_file.as_ref().map(Spanned::span),
            ),
            ("client_key", r.client_key.as_ref().map(Spanned::span)),
            ("client_cert", r.client_cert.as_ref().map(Spanned::span)),
            (
                "introspection_ca",
                r.introspection_ca.as_ref().map(Spanned::span),
            ),
            (
                "introspection_cache",
                r.introspection_cache.as_ref().map(Spanned::span),
            ),
        ] {
            if given.is_some() {
                p.error(
                    key(name),
                    given,
                    "is used only with introspection_endpoint (opaque tokens)",
                );
            }
        }
        return Some(None);
    };
    let endpoint = fetch_url(endpoint_field, &key("introspection_endpoint"), p);
    let client_id =
        required(&r.client_id, &key("client_id"), span.clone(), p).map(|c| c.get_ref().clone());
    let file = |field: &Spanned<String>, name: &str, p: &mut Problems| {
        let path = resolve(base, field.get_ref());
        match std::fs::read(&path) {
            Ok(bytes) => Some((path, bytes)),
            Err(e) => {
                p.error(
                    key(name),
                    Some(field.span()),
                    format!("cannot read {}: {e}", path.display()),
                );
                None
            }
        }
    };
    let method = r
        .client_auth
        .as_ref()
        .map(|m| (m.get_ref().as_str(), Some(m.span())))
        .unwrap_or(("client_secret_basic", span.clone()));
    let auth = match method.0 {
        "client_secret_basic" => {
            required(&r.client_secret_file, &key("client_secret_file"), span.clone(), p)
                .and_then(|f| file(f, "client_secret_file", p))
                .map(|(secret_file, _)| ClientAuth::SecretBasic { secret_file })
        }
        "private_key_jwt" => required(&r.client_key, &key("client_key"), span.clone(), p)
            .and_then(|f| file(f, "client_key", p).map(|read| (f, read)))
            .and_then(|(f, (key_file, pem))| {
                let alg = openssl::pkey::PKey::private_key_from_pem(&pem)
                    .ok()
                    .and_then(|k| match k.id() {
                        openssl::pkey::Id::RSA if k.bits() >= 2048 => Some(JwsAlgorithm::Rs256),
                        openssl::pkey::Id::EC => match k.ec_key().ok()?.group().curve_name()? {
                            openssl::nid::Nid::X9_62_PRIME256V1 => Some(JwsAlgorithm::Es256),
                            openssl::nid::Nid::SECP384R1 => Some(JwsAlgorithm::Es384),
                            openssl::nid::Nid::SECP521R1 => Some(JwsAlgorithm::Es512),
                            _ => None,
                        },
                        _ => None,
                    });
                match alg {
                    Some(alg) => Some(ClientAuth::PrivateKeyJwt {
                        key_file,
                        alg,
                        kid: r.client_key_id.as_ref().map(|k| k.get_ref().clone()),
                    }),
                    None => {
                        p.error(
                            key("client_key"),
                            Some(f.span()),
                            "must be a PEM private key: RSA of 2048 bits or more, or EC on P-256, P-384 or P-521",
                        );
                        None
                    }
                }
            }),
        "tls_client_auth" => {
            let cert = required(&r.client_cert, &key("client_cert"), span.clone(), p)
                .and_then(|f| file(f, "client_cert", p).map(|read| (f, read)))
                .and_then(|(f, (path, pem))| {
                    if openssl::x509::X509::from_pem(&pem).is_ok() {
                        Some(path)
                    } else {
                        p.error(key("client_cert"), Some(f.span()), "must be a PEM certificate");
                        None
                    }
                });
            let client_key = required(&r.client_key, &key("client_key"), span.clone(), p)
                .and_then(|f| file(f, "client_key", p).map(|read| (f, read)))
                .and_then(|(f, (path, pem))| {
                    if openssl::pkey::PKey::private_key_from_pem(&pem).is_ok() {
                        Some(path)
                    } else {
                        p.error(key("client_key"), Some(f.span()), "must be a PEM private key");
                        None
                    }
                });
            Some(ClientAuth::TlsClientAuth {
                cert_file: cert?,
                key_file: client_key?,
            })
        }
        other => {
            p.error(
                key("client_auth"),
                method.1,
                format!(
                    "{other:?}: use \"client_secret_basic\", \"private_key_jwt\" or \"tls_client_auth\""
                ),
            );
            None
        }
    };
    let cache_max = duration_field(
        &r.introspection_cache,
        &key("introspection_cache"),
        DEFAULT_INTROSPECTION_CACHE,
        p,
    )
    .and_then(|d| {
        if d > MAX_INTROSPECTION_CACHE {
            p.error(
                key("introspection_cache"),
                r.introspection_cache.as_ref().map(Spanned::span),
                format!(
                    "{} is over the maximum of {}: a revoked token would be let in that long",
                    format_duration(d),
                    format_duration(MAX_INTROSPECTION_CACHE)
                ),
            );
            None
        } else {
            Some(d)
        }
    });
    let ca_file = match &r.introspection_ca {
        None => Some(None),
        Some(f) => file(f, "introspection_ca", p).and_then(|(path, pem)| {
            if openssl::x509::X509::stack_from_pem(&pem).is_ok_and(|certs| !certs.is_empty()) {
                Some(Some(path))
            } else {
                p.error(
                    key("introspection_ca"),
                    Some(f.span()),
                    "must hold PEM CA certificates",
                );
                None
            }
        }),
    };
    Some(Some(Introspection {
        ca_file: ca_file?,
        endpoint: endpoint?,
        client_id: client_id?,
        auth: auth?,
        cache_max: cache_max?,
    }))
}
