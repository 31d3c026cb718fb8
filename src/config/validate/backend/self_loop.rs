//! A `backend.url` that is the gateway itself forwards every request back to the gateway, which
//! forwards it again: one request then holds connections and memory until something runs out.
//! `check` refuses the spellings it can see; the gateway's `Via` mark stops the rest at the first
//! request (`gateway::edge`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::Range;

use url::{Host, Url};

use crate::config::model::Server;
use crate::config::problems::Problems;

/// Why a backend URL is the gateway itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelfBackend {
    /// It reaches the address the gateway listens on.
    Listen(SocketAddr),
    /// It names the gateway's public URL (through the load balancer, back to the gateway).
    PublicUrl(String),
}

/// Record an error when `backend` is the gateway itself.
pub fn refuse_backend_that_is_the_gateway(
    server: &Server,
    backend: &Url,
    span: Option<Range<usize>>,
    p: &mut Problems,
) {
    let Some(why) = self_backend(server.listen, &server.public_url, backend) else {
        return;
    };
    let what = match why {
        SelfBackend::Listen(addr) => {
            format!("reaches the gateway's own listen address (server.listen = \"{addr}\")")
        }
        SelfBackend::PublicUrl(url) => {
            format!("is the gateway's own public URL (server.public_url = \"{url}\")")
        }
    };
    p.error(
        "backend.url",
        span,
        format!(
            "{backend} {what}: every request would be forwarded back to the gateway, again and again; point it at the application"
        ),
    );
}

/// Whether `backend` reaches the gateway listening on `listen` or published at `public_url`.
/// Only what can be told without a lookup: IP addresses, `localhost`, the public host name.
pub fn self_backend(listen: SocketAddr, public_url: &Url, backend: &Url) -> Option<SelfBackend> {
    let port = backend.port_or_known_default()?;
    let host = backend.host()?;
    if port == listen.port() && local_candidates(&host).any(|ip| reaches(ip, listen.ip())) {
        return Some(SelfBackend::Listen(listen));
    }
    let public_host = public_url.host()?;
    if public_url.port_or_known_default() == Some(port) && same_host(&host, &public_host) {
        return Some(SelfBackend::PublicUrl(
            public_url.as_str().trim_end_matches('/').to_owned(),
        ));
    }
    None
}

/// The addresses a backend host connects to, when they can be known without a lookup.
/// `0.0.0.0` and `[::]` as a destination mean this machine.
fn local_candidates(host: &Host<&str>) -> impl Iterator<Item = IpAddr> {
    let ips: Vec<IpAddr> = match host {
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if d == "localhost" || d.ends_with(".localhost") {
                vec![
                    IpAddr::V4(Ipv4Addr::LOCALHOST),
                    IpAddr::V6(Ipv6Addr::LOCALHOST),
                ]
            } else {
                Vec::new()
            }
        }
        Host::Ipv4(ip) if ip.is_unspecified() => vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
        Host::Ipv4(ip) => vec![IpAddr::V4(*ip)],
        Host::Ipv6(ip) if ip.is_unspecified() => vec![IpAddr::V6(Ipv6Addr::LOCALHOST)],
        Host::Ipv6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => vec![IpAddr::V4(v4)],
            None => vec![IpAddr::V6(*ip)],
        },
    };
    ips.into_iter()
}

/// Does a connection to `dest` reach a socket listening on `listen`? A wildcard listener takes
/// every loopback address of its family (`[::]` takes IPv4 too: dual stack).
fn reaches(dest: IpAddr, listen: IpAddr) -> bool {
    match listen {
        IpAddr::V4(l) if l.is_unspecified() => dest.is_ipv4() && dest.is_loopback(),
        IpAddr::V6(l) if l.is_unspecified() => dest.is_loopback(),
        _ => dest == listen,
    }
}

fn same_host(a: &Host<&str>, b: &Host<&str>) -> bool {
    match (a, b) {
        (Host::Domain(a), Host::Domain(b)) => a
            .trim_end_matches('.')
            .eq_ignore_ascii_case(b.trim_end_matches('.')),
        (Host::Ipv4(a), Host::Ipv4(b)) => a == b,
        (Host::Ipv6(a), Host::Ipv6(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(listen: &str, public: &str, backend: &str) -> Option<SelfBackend> {
        self_backend(
            listen.parse().unwrap(),
            &Url::parse(public).unwrap(),
            &Url::parse(backend).unwrap(),
        )
    }

    const PUBLIC: &str = "https://app.example.com";

    #[test]
    fn the_listen_address_under_every_local_spelling_is_refused() {
        for (listen, backend) in [
            ("127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("127.0.0.1:8080", "http://localhost:8080/app"),
            ("127.0.0.1:8080", "http://LOCALHOST.:8080"),
            ("127.0.0.1:8080", "http://0.0.0.0:8080"),
            ("0.0.0.0:8080", "http://127.0.0.1:8080"),
            ("0.0.0.0:8080", "http://127.1.2.3:8080"),
            ("0.0.0.0:8080", "http://localhost:8080"),
            ("0.0.0.0:80", "http://localhost"),
            ("[::]:8080", "http://127.0.0.1:8080"),
            ("[::]:8080", "http://[::1]:8080"),
            ("[::1]:8080", "http://localhost:8080"),
            ("[::1]:8080", "http://[::]:8080"),
            ("10.0.0.5:8080", "http://10.0.0.5:8080"),
            ("10.0.0.5:8080", "http://[::ffff:10.0.0.5]:8080"),
        ] {
            assert!(
                matches!(check(listen, PUBLIC, backend), Some(SelfBackend::Listen(_))),
                "{listen} {backend}"
            );
        }
    }

    #[test]
    fn the_public_url_is_refused() {
        for (public, backend) in [
            ("https://app.example.com", "http://app.example.com:443"),
            ("http://app.example.com", "http://APP.example.com/"),
            (
                "http://app.example.com:8000",
                "http://app.example.com:8000/x",
            ),
            ("http://192.0.2.7", "http://192.0.2.7:80"),
        ] {
            assert!(
                matches!(
                    check("127.0.0.1:8080", public, backend),
                    Some(SelfBackend::PublicUrl(_))
                ),
                "{public} {backend}"
            );
        }
    }

    #[test]
    fn other_backends_pass() {
        for (listen, backend) in [
            ("127.0.0.1:8080", "http://127.0.0.1:9000"),
            ("127.0.0.1:8080", "http://127.0.0.2:8080"),
            ("10.0.0.5:8080", "http://127.0.0.1:8080"),
            ("0.0.0.0:8080", "http://[::1]:8080"),
            ("0.0.0.0:8080", "http://10.0.0.9:8080"),
            ("0.0.0.0:8080", "http://app.internal:8080"),
            ("127.0.0.1:8080", "http://app.example.com"),
        ] {
            assert_eq!(check(listen, PUBLIC, backend), None, "{listen} {backend}");
        }
    }
}
