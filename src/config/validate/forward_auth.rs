//! `[forward_auth]`: the header the proxy in front puts the original URI in.

use toml::Spanned;

use crate::config::as_written::RawForwardAuth;
use crate::config::model::ForwardAuth;
use crate::config::problems::Problems;

pub(super) fn forward_auth(raw: Option<Spanned<RawForwardAuth>>, p: &mut Problems) -> ForwardAuth {
    let Some(header) = raw.and_then(|r| r.into_inner().uri_header) else {
        return ForwardAuth::default();
    };
    match axum::http::HeaderName::from_bytes(header.get_ref().as_bytes()) {
        Ok(uri_header) => ForwardAuth { uri_header },
        Err(_) => {
            p.error(
                "forward_auth.uri_header",
                Some(header.span()),
                format!(
                    "{:?} is not a header name (use \"X-Original-URI\" for nginx, \"X-Forwarded-Uri\" for Traefik)",
                    header.get_ref()
                ),
            );
            ForwardAuth::default()
        }
    }
}
