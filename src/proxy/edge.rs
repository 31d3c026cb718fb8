//! The rules every request meets first, on every path (the gateway's own endpoints included),
//! before any routing, session lookup or forwarding:
//!
//! - exactly one `Host` (none is allowed only in HTTP/1.0): two `Host` headers let a server and
//!   the application behind it each read a different one, and an HTTP/1.1 request without one is
//!   malformed (RFC 9112 3.2). Both get 400.
//! - a request that carries this gateway's own `Via` mark has already been forwarded by it: the
//!   backend sends requests back to the gateway. It gets 508 at once, so a loop costs one request
//!   instead of connections and memory until something runs out.
//!
//! The mark is `samlgate-` and the first 8 hex digits of the SHA-256 of the SP entity ID: every
//! node of one deployment shares the entity ID (so a loop through the load balancer and another
//! node is caught too), two deployments chained on purpose have different ones, and the hash keeps
//! the mark a plain token (`Via` allows no `:` or `/` there) that does not spell out the entity ID.

use axum::body::Body;
use axum::http::header::{HOST, VIA};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, Version};

/// This gateway's `Via` entry: `1.1 samlgate-1a2b3c4d`.
#[derive(Debug, Clone)]
pub struct LoopMark {
    pseudonym: String,
    http10: HeaderValue,
    http11: HeaderValue,
}

impl LoopMark {
    /// The mark of the deployment whose SP entity ID is `entity_id`.
    pub fn for_entity_id(entity_id: &str) -> Self {
        let digest = openssl::sha::sha256(entity_id.as_bytes());
        let mut pseudonym = String::from("samlgate-");
        for b in digest.iter().take(4) {
            use std::fmt::Write as _;
            // Writing to a String cannot fail.
            let _ = write!(pseudonym, "{b:02x}");
        }
        Self::from_pseudonym(pseudonym)
    }

    fn from_pseudonym(pseudonym: String) -> Self {
        let value = |version: &str| {
            HeaderValue::try_from(format!("{version} {pseudonym}"))
                .unwrap_or_else(|_| HeaderValue::from_static("1.1 samlgate"))
        };
        Self {
            http10: value("1.0"),
            http11: value("1.1"),
            pseudonym,
        }
    }

    pub fn pseudonym(&self) -> &str {
        &self.pseudonym
    }

    /// The entry to add to a request the gateway received as `version`.
    pub fn via_entry(&self, version: Version) -> HeaderValue {
        if version == Version::HTTP_10 {
            self.http10.clone()
        } else {
            self.http11.clone()
        }
    }

    /// Does some `Via` entry of `headers` name this gateway?
    pub fn is_in(&self, headers: &HeaderMap) -> bool {
        headers.get_all(VIA).iter().any(|value| {
            value.as_bytes().split(|&b| b == b',').any(|entry| {
                // received-protocol SP received-by [SP comment]
                let mut parts = entry
                    .split(|b| b.is_ascii_whitespace())
                    .filter(|p| !p.is_empty());
                parts.next();
                parts
                    .next()
                    .is_some_and(|by| by.eq_ignore_ascii_case(self.pseudonym.as_bytes()))
            })
        })
    }
}

/// Why a request was refused at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EdgeRefusal {
    #[error("request refused: it carries more than one Host header")]
    TwoHosts,
    #[error("request refused: HTTP/1.1 without a Host header")]
    NoHost,
    #[error("request loop: it already passed this gateway (its Via names this gateway)")]
    Loop,
}

impl EdgeRefusal {
    pub fn status(self) -> StatusCode {
        match self {
            EdgeRefusal::TwoHosts | EdgeRefusal::NoHost => StatusCode::BAD_REQUEST,
            EdgeRefusal::Loop => StatusCode::LOOP_DETECTED,
        }
    }

    /// A short stable name, for the log.
    pub fn kind(self) -> &'static str {
        match self {
            EdgeRefusal::TwoHosts => "two_hosts",
            EdgeRefusal::NoHost => "no_host",
            EdgeRefusal::Loop => "loop",
        }
    }

    /// The page the client gets: no detail beyond the status.
    pub fn page(self) -> Response<Body> {
        let (title, text) = match self {
            EdgeRefusal::TwoHosts | EdgeRefusal::NoHost => {
                ("400 Bad Request", "This request is malformed.")
            }
            EdgeRefusal::Loop => (
                "508 Loop Detected",
                "This request came back to the gateway that had already forwarded it. Please tell the administrator.",
            ),
        };
        crate::text::page::html_page(self.status(), title, &format!("<p>{text}</p>"))
    }
}

/// The edge rules for a request head (see the module documentation). `mark` is `None` where
/// nothing is forwarded (a plain router).
pub fn check(
    version: Version,
    headers: &HeaderMap,
    mark: Option<&LoopMark>,
) -> Result<(), EdgeRefusal> {
    let mut hosts = headers.get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => return Err(EdgeRefusal::TwoHosts),
        (None, _) if version == Version::HTTP_11 => return Err(EdgeRefusal::NoHost),
        _ => {}
    }
    if let Some(mark) = mark
        && mark.is_in(headers)
    {
        return Err(EdgeRefusal::Loop);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::CACHE_CONTROL;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_static(value));
        }
        h
    }

    #[test]
    fn one_host_passes_two_or_none_in_http_1_1_do_not() {
        let one = headers(&[("host", "app.example.com")]);
        assert_eq!(check(Version::HTTP_11, &one, None), Ok(()));
        let two = headers(&[("host", "app.example.com"), ("host", "evil.example")]);
        assert_eq!(
            check(Version::HTTP_11, &two, None),
            Err(EdgeRefusal::TwoHosts)
        );
        assert_eq!(
            check(Version::HTTP_10, &two, None),
            Err(EdgeRefusal::TwoHosts)
        );
        let none = headers(&[("accept", "*/*")]);
        assert_eq!(
            check(Version::HTTP_11, &none, None),
            Err(EdgeRefusal::NoHost)
        );
        assert_eq!(check(Version::HTTP_10, &none, None), Ok(()));
    }

    #[test]
    fn the_mark_is_shared_by_one_entity_id_and_differs_between_two() {
        let a = LoopMark::for_entity_id("https://app.example.com/saml/metadata");
        let again = LoopMark::for_entity_id("https://app.example.com/saml/metadata");
        let b = LoopMark::for_entity_id("https://other.example.com/saml/metadata");
        assert_eq!(a.pseudonym(), again.pseudonym());
        assert_ne!(a.pseudonym(), b.pseudonym());
        assert!(a.pseudonym().starts_with("samlgate-"));
        assert_eq!(a.pseudonym().len(), "samlgate-".len() + 8);
        assert_eq!(
            a.via_entry(Version::HTTP_11).to_str().unwrap(),
            format!("1.1 {}", a.pseudonym())
        );
        assert_eq!(
            a.via_entry(Version::HTTP_10).to_str().unwrap(),
            format!("1.0 {}", a.pseudonym())
        );
    }

    #[test]
    fn a_request_that_passed_this_gateway_is_a_loop_others_are_not() {
        let mark = LoopMark::from_pseudonym("samlgate-0a1b2c3d".into());
        let host = ("host", "app.example.com");
        for via in [
            "1.1 samlgate-0a1b2c3d",
            "1.0 proxy.example, 1.1 samlgate-0a1b2c3d",
            "1.1 SAMLGATE-0A1B2C3D (samlgate)",
            "HTTP/1.1  samlgate-0a1b2c3d",
        ] {
            let h = headers(&[host, ("via", via)]);
            assert_eq!(
                check(Version::HTTP_11, &h, Some(&mark)),
                Err(EdgeRefusal::Loop),
                "{via}"
            );
        }
        let split = headers(&[host, ("via", "1.1 lb"), ("via", "1.1 samlgate-0a1b2c3d")]);
        assert_eq!(
            check(Version::HTTP_11, &split, Some(&mark)),
            Err(EdgeRefusal::Loop)
        );
        for via in [
            "1.1 samlgate-99999999",
            "1.1 proxy (samlgate-0a1b2c3d)",
            "samlgate-0a1b2c3d",
            "1.1 samlgate-0a1b2c3d0",
        ] {
            let h = headers(&[host, ("via", via)]);
            assert_eq!(check(Version::HTTP_11, &h, Some(&mark)), Ok(()), "{via}");
        }
        // Without a mark (a plain router), Via is not looked at.
        let h = headers(&[host, ("via", "1.1 samlgate-0a1b2c3d")]);
        assert_eq!(check(Version::HTTP_11, &h, None), Ok(()));
    }

    #[test]
    fn refusal_pages_carry_the_status_and_no_detail() {
        for refusal in [
            EdgeRefusal::TwoHosts,
            EdgeRefusal::NoHost,
            EdgeRefusal::Loop,
        ] {
            let page = refusal.page();
            assert_eq!(page.status(), refusal.status());
            assert_eq!(page.headers()[CACHE_CONTROL], "no-store");
        }
        assert_eq!(EdgeRefusal::Loop.status().as_u16(), 508);
    }
}
