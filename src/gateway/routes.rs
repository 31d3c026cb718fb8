//! Per-path access rules, decided purely from the request path and the session's identity.
//!
//! Rules match on a normalized path (percent-decoded, dot segments resolved, `;params` and
//! repeated slashes removed), because that is what backends act on: `/%61dmin`, `/x/../admin`
//! and `/admin;jsessionid=1` must meet the `/admin` rule, not slip past it.

use std::borrow::Cow;

use axum::http::HeaderMap;
use axum::http::header::ACCEPT;

use crate::config::Route;

use super::session::SessionIdentity;

/// What the gateway does with a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// A public route: forward without identity.
    Public,
    /// Logged in and the route's rules hold.
    Allowed,
    /// No valid session.
    LoginRequired,
    /// Logged in, but the route's rules refuse this operator.
    Denied(DenyReason),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DenyReason {
    AccessGroup { route: String, have: String },
    NoRequiredGroup { route: String },
}

impl DenyReason {
    pub fn kind(&self) -> &'static str {
        match self {
            DenyReason::AccessGroup { .. } => "access_group",
            DenyReason::NoRequiredGroup { .. } => "group",
        }
    }
}

impl std::fmt::Display for DenyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DenyReason::AccessGroup { route, have } => {
                write!(f, "route {route} requires another access group than {have}")
            }
            DenyReason::NoRequiredGroup { route } => {
                write!(
                    f,
                    "route {route} requires a group the operator does not hold"
                )
            }
        }
    }
}

/// The path as a backend would understand it, for rule matching only (the request itself is
/// forwarded unchanged).
///
/// Most paths are already normal (no `%`, `\\`, `;`, empty, `.` or `..` segment): they are
/// borrowed as they are, less a trailing `/`, and only the others are decoded and rebuilt.
pub fn normalize_path(raw: &str) -> Cow<'_, str> {
    match already_normal(raw) {
        Some(normal) => Cow::Borrowed(normal),
        None => Cow::Owned(rebuild_path(raw)),
    }
}

/// `raw` without its trailing `/` when rebuilding it would give exactly that, else `None`.
fn already_normal(raw: &str) -> Option<&str> {
    let rest = raw.strip_prefix('/')?;
    if raw.bytes().any(|b| matches!(b, b'%' | b'\\' | b';')) {
        return None;
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Some("/");
    }
    if rest.split('/').any(|s| matches!(s, "" | "." | "..")) {
        return None;
    }
    raw.get(..=rest.len())
}

/// Percent-decode, drop `;params`, empty and `.` segments, resolve `..`.
fn rebuild_path(raw: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split(['/', '\\']) {
        // Servlet containers drop `;params` from each segment.
        let segment = segment.split(';').next().unwrap_or("");
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    format!("/{}", segments.join("/"))
}

/// Does `prefix` cover `path` on a segment boundary (`/admin` covers `/admin/x`, not `/administrator`)?
fn covers(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The rule for `path`: the longest matching prefix.
pub fn rule_for<'a>(routes: &'a [Route], path: &str) -> Option<&'a Route> {
    if routes.is_empty() {
        return None;
    }
    let normalized = normalize_path(path);
    routes
        .iter()
        .filter(|r| covers(&r.path, &normalized))
        .max_by_key(|r| r.path.trim_end_matches('/').len())
}

/// Decide access for `path` given the session's identity (if any).
pub fn decide(routes: &[Route], path: &str, identity: Option<&SessionIdentity>) -> Access {
    let rule = rule_for(routes, path);
    if rule.is_some_and(|r| r.public) {
        return Access::Public;
    }
    let Some(identity) = identity else {
        return Access::LoginRequired;
    };
    let Some(rule) = rule else {
        return Access::Allowed;
    };
    if !rule.require_access_group.is_empty()
        && !rule.require_access_group.contains(&identity.access_group)
    {
        return Access::Denied(DenyReason::AccessGroup {
            route: rule.path.clone(),
            have: identity.access_group.clone(),
        });
    }
    if !rule.require_any_group.is_empty()
        && !identity
            .groups
            .iter()
            .any(|g| rule.require_any_group.contains(g))
    {
        return Access::Denied(DenyReason::NoRequiredGroup {
            route: rule.path.clone(),
        });
    }
    Access::Allowed
}

/// An API client gets 401 JSON instead of a login redirect: it asked for JSON, or the path is
/// under a configured API prefix.
pub fn is_api_request(headers: &HeaderMap, path: &str, api_prefixes: &[String]) -> bool {
    let wants_json = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("application/json"));
    let normalized = normalize_path(path);
    wants_json || api_prefixes.iter().any(|p| covers(p, &normalized))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: &str, public: bool, access: &[&str], any: &[&str]) -> Route {
        Route {
            path: path.into(),
            public,
            require_access_group: access.iter().map(|s| s.to_string()).collect(),
            require_any_group: any.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn operator(access_group: &str, groups: &[&str]) -> SessionIdentity {
        SessionIdentity {
            user: "u1".into(),
            access_group: access_group.into(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
            ..SessionIdentity::default()
        }
    }

    fn routes() -> Vec<Route> {
        vec![
            route("/admin", false, &["MyOrg:Administrators"], &[]),
            route("/public", true, &[], &[]),
            route("/reports", false, &[], &["finance", "audit"]),
        ]
    }

    #[test]
    fn admin_route_refuses_other_access_groups() {
        let r = routes();
        assert_eq!(
            decide(
                &r,
                "/admin/users",
                Some(&operator("MyOrg:Administrators", &[]))
            ),
            Access::Allowed
        );
        assert!(matches!(
            decide(
                &r,
                "/admin/users",
                Some(&operator("MyOrg:RestrictedReadOnly", &[]))
            ),
            Access::Denied(DenyReason::AccessGroup { .. })
        ));
    }

    #[test]
    fn encoded_dotted_and_parameter_paths_meet_the_admin_rule() {
        let r = routes();
        let viewer = operator("MyOrg:RestrictedReadOnly", &[]);
        for path in [
            "/%61dmin",
            "/x/../admin",
            "/admin;jsessionid=1",
            "//admin/",
            "/./admin/x",
            "/public/../admin",
        ] {
            assert!(
                matches!(decide(&r, path, Some(&viewer)), Access::Denied(_)),
                "{path}"
            );
        }
    }

    #[test]
    fn prefix_matches_on_segment_boundaries_only() {
        let r = routes();
        let viewer = operator("MyOrg:RestrictedReadOnly", &[]);
        assert_eq!(decide(&r, "/administrator", Some(&viewer)), Access::Allowed);
        assert_eq!(decide(&r, "/publicity", None), Access::LoginRequired);
        assert_eq!(decide(&r, "/public/x.css", None), Access::Public);
    }

    #[test]
    fn any_group_rule_needs_one_of_the_groups() {
        let r = routes();
        assert_eq!(
            decide(&r, "/reports", Some(&operator("x", &["audit"]))),
            Access::Allowed
        );
        assert!(matches!(
            decide(&r, "/reports", Some(&operator("x", &["sales"]))),
            Access::Denied(_)
        ));
    }

    #[test]
    fn no_session_means_login_outside_public_routes() {
        assert_eq!(decide(&routes(), "/", None), Access::LoginRequired);
        assert_eq!(decide(&[], "/anything", None), Access::LoginRequired);
    }

    #[test]
    fn api_requests_are_recognized_by_accept_or_prefix() {
        let mut h = HeaderMap::new();
        assert!(!is_api_request(&h, "/app", &["/api".into()]));
        assert!(is_api_request(&h, "/api/v1/x", &["/api".into()]));
        h.insert(ACCEPT, "application/json, text/plain".parse().unwrap());
        assert!(is_api_request(&h, "/app", &[]));
    }

    #[test]
    fn normal_paths_are_borrowed_and_others_rebuilt() {
        assert!(matches!(normalize_path("/app/x"), Cow::Borrowed("/app/x")));
        assert!(matches!(normalize_path("/app/x/"), Cow::Borrowed("/app/x")));
        assert!(matches!(normalize_path("/"), Cow::Borrowed("/")));
        assert_eq!(normalize_path("/app/./x/../y"), "/app/y");
        assert_eq!(normalize_path("/%61pp"), "/app");
        assert!(matches!(normalize_path("/%61pp"), Cow::Owned(_)));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// The borrowed shortcut gives exactly what the full rebuild gives, for paths built
        /// from the characters that matter to normalization.
        #[test]
        fn the_shortcut_agrees_with_the_full_rebuild(
            chars in proptest::collection::vec(
                proptest::sample::select(vec!['/', '/', '.', 'a', 'b', '%', '2', 'e', ';', '\\', 'é']),
                0..14,
            ),
        ) {
            let raw: String = chars.into_iter().collect();
            let raw = format!("/{raw}");
            let (shortcut, rebuilt) = (normalize_path(&raw), rebuild_path(&raw));
            proptest::prop_assert_eq!(shortcut.as_ref(), rebuilt.as_str());
        }
    }
}
