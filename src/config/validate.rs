//! Raw file -> validated [`Config`]. Every problem is collected; fail-open settings are errors:
//! an IdP without a signing key, a clock skew over 300 s, session cookies sent in clear to a
//! non-loopback host, a Redis store that is not built yet.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::ops::Range;
use std::path::{Path, PathBuf};

use openssl::asn1::Asn1Time;
use openssl::x509::X509;
use time::Duration;
use toml::Spanned;
use url::Url;

use crate::crypto::keys::DecryptionKey;
use crate::saml::policy::{DEFAULT_CLOCK_SKEW, IdpPolicy, MAX_CLOCK_SKEW};

use super::backend_url::BackendUrl;
use super::duration::{format_duration, parse_duration};
use super::idp_metadata;
use super::model::*;
use super::problems::{Problems, Severity};
use super::raw::*;
use crate::gateway::routes::{RouteConflict, check_route_path, conflict};
use crate::identity::contract::{HeaderContract, HeaderContractConfig};
use crate::mapping::{MappingLoadError, MappingTable, validate_against_routes};

/// Certificates expiring sooner than this are reported.
pub const EXPIRY_WARNING_DAYS: u32 = 30;
pub const DEFAULT_MAX_ACS_BODY: usize = 256 * 1024;
/// More event loops than this is a typo, not a machine.
pub const MAX_WORKERS: usize = 1024;
/// ACS validations at once: each holds a blocking-pool thread, so a bound well under Tokio's 512.
pub const MAX_ACS_CONCURRENCY: usize = 256;

/// Turn the raw file into a [`Config`], or `None` when any error was recorded.
pub fn validate(raw: RawConfig, file: &Path, p: &mut Problems) -> Option<Config> {
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let server = server(raw.server, p);
    let session = session(raw.session, server.as_ref(), p);
    let sp = sp(raw.sp, &base, p);
    let backend_url_span = raw
        .backend
        .as_ref()
        .and_then(|b| b.get_ref().url.as_ref().map(Spanned::span));
    let backend = backend(raw.backend, p);
    let headers = headers(raw.headers, p);
    let routes = routes(&raw.route, p);
    let forward_auth = forward_auth(raw.forward_auth, p);
    let route_groups: Vec<&str> = routes
        .iter()
        .flat_map(|r| r.require_access_group.iter().map(String::as_str))
        .collect();
    if raw.idp.is_empty() {
        p.error(
            "idp",
            None,
            "no [[idp]] configured: the gateway would have no one to trust",
        );
    }
    let mut idps = Vec::new();
    for (i, r) in raw.idp.iter().enumerate() {
        if let Some(idp) = idp(i, r, &base, &route_groups, p) {
            if idps.iter().any(|o: &Idp| o.name == idp.name) {
                p.error(
                    format!("idp[{i}].name"),
                    Some(r.span()),
                    format!("IdP name \"{}\" is used twice", idp.name),
                );
            }
            idps.push(idp);
        }
    }
    super::access_groups::check_route_groups(&raw.route, &idps, p);
    let (server, sp, session, backend, headers) = (server?, sp?, session?, backend?, headers?);
    super::backend_loop::refuse_backend_that_is_the_gateway(
        &server,
        backend.url.url(),
        backend_url_span,
        p,
    );
    if p.has_errors() {
        return None;
    }
    Some(Config {
        file: file.to_path_buf(),
        server,
        sp,
        idps,
        session,
        backend,
        headers,
        routes,
        forward_auth,
    })
}

fn required<'a, T>(
    field: &'a S<T>,
    key: &str,
    section_span: Option<Range<usize>>,
    p: &mut Problems,
) -> Option<&'a Spanned<T>> {
    if field.is_none() {
        p.error(key, section_span, "required key is missing");
    }
    field.as_ref()
}

fn duration_field(
    field: &S<String>,
    key: &str,
    default: Duration,
    p: &mut Problems,
) -> Option<Duration> {
    match field {
        None => Some(default),
        Some(s) => match parse_duration(s.get_ref()) {
            Ok(d) if d.is_positive() => Some(d),
            Ok(_) => {
                p.error(key, Some(s.span()), "must be longer than zero");
                None
            }
            Err(e) => {
                p.error(key, Some(s.span()), e);
                None
            }
        },
    }
}

fn resolve(base: &Path, value: &str) -> PathBuf {
    let path = Path::new(value);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

fn read_file(
    base: &Path,
    field: &Spanned<String>,
    key: &str,
    p: &mut Problems,
) -> Option<(PathBuf, Vec<u8>)> {
    let path = resolve(base, field.get_ref());
    match std::fs::read(&path) {
        Ok(bytes) => Some((path, bytes)),
        Err(e) => {
            p.error(
                key,
                Some(field.span()),
                format!("cannot read {}: {e}", path.display()),
            );
            None
        }
    }
}

fn span_of<T>(field: &Option<Spanned<T>>) -> Option<Range<usize>> {
    field.as_ref().map(Spanned::span)
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn server(raw: Option<Spanned<RawServer>>, p: &mut Problems) -> Option<Server> {
    let Some(raw) = raw else {
        p.error(
            "server",
            None,
            "the [server] section is missing (listen, public_url)",
        );
        return None;
    };
    let span = Some(raw.span());
    let r = raw.get_ref();
    let listen = required(&r.listen, "server.listen", span.clone(), p).and_then(|l| {
        l.get_ref()
            .parse::<SocketAddr>()
            .map_err(|e| {
                p.error(
                    "server.listen",
                    Some(l.span()),
                    format!("\"{}\" is not ip:port: {e}", l.get_ref()),
                )
            })
            .ok()
    });
    let public_url = required(&r.public_url, "server.public_url", span, p).and_then(|u| {
        match Url::parse(u.get_ref()) {
            Ok(url)
                if (url.scheme() == "https" || url.scheme() == "http") && url.host().is_some() =>
            {
                if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
                    p.error(
                        "server.public_url",
                        Some(u.span()),
                        "must be scheme://host[:port] only (no path, query or fragment)",
                    );
                    None
                } else {
                    Some(url)
                }
            }
            Ok(_) => {
                p.error(
                    "server.public_url",
                    Some(u.span()),
                    "must be an http or https URL with a host",
                );
                None
            }
            Err(e) => {
                p.error(
                    "server.public_url",
                    Some(u.span()),
                    format!("\"{}\" is not a URL: {e}", u.get_ref()),
                );
                None
            }
        }
    });
    let mut api_prefixes = Vec::new();
    if let Some(list) = &r.api_prefixes {
        for prefix in list.get_ref() {
            if let Err(problem) = check_route_path(prefix) {
                p.error(
                    "server.api_prefixes",
                    Some(list.span()),
                    format!("\"{prefix}\" {problem}"),
                );
            }
            api_prefixes.push(prefix.clone());
        }
    }
    let max_acs_body = match &r.max_acs_body {
        None => DEFAULT_MAX_ACS_BODY,
        Some(v) if (1024..=16 * 1024 * 1024).contains(v.get_ref()) => {
            usize::try_from(*v.get_ref()).unwrap_or(DEFAULT_MAX_ACS_BODY)
        }
        Some(v) => {
            p.error(
                "server.max_acs_body",
                Some(v.span()),
                "must be between 1024 and 16777216 bytes",
            );
            DEFAULT_MAX_ACS_BODY
        }
    };
    let log_json = match &r.log_format {
        None => false,
        Some(f) if f.get_ref() == "json" => true,
        Some(f) if f.get_ref() == "text" => false,
        Some(f) => {
            p.error(
                "server.log_format",
                Some(f.span()),
                "must be \"text\" or \"json\"",
            );
            false
        }
    };
    let metrics_listen =
        r.metrics_listen
            .as_ref()
            .and_then(|m| match m.get_ref().parse::<SocketAddr>() {
                Ok(addr) if Some(addr) == listen => {
                    p.error(
                        "server.metrics_listen",
                        Some(m.span()),
                        "must differ from server.listen (leave it out to serve /metrics there)",
                    );
                    None
                }
                Ok(addr) => Some(addr),
                Err(e) => {
                    p.error(
                        "server.metrics_listen",
                        Some(m.span()),
                        format!("\"{}\" is not ip:port: {e}", m.get_ref()),
                    );
                    None
                }
            });
    if metrics_listen.is_none()
        && r.metrics_listen.is_none()
        && public_url.as_ref().is_some_and(|u| !is_loopback_host(u))
    {
        p.warning(
            "server.metrics_listen",
            span_of(&r.public_url),
            "/metrics (login and rejection counts, certificate expiry dates) is served to anyone who reaches the public URL; set metrics_listen = \"127.0.0.1:9464\" (or an internal address) to serve it there only",
        );
    }
    let workers = r.workers.as_ref().and_then(|w| {
        let n = usize::try_from(*w.get_ref())
            .ok()
            .filter(|n| (1..=MAX_WORKERS).contains(n))
            .and_then(NonZeroUsize::new);
        if n.is_none() {
            p.error(
                "server.workers",
                Some(w.span()),
                format!(
                    "{} is not a number of event loops between 1 and {MAX_WORKERS} (leave it out for one per core)",
                    w.get_ref()
                ),
            );
        }
        n
    });
    let connections = super::connection_limits::connection_limits(r, p);
    let acs_concurrency = r.acs_concurrency.as_ref().and_then(|c| {
        let n = usize::try_from(*c.get_ref())
            .ok()
            .filter(|n| (1..=MAX_ACS_CONCURRENCY).contains(n))
            .and_then(NonZeroUsize::new);
        if n.is_none() {
            p.error(
                "server.acs_concurrency",
                Some(c.span()),
                format!(
                    "{} is not a number of ACS validations between 1 and {MAX_ACS_CONCURRENCY} (leave it out for one per event loop)",
                    c.get_ref()
                ),
            );
        }
        n
    });
    Some(Server {
        listen: listen?,
        public_url: public_url?,
        api_prefixes,
        max_acs_body,
        log_json,
        metrics_listen,
        workers,
        connections,
        acs_concurrency,
    })
}

fn session(
    raw: Option<Spanned<RawSession>>,
    server: Option<&Server>,
    p: &mut Problems,
) -> Option<SessionConfig> {
    let r = raw.map(Spanned::into_inner).unwrap_or_default();
    let store = match &r.store {
        None => SessionStoreKind::Memory,
        Some(s) if s.get_ref() == "memory" => SessionStoreKind::Memory,
        Some(s) if s.get_ref() == "redis" => match super::store::redis_settings(&r, s.span(), p) {
            Some(settings) => SessionStoreKind::Redis(settings),
            None => SessionStoreKind::Memory,
        },
        Some(s) => {
            p.error(
                "session.store",
                Some(s.span()),
                format!(
                    "unknown store \"{}\" (use \"memory\" or \"redis\")",
                    s.get_ref()
                ),
            );
            SessionStoreKind::Memory
        }
    };
    if r.store.as_ref().is_none_or(|s| s.get_ref() == "memory") {
        super::store::refuse_redis_keys_for_memory(&r, p);
    }
    let idle = duration_field(
        &r.idle_timeout,
        "session.idle_timeout",
        Duration::minutes(30),
        p,
    );
    let absolute = duration_field(
        &r.absolute_timeout,
        "session.absolute_timeout",
        Duration::hours(8),
        p,
    );
    if let (Some(i), Some(a)) = (idle, absolute)
        && i > a
    {
        let span = r.idle_timeout.as_ref().map(Spanned::span);
        p.error(
            "session.idle_timeout",
            span,
            format!(
                "{} is longer than absolute_timeout {}",
                format_duration(i),
                format_duration(a)
            ),
        );
    }
    let https = server.map(Server::is_https);
    let secure = match (&r.secure_cookies, https) {
        (Some(s), Some(true)) if !*s.get_ref() => {
            p.error(
                "session.secure_cookies",
                Some(s.span()),
                "public_url is https: session cookies must be Secure",
            );
            false
        }
        (Some(s), _) => *s.get_ref(),
        (None, h) => h.unwrap_or(true),
    };
    if let Some(server) = server
        && !secure
        && !is_loopback_host(&server.public_url)
    {
        let span = r.secure_cookies.as_ref().map(Spanned::span);
        p.error(
            "session.secure_cookies",
            span,
            format!("public_url {} is plain http on a non-loopback host: the session cookie would travel in clear (use https)", server.public_url),
        );
    }
    let base_name = match &r.cookie_name {
        None => "samlgate_session".to_string(),
        Some(n) => {
            let v = n.get_ref();
            let token_ok = !v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
            if !token_ok {
                p.error(
                    "session.cookie_name",
                    Some(n.span()),
                    "use letters, digits, '_', '-' or '.' only",
                );
            }
            if v.starts_with("__Host-") || v.starts_with("__Secure-") {
                p.error(
                    "session.cookie_name",
                    Some(n.span()),
                    "leave out the __Host- prefix: it is added when public_url is https",
                );
            }
            v.clone()
        }
    };
    let cookie_name = if https == Some(true) {
        format!("__Host-{base_name}")
    } else {
        base_name
    };
    Some(SessionConfig {
        store,
        idle_timeout: idle?,
        absolute_timeout: absolute?,
        cookie_name,
        secure_cookies: secure,
    })
}

fn load_cert(base: &Path, f: &Spanned<String>, key: &str, p: &mut Problems) -> Option<X509> {
    let (path, bytes) = read_file(base, f, key, p)?;
    match X509::from_pem(&bytes) {
        Ok(c) => {
            warn_if_expiring(&c, key, Some(f.span()), &path.display().to_string(), p);
            if let Ok(public) = c.public_key() {
                let what = format!("the key of {}", path.display());
                check_key_strength(&public, key, Some(f.span()), &what, false, p);
            }
            Some(c)
        }
        Err(e) => {
            p.error(
                key,
                Some(f.span()),
                format!("{} is not a PEM certificate: {e}", path.display()),
            );
            None
        }
    }
}

fn load_key(
    base: &Path,
    f: &Spanned<String>,
    key: &str,
    p: &mut Problems,
) -> Option<DecryptionKey> {
    let (path, bytes) = read_file(base, f, key, p)?;
    DecryptionKey::from_pem(&bytes, &path.display().to_string())
        .map_err(|e| p.error(key, Some(f.span()), format!("{}: {e}", path.display())))
        .ok()
}

/// RSA keys shorter than this are refused: 512- and 768-bit moduli have been factored in
/// public, so a signature under one proves nothing.
pub const MIN_RSA_BITS: u32 = 1024;
/// RSA keys shorter than this get a warning (NIST SP 800-131A disallows 1024 since 2013).
pub const WEAK_RSA_BITS: u32 = 2048;

/// Refuse an RSA key under [`MIN_RSA_BITS`], warn under [`WEAK_RSA_BITS`]. `refuse` false
/// turns the refusal into a warning (keys we only sign with, where the risk is ours to judge).
pub fn check_key_strength(
    key: &openssl::pkey::PKeyRef<openssl::pkey::Public>,
    config_key: &str,
    span: Option<Range<usize>>,
    what: &str,
    refuse: bool,
    p: &mut Problems,
) {
    let Ok(rsa) = key.rsa() else {
        return;
    };
    let bits = rsa.n().num_bits().max(0).unsigned_abs();
    if bits < MIN_RSA_BITS && refuse {
        p.error(
            config_key,
            span,
            format!(
                "{what} is a {bits}-bit RSA key: keys this short can be factored and signatures forged; the IdP must roll over to a {WEAK_RSA_BITS}-bit key or longer"
            ),
        );
    } else if bits < WEAK_RSA_BITS {
        p.warning(
            config_key,
            span,
            format!("{what} is a {bits}-bit RSA key: use {WEAK_RSA_BITS} bits or more"),
        );
    }
}

/// Warn when `cert` expires within [`EXPIRY_WARNING_DAYS`] (or already has).
pub fn warn_if_expiring(
    cert: &X509,
    key: &str,
    span: Option<Range<usize>>,
    what: &str,
    p: &mut Problems,
) {
    let Ok(now) = Asn1Time::days_from_now(0) else {
        return;
    };
    let Ok(diff) = now.diff(cert.not_after()) else {
        return;
    };
    if diff.days < 0 || (diff.days == 0 && diff.secs < 0) {
        p.warning(
            key,
            span,
            format!("certificate in {what} expired on {}", cert.not_after()),
        );
    } else if diff.days < EXPIRY_WARNING_DAYS as i32 {
        p.warning(
            key,
            span,
            format!(
                "certificate in {what} expires on {} (in {} days)",
                cert.not_after(),
                diff.days
            ),
        );
    }
}

fn sp(raw: Option<Spanned<RawSp>>, base: &Path, p: &mut Problems) -> Option<Sp> {
    let Some(raw) = raw else {
        p.error(
            "sp",
            None,
            "the [sp] section is missing (entity_id, key, cert)",
        );
        return None;
    };
    let span = Some(raw.span());
    let r = raw.get_ref();
    let entity_id = required(&r.entity_id, "sp.entity_id", span.clone(), p).and_then(|e| {
        if e.get_ref().trim().is_empty() {
            p.error("sp.entity_id", Some(e.span()), "must not be empty");
            None
        } else {
            Some(e.get_ref().clone())
        }
    });
    let key =
        required(&r.key, "sp.key", span.clone(), p).and_then(|f| load_key(base, f, "sp.key", p));
    let cert = required(&r.cert, "sp.cert", span, p).and_then(|f| load_cert(base, f, "sp.cert", p));
    if let (Some(k), Some(c), Some(f)) = (&key, &cert, &r.cert)
        && !c.public_key().is_ok_and(|pk| pk.public_eq(&k.key))
    {
        p.error(
            "sp.cert",
            Some(f.span()),
            "this certificate does not belong to sp.key",
        );
    }
    let next_cert = r
        .next_cert
        .as_ref()
        .and_then(|f| load_cert(base, f, "sp.next_cert", p));
    let mut old_keys = Vec::new();
    if let Some(list) = &r.old_keys {
        for v in list.get_ref() {
            let f = Spanned::new(list.span(), v.clone());
            if let Some(k) = load_key(base, &f, "sp.old_keys", p) {
                old_keys.push(k);
            }
        }
    }
    let mut key = key?;
    key.certificate = cert.clone();
    Some(Sp {
        entity_id: entity_id?,
        key,
        cert: cert?,
        next_cert,
        old_keys,
        sign_authn_requests: r.sign_authn_requests.as_ref().is_none_or(|b| *b.get_ref()),
        sign_metadata: r.sign_metadata.as_ref().is_none_or(|b| *b.get_ref()),
    })
}

fn backend(raw: Option<Spanned<RawBackend>>, p: &mut Problems) -> Option<Backend> {
    let Some(raw) = raw else {
        p.error("backend", None, "the [backend] section is missing (url)");
        return None;
    };
    let span = Some(raw.span());
    let r = raw.get_ref();
    let url = required(&r.url, "backend.url", span, p).and_then(|u| {
        BackendUrl::parse(u.get_ref())
            .map_err(|e| p.error("backend.url", Some(u.span()), e.to_string()))
            .ok()
    });
    let connect = duration_field(
        &r.connect_timeout,
        "backend.connect_timeout",
        Duration::seconds(5),
        p,
    );
    let request = duration_field(
        &r.request_timeout,
        "backend.request_timeout",
        Duration::seconds(60),
        p,
    );
    Some(Backend {
        url: url?,
        connect_timeout: connect?,
        request_timeout: request?,
    })
}

fn headers(raw: Option<Spanned<RawHeaders>>, p: &mut Problems) -> Option<HeaderContract> {
    let Some(raw) = raw else {
        return Some(HeaderContract::default());
    };
    let span = Some(raw.span());
    let r = raw.into_inner();
    let config = HeaderContractConfig {
        names: r.names.map(Spanned::into_inner).unwrap_or_default(),
        extra: r.extra.map(Spanned::into_inner).unwrap_or_default(),
        also_strip: r.also_strip.map(Spanned::into_inner).unwrap_or_default(),
    };
    HeaderContract::from_config(&config)
        .map_err(|e| p.error("headers", span, e.to_string()))
        .ok()
}

fn routes(raw: &[Spanned<RawRoute>], p: &mut Problems) -> Vec<Route> {
    // Each route with its index in the file, for naming the other of two that conflict.
    let mut out: Vec<(usize, Route)> = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let key = format!("route[{i}]");
        let rr = r.get_ref();
        let Some(path) = required(&rr.path, &format!("{key}.path"), Some(r.span()), p) else {
            continue;
        };
        let path_str = path.get_ref().clone();
        if let Err(problem) = check_route_path(&path_str) {
            p.error(
                format!("{key}.path"),
                Some(path.span()),
                format!("{path_str:?} {problem}"),
            );
        }
        let public = rr.public.as_ref().is_some_and(|b| *b.get_ref());
        let require_access_group = rr
            .require_access_group
            .as_ref()
            .map(|v| v.get_ref().clone())
            .unwrap_or_default();
        let require_any_group = rr
            .require_any_group
            .as_ref()
            .map(|v| v.get_ref().clone())
            .unwrap_or_default();
        if public && (!require_access_group.is_empty() || !require_any_group.is_empty()) {
            p.error(
                format!("{key}.public"),
                rr.public.as_ref().map(Spanned::span),
                "a public route cannot also require groups",
            );
        }
        let route = Route {
            path: path_str,
            public,
            require_access_group,
            require_any_group,
        };
        for (j, other) in &out {
            let Some(c) = conflict(other, &route) else {
                continue;
            };
            let message = match c {
                RouteConflict::Duplicate => {
                    format!("path {} has two [[route]] entries", route.path)
                }
                _ => format!(
                    "{:?} ({}) and route[{j}].path {:?} ({}): {c}",
                    route.path,
                    visibility(&route),
                    other.path,
                    visibility(other)
                ),
            };
            p.error(format!("{key}.path"), Some(path.span()), message);
        }
        out.push((i, route));
    }
    out.into_iter().map(|(_, route)| route).collect()
}

fn visibility(route: &Route) -> &'static str {
    if route.public { "public" } else { "protected" }
}

fn forward_auth(raw: Option<Spanned<RawForwardAuth>>, p: &mut Problems) -> ForwardAuth {
    let Some(header) = raw.and_then(|r| r.into_inner().uri_header) else {
        return ForwardAuth::default();
    };
    match axum::http::HeaderName::from_bytes(header.get_ref().as_bytes()) {
        Ok(uri_header) => ForwardAuth { uri_header },
        Err(_) => {
            p.error(
                "forward_auth.uri_header",
                Some(header.span()),
                format!(
                    "{:?} is not a header name (use \"X-Original-URI\" for nginx, \"X-Forwarded-Uri\" for Traefik)",
                    header.get_ref()
                ),
            );
            ForwardAuth::default()
        }
    }
}

fn bool_of(field: &S<bool>, default: bool) -> bool {
    field.as_ref().map_or(default, |b| *b.get_ref())
}

/// Load a mapping table; its own problems are reported against its own file and lines.
fn mapping_table(
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

fn idp(
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
    let meta = match idp_metadata::read(&bytes, &source, wanted) {
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
