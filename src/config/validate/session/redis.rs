//! `[session] store = "redis"`: the URL, the key prefix, the pool and its timeouts.

use std::time::Duration as StdDuration;

use toml::Spanned;
use url::Url;

use crate::store::RedisSettings;
use crate::store::redis::redact;

use crate::config::as_written::{RawSession, S};
use crate::config::duration::parse_duration;
use crate::config::problems::Problems;

/// Most connections one node may open.
const MAX_POOL_SIZE: i64 = 256;

/// The Redis settings of `r`, whose `store` (at `store_span`) is "redis". Every problem is
/// reported; `None` if any was an error.
pub fn redis_settings(
    r: &RawSession,
    store_span: std::ops::Range<usize>,
    p: &mut Problems,
) -> Option<RedisSettings> {
    let url = match &r.url {
        None => {
            p.error(
                "session.store",
                Some(store_span),
                "store = \"redis\" needs url = \"redis://host:6379/0\" (or rediss:// for TLS) in [session]",
            );
            None
        }
        Some(u) => redis_url(u, p),
    };
    let key_prefix = match &r.key_prefix {
        None => Some(RedisSettings::DEFAULT_PREFIX.to_string()),
        Some(k) => key_prefix(k, p),
    };
    let pool_size = match &r.pool_size {
        None => Some(RedisSettings::DEFAULT_POOL_SIZE),
        Some(n) if (1..=MAX_POOL_SIZE).contains(n.get_ref()) => usize::try_from(*n.get_ref()).ok(),
        Some(n) => {
            p.error(
                "session.pool_size",
                Some(n.span()),
                format!("{} connections: use 1 to {MAX_POOL_SIZE}", n.get_ref()),
            );
            None
        }
    };
    let connect_timeout = timeout(
        &r.connect_timeout,
        "session.connect_timeout",
        RedisSettings::DEFAULT_CONNECT_TIMEOUT,
        p,
    );
    let command_timeout = timeout(
        &r.command_timeout,
        "session.command_timeout",
        RedisSettings::DEFAULT_COMMAND_TIMEOUT,
        p,
    );
    Some(RedisSettings {
        url: url?,
        key_prefix: key_prefix?,
        pool_size: pool_size?,
        connect_timeout: connect_timeout?,
        command_timeout: command_timeout?,
    })
}

/// The settings keys that only make sense with Redis; set with "memory" they are errors, so a
/// half-edited file does not silently run one node's memory store.
pub fn refuse_redis_keys_for_memory(r: &RawSession, p: &mut Problems) {
    let spans = [
        ("session.url", r.url.as_ref().map(Spanned::span)),
        (
            "session.key_prefix",
            r.key_prefix.as_ref().map(Spanned::span),
        ),
        ("session.pool_size", r.pool_size.as_ref().map(Spanned::span)),
        (
            "session.connect_timeout",
            r.connect_timeout.as_ref().map(Spanned::span),
        ),
        (
            "session.command_timeout",
            r.command_timeout.as_ref().map(Spanned::span),
        ),
    ];
    for (key, span) in spans {
        if let Some(span) = span {
            p.error(
                key,
                Some(span),
                "this Redis setting is set but the store is \"memory\" (set store = \"redis\")",
            );
        }
    }
}

fn redis_url(u: &Spanned<String>, p: &mut Problems) -> Option<String> {
    let text = u.get_ref();
    let span = Some(u.span());
    let parsed = match Url::parse(text) {
        Ok(parsed) => parsed,
        Err(e) => {
            p.error(
                "session.url",
                span,
                format!("{} is not a URL: {e}", redact(text)),
            );
            return None;
        }
    };
    let shown = redact(text);
    if !matches!(parsed.scheme(), "redis" | "rediss") {
        p.error(
            "session.url",
            span,
            format!("{shown}: use redis:// or rediss:// (TLS)"),
        );
        return None;
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        p.error("session.url", span, format!("{shown} has no host"));
        return None;
    }
    let db = parsed.path().trim_start_matches('/');
    if !db.is_empty() && db.parse::<u8>().is_err() {
        p.error(
            "session.url",
            span,
            format!("{shown}: the path must be a database number 0-255, not \"{db}\""),
        );
        return None;
    }
    if let Err(e) = fred::types::config::Config::from_url(text) {
        p.error("session.url", span, format!("{shown}: {e}"));
        return None;
    }
    // `redis:` is not a scheme the URL standard knows, so its host stays text even when it is an
    // IP address: read it as one here.
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || d.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if parsed.scheme() == "redis" && !loopback {
        p.warning(
            "session.url",
            span,
            format!("{shown} is plain TCP to another host: sessions and the password travel in clear (use rediss://)"),
        );
    }
    Some(text.clone())
}

/// A prefix is letters, digits, `_`, `-`, `.` and one final `:`, so it ends where the first `:`
/// is and two deployments' prefixes can never overlap into each other's keys.
fn key_prefix(k: &Spanned<String>, p: &mut Problems) -> Option<String> {
    let v = k.get_ref();
    let body = v.strip_suffix(':').unwrap_or("");
    let ok = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Some(v.clone())
    } else {
        p.error(
            "session.key_prefix",
            Some(k.span()),
            format!("\"{v}\": use letters, digits, '_', '-' or '.' followed by one ':' (e.g. \"samlgate-prod:\")"),
        );
        None
    }
}

fn timeout(
    field: &S<String>,
    key: &str,
    default: StdDuration,
    p: &mut Problems,
) -> Option<StdDuration> {
    let Some(s) = field else {
        return Some(default);
    };
    match parse_duration(s.get_ref()) {
        Ok(d) if d.is_positive() && d.whole_seconds() <= 60 => {
            Some(StdDuration::from_secs(d.whole_seconds().unsigned_abs()))
        }
        Ok(_) => {
            p.error(key, Some(s.span()), "use 1s to 60s");
            None
        }
        Err(e) => {
            p.error(key, Some(s.span()), e);
            None
        }
    }
}
