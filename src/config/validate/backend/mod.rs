//! `[backend]`: where requests go once a login is through, and how long to wait for it.

pub mod self_loop;
pub mod tls;

use time::Duration;
use toml::Spanned;

use super::fields::{duration_field, required};
use crate::config::as_written::RawBackend;
use crate::config::backend_url::BackendUrl;
use crate::config::model::Backend;
use crate::config::problems::Problems;

pub(super) fn backend(
    raw: Option<Spanned<RawBackend>>,
    base: &std::path::Path,
    p: &mut Problems,
) -> Option<Backend> {
    let Some(raw) = raw else {
        p.error("backend", None, "the [backend] section is missing (url)");
        return None;
    };
    let span = Some(raw.span());
    let r = raw.get_ref();
    let url = required(&r.url, "backend.url", span.clone(), p).and_then(|u| {
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
    let body = duration_field(
        &r.body_timeout,
        "backend.body_timeout",
        Duration::seconds(60),
        p,
    );
    let websocket_idle = duration_field(
        &r.websocket_idle_timeout,
        "backend.websocket_idle_timeout",
        Duration::hours(1),
        p,
    );
    let https = url.as_ref().map(|u| u.url().scheme() == "https");
    let (ca, client_cert) = tls::tls(r, span, https, base, p)?;
    Some(Backend {
        url: url?,
        connect_timeout: connect?,
        request_timeout: request?,
        body_timeout: body?,
        websocket_idle_timeout: websocket_idle?,
        ca,
        client_cert,
    })
}
