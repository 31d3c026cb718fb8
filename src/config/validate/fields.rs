//! Reading one value: a required key, a duration, a file next to the configuration, a bool.

use std::ops::Range;
use std::path::{Path, PathBuf};

use time::Duration;
use toml::Spanned;
use url::Url;

use crate::config::as_written::S;
use crate::config::duration::parse_duration;
use crate::config::problems::Problems;

pub(super) fn required<'a, T>(
    field: &'a S<T>,
    key: &str,
    section_span: Option<Range<usize>>,
    p: &mut Problems,
) -> Option<&'a Spanned<T>> {
    if field.is_none() {
        p.error(key, section_span, "required key is missing");
    }
    field.as_ref()
}

/// A name that appears in metric labels (an IdP's also in URLs): letters, digits, `_` and `-`,
/// not empty. Anything else is an error on `key`, naming where the name appears (`used_in`).
pub(super) fn label_name(
    field: &Spanned<String>,
    key: &str,
    used_in: &str,
    p: &mut Problems,
) -> Option<String> {
    let name = field.get_ref();
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        p.error(
            key,
            Some(field.span()),
            format!("use letters, digits, '_' or '-' (it appears in {used_in})"),
        );
    }
    ok.then(|| name.clone())
}

pub(super) fn duration_field(
    field: &S<String>,
    key: &str,
    default: Duration,
    p: &mut Problems,
) -> Option<Duration> {
    match field {
        None => Some(default),
        Some(s) => match parse_duration(s.get_ref()) {
            Ok(d) if d.is_positive() => Some(d),
            Ok(_) => {
                p.error(key, Some(s.span()), "must be longer than zero");
                None
            }
            Err(e) => {
                p.error(key, Some(s.span()), e);
                None
            }
        },
    }
}

pub(super) fn resolve(base: &Path, value: &str) -> PathBuf {
    let path = Path::new(value);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

pub(in crate::config::validate) fn read_file(
    base: &Path,
    field: &Spanned<String>,
    key: &str,
    p: &mut Problems,
) -> Option<(PathBuf, Vec<u8>)> {
    let path = resolve(base, field.get_ref());
    match std::fs::read(&path) {
        Ok(bytes) => Some((path, bytes)),
        Err(e) => {
            p.error(
                key,
                Some(field.span()),
                format!("cannot read {}: {e}", path.display()),
            );
            None
        }
    }
}

pub(super) fn span_of<T>(field: &Option<Spanned<T>>) -> Option<Range<usize>> {
    field.as_ref().map(Spanned::span)
}

pub(super) fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

pub(super) fn bool_of(field: &S<bool>, default: bool) -> bool {
    field.as_ref().map_or(default, |b| *b.get_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str) -> (Option<String>, Vec<String>) {
        let source = format!("name = {name:?}\n");
        let field = Spanned::new(7..7 + name.len() + 2, name.to_owned());
        let mut p = Problems::new(Path::new("/etc/samlgate.toml"), &source);
        let kept = label_name(&field, "idp[0].name", "URLs and metric labels", &mut p);
        let problems = p.into_vec().iter().map(ToString::to_string).collect();
        (kept, problems)
    }

    #[test]
    fn a_label_name_of_letters_digits_underscores_and_dashes_is_kept() {
        assert_eq!(
            check("corp-Entra_2"),
            (Some("corp-Entra_2".to_owned()), vec![])
        );
    }

    #[test]
    fn a_label_name_with_anything_else_is_an_error_naming_the_key_and_where_it_appears() {
        for bad in ["", "corp entra", "corp/entra", "corp\"}", "corp.entra", "é"] {
            let (kept, problems) = check(bad);
            assert_eq!(kept, None, "{bad:?}");
            assert_eq!(
                problems,
                vec![
                    "error: /etc/samlgate.toml:1: idp[0].name: use letters, digits, '_' or '-' \
                     (it appears in URLs and metric labels)"
                        .to_owned()
                ],
                "{bad:?}"
            );
        }
    }
}
