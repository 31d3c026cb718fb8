//! `[headers]`: the header contract, which headers carry the identity to the backend.

use toml::Spanned;

use crate::config::as_written::RawHeaders;
use crate::config::problems::Problems;
use crate::identity::contract::{HeaderContract, HeaderContractConfig};

pub(super) fn headers(
    raw: Option<Spanned<RawHeaders>>,
    p: &mut Problems,
) -> Option<HeaderContract> {
    let Some(raw) = raw else {
        return Some(HeaderContract::default());
    };
    let span = Some(raw.span());
    let r = raw.into_inner();
    let config = HeaderContractConfig {
        names: r.names.map(Spanned::into_inner).unwrap_or_default(),
        extra: r.extra.map(Spanned::into_inner).unwrap_or_default(),
        also_strip: r.also_strip.map(Spanned::into_inner).unwrap_or_default(),
    };
    HeaderContract::from_config(&config)
        .map_err(|e| p.error("headers", span, e.to_string()))
        .ok()
}
