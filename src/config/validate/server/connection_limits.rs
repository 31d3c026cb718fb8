//! `[server]` header_read_timeout, saml_body_timeout, keepalive_timeout and max_connections: what
//! a client may hold open before it has sent a request, and how much of it.

use std::num::NonZeroUsize;

use time::Duration;
use toml::Spanned;

use crate::config::as_written::RawServer;
use crate::config::duration::{format_duration, parse_duration};
use crate::config::model::ConnectionLimits;
use crate::config::problems::Problems;

/// A longer header-read timeout gives slow-header clients back what the timeout takes away.
pub const MAX_HEADER_READ_TIMEOUT: Duration = Duration::minutes(5);
/// A SAML message of the largest size allowed arrives in seconds even on a slow link.
pub const MAX_SAML_BODY_TIMEOUT: Duration = Duration::minutes(5);
pub const MAX_KEEPALIVE_TIMEOUT: Duration = Duration::hours(1);
/// More than this on one node is a typo, not a plan.
pub const MAX_MAX_CONNECTIONS: usize = 1_000_000;

/// The connection limits of `[server]`, each problem reported with its line.
pub fn connection_limits(r: &RawServer, p: &mut Problems) -> ConnectionLimits {
    let defaults = ConnectionLimits::default();
    let header_read_timeout = bounded(
        &r.header_read_timeout,
        "server.header_read_timeout",
        MAX_HEADER_READ_TIMEOUT,
        p,
    )
    .unwrap_or(defaults.header_read_timeout);
    let saml_body_timeout = bounded(
        &r.saml_body_timeout,
        "server.saml_body_timeout",
        MAX_SAML_BODY_TIMEOUT,
        p,
    )
    .unwrap_or(defaults.saml_body_timeout);
    let keepalive_timeout = bounded(
        &r.keepalive_timeout,
        "server.keepalive_timeout",
        MAX_KEEPALIVE_TIMEOUT,
        p,
    )
    .unwrap_or(defaults.keepalive_timeout);
    let max_connections = r.max_connections.as_ref().and_then(|m| {
        let n = usize::try_from(*m.get_ref())
            .ok()
            .filter(|n| *n <= MAX_MAX_CONNECTIONS)
            .and_then(NonZeroUsize::new);
        if n.is_none() {
            p.error(
                "server.max_connections",
                Some(m.span()),
                format!(
                    "{} is not a number of connections between 1 and {MAX_MAX_CONNECTIONS} (leave it out for {})",
                    m.get_ref(),
                    ConnectionLimits::DEFAULT_MAX_CONNECTIONS
                ),
            );
        }
        n
    });
    ConnectionLimits {
        header_read_timeout,
        saml_body_timeout,
        keepalive_timeout,
        max_connections,
    }
}

/// A duration between one second and `max`; `None` (after recording the problem) otherwise or
/// when absent.
fn bounded(
    field: &Option<Spanned<String>>,
    key: &str,
    max: Duration,
    p: &mut Problems,
) -> Option<std::time::Duration> {
    let field = field.as_ref()?;
    match parse_duration(field.get_ref()) {
        Ok(d) if d.is_positive() && d <= max => Some(std::time::Duration::from_secs(
            d.whole_seconds().unsigned_abs(),
        )),
        Ok(d) if d.is_positive() => {
            p.error(
                key,
                Some(field.span()),
                format!(
                    "{} is over the maximum of {}",
                    format_duration(d),
                    format_duration(max)
                ),
            );
            None
        }
        Ok(_) => {
            p.error(key, Some(field.span()), "must be longer than zero");
            None
        }
        Err(e) => {
            p.error(key, Some(field.span()), e);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::problems::Problem;
    use std::path::Path;

    fn limits(text: &str) -> (ConnectionLimits, Vec<Problem>) {
        let raw: RawServer = toml::from_str(text).unwrap();
        let mut p = Problems::new(Path::new("/etc/samlgate.toml"), text);
        let limits = connection_limits(&raw, &mut p);
        (limits, p.into_vec())
    }

    #[test]
    fn defaults_apply_when_the_keys_are_absent() {
        let (l, problems) = limits("");
        assert!(problems.is_empty());
        assert_eq!(l, ConnectionLimits::default());
        assert_eq!(l.header_read_timeout, std::time::Duration::from_secs(10));
        assert_eq!(l.saml_body_timeout, std::time::Duration::from_secs(30));
        assert_eq!(
            l.max_connections_or_default(),
            ConnectionLimits::DEFAULT_MAX_CONNECTIONS
        );
    }

    #[test]
    fn reads_the_four_keys() {
        let (l, problems) = limits(
            "header_read_timeout = \"5s\"\nkeepalive_timeout = \"2m\"\nmax_connections = 300\nsaml_body_timeout = \"45s\"\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(l.header_read_timeout, std::time::Duration::from_secs(5));
        assert_eq!(l.saml_body_timeout, std::time::Duration::from_secs(45));
        assert_eq!(l.keepalive_timeout, std::time::Duration::from_secs(120));
        assert_eq!(l.max_connections, NonZeroUsize::new(300));
    }

    #[test]
    fn refuses_out_of_range_values_naming_key_and_line() {
        let (_, problems) = limits(
            "header_read_timeout = \"10m\"\nkeepalive_timeout = \"0s\"\nmax_connections = 0\nsaml_body_timeout = \"6m\"\n",
        );
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "error: /etc/samlgate.toml:1: server.header_read_timeout: 10m is over the maximum of 5m",
                "error: /etc/samlgate.toml:2: server.keepalive_timeout: must be longer than zero",
                "error: /etc/samlgate.toml:3: server.max_connections: 0 is not a number of connections between 1 and 1000000 (leave it out for 10000)",
                "error: /etc/samlgate.toml:4: server.saml_body_timeout: 6m is over the maximum of 5m",
            ]
        );
        let (_, problems) = limits("max_connections = -4\nheader_read_timeout = \"10\"\n");
        assert_eq!(problems.len(), 2, "{problems:?}");
        let message = |key: &str| &problems.iter().find(|p| p.key == key).unwrap().message;
        assert!(message("server.max_connections").contains("-4"));
        assert!(message("server.header_read_timeout").contains("no unit"));
    }
}
