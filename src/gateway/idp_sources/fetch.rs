//! One HTTP(S) fetch of a metadata document: a size cap, connect and total timeouts, redirects
//! only within the same scheme (and for plain http the same host), and the conditional request
//! (`If-None-Match`, `If-Modified-Since`) so an unchanged document costs a 304.

use std::time::Duration;

use reqwest::header::{
    CACHE_CONTROL, CONTENT_LENGTH, DATE, ETAG, EXPIRES, HeaderMap, IF_MODIFIED_SINCE,
    IF_NONE_MATCH, LAST_MODIFIED,
};
use url::Url;

use crate::xml::ParseLimits;

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the whole fetch may take (a 60 MB aggregate over a slow link fits).
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(120);
/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;

/// The largest document fetched: what the metadata parser accepts.
pub fn max_bytes() -> usize {
    ParseLimits::metadata().max_bytes
}

/// What the server said about the last copy, sent back on the next fetch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// The answer of one fetch.
#[derive(Debug)]
pub enum Fetched {
    /// 304: the copy in hand is current.
    NotModified { max_age: Option<Duration> },
    Document {
        bytes: Vec<u8>,
        validators: Validators,
        /// `Cache-Control: max-age` or `Expires` - `Date`: a hint for the next fetch.
        max_age: Option<Duration>,
    },
}

/// Why a fetch brought nothing usable. The copy in use stays.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("fetching {url}: {detail}")]
    Request { url: String, detail: String },
    #[error("fetching {url}: HTTP status {status}")]
    Status { url: String, status: u16 },
    #[error("fetching {url}: the document is over the limit of {limit} bytes")]
    TooLarge { url: String, limit: usize },
}

impl FetchError {
    /// Stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::Client(_) | FetchError::Request { .. } => "fetch_failed",
            FetchError::Status { .. } => "http_status",
            FetchError::TooLarge { .. } => "too_large",
        }
    }
}

/// The client metadata is fetched with.
pub fn client() -> Result<reqwest::Client, FetchError> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let Some(first) = attempt.previous().first() else {
            return attempt.follow();
        };
        let next = attempt.url();
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else if next.scheme() != first.scheme() {
            let detail = format!(
                "redirect from {} to another scheme ({next}) refused",
                first.scheme()
            );
            attempt.error(detail)
        } else if next.scheme() == "http" && next.host_str() != first.host_str() {
            let detail = format!("plain-http redirect to another host ({next}) refused");
            attempt.error(detail)
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TOTAL_TIMEOUT)
        .redirect(policy)
        .user_agent(concat!("samlgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| FetchError::Client(e.to_string()))
}

/// Fetch `url`, conditionally on `validators`.
pub async fn fetch(
    client: &reqwest::Client,
    url: &Url,
    validators: &Validators,
    limit: usize,
) -> Result<Fetched, FetchError> {
    let failed = |e: reqwest::Error| FetchError::Request {
        url: url.to_string(),
        detail: error_chain(&e),
    };
    let mut request = client.get(url.clone());
    if let Some(etag) = &validators.etag {
        request = request.header(IF_NONE_MATCH, etag);
    }
    if let Some(modified) = &validators.last_modified {
        request = request.header(IF_MODIFIED_SINCE, modified);
    }
    let mut response = request.send().await.map_err(failed)?;
    let max_age = max_age(response.headers());
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified { max_age });
    }
    if !status.is_success() {
        return Err(FetchError::Status {
            url: url.to_string(),
            status: status.as_u16(),
        });
    }
    let too_large = || FetchError::TooLarge {
        url: url.to_string(),
        limit,
    };
    let announced =
        header(response.headers(), CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let found = Validators {
        etag: header(response.headers(), ETAG.as_str()),
        last_modified: header(response.headers(), LAST_MODIFIED.as_str()),
    };
    let mut bytes = Vec::with_capacity(
        announced
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
            .min(limit),
    );
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if bytes.len().saturating_add(chunk.len()) > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Fetched::Document {
        bytes,
        validators: found,
        max_age,
    })
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// How long the server says the document stays fresh: `Cache-Control: max-age` (`no-cache`,
/// `no-store`: zero), else `Expires` - `Date`.
pub fn max_age(headers: &HeaderMap) -> Option<Duration> {
    if let Some(cc) = header(headers, CACHE_CONTROL.as_str()) {
        for directive in cc.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-cache" || lower == "no-store" {
                return Some(Duration::ZERO);
            }
            if let Some(n) = lower.strip_prefix("max-age=") {
                return n
                    .trim_matches('"')
                    .parse::<u64>()
                    .ok()
                    .map(Duration::from_secs);
            }
        }
    }
    let expires = http_date(&header(headers, EXPIRES.as_str())?)?;
    let date = header(headers, DATE.as_str())
        .and_then(|d| http_date(&d))
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    Some(Duration::try_from(expires - date).unwrap_or(Duration::ZERO))
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date(text: &str) -> Option<time::OffsetDateTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text.trim(), &format)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

/// The error and its causes, one line (reqwest's own Display hides the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn freshness_from_cache_control_or_expires() {
        let mut h = HeaderMap::new();
        assert_eq!(max_age(&h), None);
        h.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=600"),
        );
        assert_eq!(max_age(&h), Some(Duration::from_secs(600)));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        assert_eq!(max_age(&h), Some(Duration::ZERO));
        let mut h = HeaderMap::new();
        h.insert(
            DATE,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        h.insert(
            EXPIRES,
            HeaderValue::from_static("Sun, 06 Nov 1994 09:49:37 GMT"),
        );
        assert_eq!(max_age(&h), Some(Duration::from_secs(3600)));
    }
}
