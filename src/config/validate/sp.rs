//! `[sp]`: our entityID, key and certificates (with the ones of a rollover).

use std::path::Path;

use toml::Spanned;

use super::fields::required;
use super::keys::{load_cert, load_key};
use crate::config::as_written::RawSp;
use crate::config::model::Sp;
use crate::config::problems::Problems;

pub(super) fn sp(raw: Option<Spanned<RawSp>>, base: &Path, p: &mut Problems) -> Option<Sp> {
    let Some(raw) = raw else {
        p.error(
            "sp",
            None,
            "the [sp] section is missing (entity_id, key, cert)",
        );
        return None;
    };
    let span = Some(raw.span());
    let r = raw.get_ref();
    let entity_id = required(&r.entity_id, "sp.entity_id", span.clone(), p).and_then(|e| {
        if e.get_ref().trim().is_empty() {
            p.error("sp.entity_id", Some(e.span()), "must not be empty");
            None
        } else {
            Some(e.get_ref().clone())
        }
    });
    let key =
        required(&r.key, "sp.key", span.clone(), p).and_then(|f| load_key(base, f, "sp.key", p));
    let cert = required(&r.cert, "sp.cert", span, p).and_then(|f| load_cert(base, f, "sp.cert", p));
    if let (Some(k), Some(c), Some(f)) = (&key, &cert, &r.cert)
        && !c.public_key().is_ok_and(|pk| pk.public_eq(&k.key))
    {
        p.error(
            "sp.cert",
            Some(f.span()),
            "this certificate does not belong to sp.key",
        );
    }
    let next_cert = r
        .next_cert
        .as_ref()
        .and_then(|f| load_cert(base, f, "sp.next_cert", p));
    let mut old_keys = Vec::new();
    if let Some(list) = &r.old_keys {
        for v in list.get_ref() {
            let f = Spanned::new(list.span(), v.clone());
            if let Some(k) = load_key(base, &f, "sp.old_keys", p) {
                old_keys.push(k);
            }
        }
    }
    let mut key = key?;
    key.certificate = cert.clone();
    Some(Sp {
        entity_id: entity_id?,
        key,
        cert: cert?,
        next_cert,
        old_keys,
        sign_authn_requests: r.sign_authn_requests.as_ref().is_none_or(|b| *b.get_ref()),
        sign_metadata: r.sign_metadata.as_ref().is_none_or(|b| *b.get_ref()),
    })
}
