//! `[[route]]`: path prefixes, public or protected, and the groups they require.

pub mod access_groups;

use toml::Spanned;

use super::fields::required;
use crate::config::as_written::RawRoute;
use crate::config::model::Route;
use crate::config::problems::Problems;
use crate::routes::{RouteConflict, check_route_path, conflict};

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
        let route = Route {
            path: path_str,
            public,
            require_access_group,
            require_any_group,
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

fn visibility(route: &Route) -> &'static str {
    if route.public { "public" } else { "protected" }
}
