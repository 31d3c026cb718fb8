//! Fetching an issuer's keys over HTTP(S): the discovery document (when configured) names the
//! `jwks_uri`, which must be HTTPS (or plain HTTP to this machine) and is fetched next. The
//! document's `issuer` must be exactly the configured one (OpenID Connect Discovery 1.0 section
//! 4.3), so a document copied from elsewhere cannot hand over another issuer's keys.
//! Redirects are not followed; bodies are capped; each request times out.

use std::time::Duration;

use url::Url;

use super::jwks::{self, Jwks, JwksError, MAX_JWKS_BYTES};
use crate::config::JwksSource;

/// How long one fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why an issuer's keys could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("GET {url}: {detail}")]
    Http { url: String, detail: String },
    #[error("GET {url} answered {status} (expected 200)")]
    Status { url: String, status: u16 },
    #[error("GET {url}: the body is over {max} bytes")]
    TooLarge { url: String, max: usize },
    #[error("discovery document {url}: {detail}")]
    Discovery { url: String, detail: String },
    #[error("key set {url}: {source}")]
    Jwks {
        url: String,
        #[source]
        source: JwksError,
    },
}

/// The HTTP client every issuer's fetches share.
#[derive(Clone, Debug)]
pub struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    pub fn new() -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("samlgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Client(e.to_string()))?;
        Ok(Self { client })
    }

    /// The issuer's keys and the URL they came from.
    pub async fn jwks(&self, source: &JwksSource, issuer: &str) -> Result<(Jwks, Url), FetchError> {
        let jwks_uri = match source {
            JwksSource::Uri(url) => url.clone(),
            JwksSource::Discovery(url) => self.discover(url, issuer).await?,
        };
        let body = self.get(&jwks_uri).await?;
        let jwks = jwks::parse(&body).map_err(|source| FetchError::Jwks {
            url: jwks_uri.to_string(),
            source,
        })?;
        Ok((jwks, jwks_uri))
    }

    /// The `jwks_uri` a discovery document names.
    async fn discover(&self, url: &Url, issuer: &str) -> Result<Url, FetchError> {
        let fail = |detail: String| FetchError::Discovery {
            url: url.to_string(),
            detail,
        };
        let body = self.get(url).await?;
        let doc: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| fail(format!("not JSON: {e}")))?;
        let said = doc.get("issuer").and_then(|v| v.as_str());
        if said != Some(issuer) {
            return Err(fail(format!(
                "its issuer is {said:?}, the configured issuer {issuer:?}: they must be equal"
            )));
        }
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(|v| v.as_str())
            .ok_or_else(|| fail("no jwks_uri".into()))?;
        let jwks_uri =
            Url::parse(jwks_uri).map_err(|e| fail(format!("jwks_uri {jwks_uri:?}: {e}")))?;
        if !fetchable(&jwks_uri) {
            return Err(fail(format!(
                "jwks_uri {jwks_uri} is neither https nor http to a loopback address"
            )));
        }
        Ok(jwks_uri)
    }

    /// GET `url`: 200 and a body no larger than [`MAX_JWKS_BYTES`].
    async fn get(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        let http = |e: reqwest::Error| FetchError::Http {
            url: url.to_string(),
            detail: e.to_string(),
        };
        let mut response = self
            .client
            .get(url.clone())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(http)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: response.status().as_u16(),
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http)? {
            if body.len().saturating_add(chunk.len()) > MAX_JWKS_BYTES {
                return Err(FetchError::TooLarge {
                    url: url.to_string(),
                    max: MAX_JWKS_BYTES,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

impl Fetcher {
    /// A client that also trusts the CA certificates in `ca_pem`, and presents the client
    /// certificate and key in `identity_pem` (mutual TLS), when given.
    pub fn with_tls(
        ca_pem: Option<&[u8]>,
        identity_pem: Option<&[u8]>,
    ) -> Result<Self, FetchError> {
        let client = |e: reqwest::Error| FetchError::Client(e.to_string());
        let mut builder = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("samlgate/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem).map_err(client)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some(pem) = identity_pem {
            builder = builder.identity(reqwest::Identity::from_pem(pem).map_err(client)?);
        }
        Ok(Self {
            client: builder.build().map_err(client)?,
        })
    }

    /// POST a form to `url` (with HTTP Basic credentials when given): the status and the body
    /// (capped as every fetch).
    pub async fn post_form(
        &self,
        url: &Url,
        form: &[(&str, &str)],
        basic: Option<&str>,
    ) -> Result<(u16, Vec<u8>), FetchError> {
        let http = |e: reqwest::Error| FetchError::Http {
            url: url.to_string(),
            detail: e.to_string(),
        };
        let mut request = self
            .client
            .post(url.clone())
            .header("accept", "application/json")
            .form(form);
        if let Some(credentials) = basic {
            request = request.header("authorization", format!("Basic {credentials}"));
        }
        let mut response = request.send().await.map_err(http)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http)? {
            if body.len().saturating_add(chunk.len()) > MAX_JWKS_BYTES {
                return Err(FetchError::TooLarge {
                    url: url.to_string(),
                    max: MAX_JWKS_BYTES,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }
}

/// HTTPS, or plain HTTP to a loopback address.
pub fn fetchable(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}
