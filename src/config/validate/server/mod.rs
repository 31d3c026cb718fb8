//! `[server]`: where the gateway listens, the URL browsers see, its event loops and limits.

pub mod connection_limits;
pub mod tls;

use std::net::SocketAddr;
use std::num::NonZeroUsize;

use toml::Spanned;
use url::Url;

use super::fields::{is_loopback_host, required, span_of};
use crate::config::as_written::RawServer;
use crate::config::model::Server;
use crate::config::problems::Problems;
use crate::routes::check_route_path;

pub const DEFAULT_MAX_ACS_BODY: usize = 256 * 1024;
/// More event loops than this is a typo, not a machine.
pub const MAX_WORKERS: usize = 1024;
/// ACS validations at once: each holds a blocking-pool thread, so a bound well under Tokio's 512.
pub const MAX_ACS_CONCURRENCY: usize = 256;

pub(super) fn server(raw: Option<Spanned<RawServer>>, p: &mut Problems) -> Option<Server> {
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
    let connections = connection_limits::connection_limits(r, p);
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
        session_page: r.session_page.as_ref().is_some_and(|v| *v.get_ref()),
        access_log: r.access_log.as_ref().is_some_and(|v| *v.get_ref()),
        tls: None,
        redirect_http_listen: None,
    })
}
