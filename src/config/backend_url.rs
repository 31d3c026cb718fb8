//! `[backend] url`: where the reverse proxy forwards. Checked when the configuration is read, by
//! the rules the proxy applies when it reads the URL as a request target, so that a URL it could
//! not use is reported with its key and line instead of failing at start.

use axum::http::Uri;
use axum::http::uri::{InvalidUri, Scheme};
use url::Url;

/// A backend URL the proxy can forward to: absolute `http://` or `https://host[:port][/prefix]`,
/// with no query or fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendUrl(Url);

/// Why `[backend] url` cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackendUrlError {
    #[error("\"{text}\" is not a URL: {reason}")]
    NotAUrl {
        text: String,
        reason: url::ParseError,
    },
    #[error("backend.url {url:?} is not a valid absolute URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("backend.url {url:?}: scheme {scheme:?} is not supported (http or https)")]
    UnsupportedScheme { url: String, scheme: String },
    #[error("backend.url {url:?} must not carry a query or fragment")]
    HasQuery { url: String },
}

impl BackendUrl {
    /// Parse `text` as written in the file.
    pub fn parse(text: &str) -> Result<Self, BackendUrlError> {
        let url = Url::parse(text).map_err(|reason| BackendUrlError::NotAUrl {
            text: text.to_owned(),
            reason,
        })?;
        // The proxy joins request paths below the prefix, so it reads the URL without its
        // trailing slash; the checks read it the same way.
        let target = text.trim_end_matches('/');
        let invalid = |reason: String| BackendUrlError::InvalidUrl {
            url: target.to_owned(),
            reason,
        };
        let uri: Uri = target
            .parse()
            .map_err(|e: InvalidUri| invalid(e.to_string()))?;
        let Some(scheme) = uri.scheme() else {
            return Err(invalid("no scheme".into()));
        };
        if *scheme != Scheme::HTTP && *scheme != Scheme::HTTPS {
            return Err(BackendUrlError::UnsupportedScheme {
                url: target.to_owned(),
                scheme: scheme.to_string(),
            });
        }
        if uri.authority().is_none() {
            return Err(invalid("no host".into()));
        }
        if uri.query().is_some() || target.contains('#') {
            return Err(BackendUrlError::HasQuery {
                url: target.to_owned(),
            });
        }
        Ok(Self(url))
    }

    pub fn url(&self) -> &Url {
        &self.0
    }

    /// The URL as normalized by the parser (`http://host:port/prefix`, lower-case scheme and host).
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::fmt::Display for BackendUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_with_or_without_a_prefix() {
        assert!(BackendUrl::parse("https://backend.internal:8443").is_ok());
        let plain = BackendUrl::parse("http://127.0.0.1:9000").unwrap();
        assert_eq!(plain.as_str(), "http://127.0.0.1:9000/");
        let prefixed = BackendUrl::parse("http://app.internal:8080/base/").unwrap();
        assert_eq!(prefixed.url().path(), "/base/");
    }

    #[test]
    fn refuses_what_the_proxy_cannot_serve() {
        assert!(matches!(
            BackendUrl::parse("ftp://10.0.0.1"),
            Err(BackendUrlError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            BackendUrl::parse("127.0.0.1:9000"),
            Err(BackendUrlError::NotAUrl { .. } | BackendUrlError::InvalidUrl { .. })
        ));
        assert!(matches!(
            BackendUrl::parse("http://127.0.0.1:9000/?a=b"),
            Err(BackendUrlError::HasQuery { .. })
        ));
        assert!(matches!(
            BackendUrl::parse("http://127.0.0.1:9000/#top"),
            Err(BackendUrlError::HasQuery { .. })
        ));
        assert!(matches!(
            BackendUrl::parse("http://app.internal/a b"),
            Err(BackendUrlError::InvalidUrl { .. })
        ));
        assert_eq!(
            BackendUrl::parse("ws://backend.internal")
                .unwrap_err()
                .to_string(),
            "backend.url \"ws://backend.internal\": scheme \"ws\" is not supported (http or https)"
        );
    }
}
