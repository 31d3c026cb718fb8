//! `[session]`: the store, the timeouts, the cookie.

pub mod redis;

use time::Duration;
use toml::Spanned;

use super::fields::{duration_field, is_loopback_host};
use crate::config::as_written::RawSession;
use crate::config::duration::format_duration;
use crate::config::model::{Server, SessionConfig, SessionStoreKind};
use crate::config::problems::Problems;

pub(super) fn session(
    raw: Option<Spanned<RawSession>>,
    server: Option<&Server>,
    public_url_span: Option<std::ops::Range<usize>>,
    p: &mut Problems,
) -> Option<SessionConfig> {
    let r = raw.map(Spanned::into_inner).unwrap_or_default();
    let store = match &r.store {
        None => SessionStoreKind::Memory,
        Some(s) if s.get_ref() == "memory" => SessionStoreKind::Memory,
        Some(s) if s.get_ref() == "redis" => match redis::redis_settings(&r, s.span(), p) {
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
        redis::refuse_redis_keys_for_memory(&r, p);
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
        // Blame the key the admin wrote: secure_cookies = false if they did, else public_url.
        match &r.secure_cookies {
            Some(written) => p.error(
                "session.secure_cookies",
                Some(written.span()),
                format!("secure_cookies = false with public_url {} (plain http on a non-loopback host): the session cookie would travel in clear; put TLS in front and use an https public_url", server.public_url),
            ),
            None => p.error(
                "server.public_url",
                public_url_span,
                format!("{} is plain http on a non-loopback host: the session cookie would travel in clear. Put TLS in front and write public_url = \"https://{}\", or, to try samlgate on this machine, use http://127.0.0.1:{}", server.public_url, server.public_url.host_str().unwrap_or("app.example.com"), server.listen.port()),
            ),
        }
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
