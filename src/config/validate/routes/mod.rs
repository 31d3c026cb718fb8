//! `[[route]]`: path prefixes, public or protected, and the groups they require.

pub mod access_groups;

use toml::Spanned;

use super::fields::required;
use crate::config::as_written::RawRoute;
use crate::config::model::Route;
use crate::config::problems::Problems;
use crate::routes::{Accepts, RouteConflict, check_route_path, conflict};

pub(super) fn routes(raw: &[Spanned<RawRoute>], p: &mut Problems) -> Vec<Route> {
    // Each route with its index in the file, for naming the other of two that conflict.
    let mut out: Vec<(usize, Route)> = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let key = format!("route[{i}]");
        let rr = r.get_ref();
        let Some(path) = required(&rr.path, &format!("{key}.path"), Some(r.span()), p) else {
            continue;
        };
        let path_str = path.get_ref().clone();
        if let Err(problem) = check_route_path(&path_str) {
            p.error(
                format!("{key}.path"),
                Some(path.span()),
                format!("{path_str:?} {problem}"),
            );
        }
        let public = rr.public.as_ref().is_some_and(|b| *b.get_ref());
        let require_access_group = rr
            .require_access_group
            .as_ref()
            .map(|v| v.get_ref().clone())
            .unwrap_or_default();
        let require_any_group = rr
            .require_any_group
            .as_ref()
            .map(|v| v.get_ref().clone())
            .unwrap_or_default();
        if public && (!require_access_group.is_empty() || !require_any_group.is_empty()) {
            p.error(
                format!("{key}.public"),
                rr.public.as_ref().map(Spanned::span),
                "a public route cannot also require groups",
            );
        }
        let require_scope = rr
            .require_scope
            .as_ref()
            .map(|v| v.get_ref().clone())
            .unwrap_or_default();
        for scope in &require_scope {
            // RFC 6749 section 3.3 scope-token: printable ASCII but space, '"' and '\\'.
            let ok = !scope.is_empty()
                && scope
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
            if !ok {
                p.error(
                    format!("{key}.require_scope"),
                    rr.require_scope.as_ref().map(Spanned::span),
                    format!("{scope:?} is not a scope (printable ASCII without spaces, quotes or backslashes)"),
                );
            }
        }
        let auth = accepts(rr, &key, p);
        if public && (!require_scope.is_empty() || auth.is_some()) {
            p.error(
                format!("{key}.public"),
                rr.public.as_ref().map(Spanned::span),
                "a public route takes no credential: it cannot also set require_scope or auth",
            );
        }
        if !require_scope.is_empty() && auth.is_none_or(|a| a.session) {
            p.error(
                format!("{key}.require_scope"),
                rr.require_scope.as_ref().map(Spanned::span),
                "scopes come only with bearer tokens, and this route also takes sessions: set auth = [\"bearer\"] (and restrict sessions elsewhere with require_access_group)",
            );
        }
        let route = Route {
            path: path_str,
            public,
            require_access_group,
            require_any_group,
            require_scope,
            auth,
            pass_authorization: rr.pass_authorization.as_ref().is_some_and(|b| *b.get_ref()),
        };
        for (j, other) in &out {
            let Some(c) = conflict(other, &route) else {
                continue;
            };
            let message = match c {
                RouteConflict::Duplicate => {
                    format!("path {} has two [[route]] entries", route.path)
                }
                _ => format!(
                    "{:?} ({}) and route[{j}].path {:?} ({}): {c}",
                    route.path,
                    visibility(&route),
                    other.path,
                    visibility(other)
                ),
            };
            p.error(format!("{key}.path"), Some(path.span()), message);
        }
        out.push((i, route));
    }
    out.into_iter().map(|(_, route)| route).collect()
}

/// `auth = ["session", "bearer"]`: which credentials the route takes.
fn accepts(rr: &RawRoute, key: &str, p: &mut Problems) -> Option<Accepts> {
    let list = rr.auth.as_ref()?;
    let mut accepts = Accepts {
        session: false,
        bearer: false,
    };
    for item in list.get_ref() {
        match item.as_str() {
            "session" => accepts.session = true,
            "bearer" => accepts.bearer = true,
            other => p.error(
                format!("{key}.auth"),
                Some(list.span()),
                format!("{other:?} is not a credential (use \"session\" and/or \"bearer\")"),
            ),
        }
    }
    if !accepts.session && !accepts.bearer {
        p.error(
            format!("{key}.auth"),
            Some(list.span()),
            "an empty list would refuse every request: list \"session\", \"bearer\" or both",
        );
    }
    Some(accepts)
}

fn visibility(route: &Route) -> &'static str {
    if route.public { "public" } else { "protected" }
}
