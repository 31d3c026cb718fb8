//! Per-path access rules, decided purely from the request path's reading and the session's
//! identity.
//!
//! A rule applies when its prefix covers any reading of the path
//! ([`PathReading::readings`]: decoded, as sent, as a servlet container reads it), and every
//! rule that applies must let the operator through: the stricter reading always wins. Protected
//! prefixes (every route that is not `public`) match whatever the letter case, and ignore the
//! dots and spaces Windows drops from the end of a name, because IIS, nginx `~*` locations and
//! case-insensitive file systems serve `/ADMIN./x` as `/admin/x`; public prefixes match exactly,
//! so a public rule never opens more than the path it names. Prefixes match on segment
//! boundaries: `/admin` covers `/admin/x`, not `/administrator`.

use std::borrow::Cow;

use axum::http::HeaderMap;
use axum::http::header::ACCEPT;

use self::path_reading::PathReading;

pub mod path_reading;
use crate::identity::Operator;

/// Rules for a path prefix. The longest matching prefix wins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Route {
    pub path: String,
    /// No login needed (health pages, static assets). Identity headers are still stripped.
    pub public: bool,
    /// The operator's access group must be one of these.
    pub require_access_group: Vec<String>,
    /// The operator must hold at least one of these groups.
    pub require_any_group: Vec<String>,
    /// A bearer token must grant every one of these scopes.
    pub require_scope: Vec<String>,
    /// Which credentials the route takes (`auth`); `None`: sessions everywhere, bearer tokens
    /// under `api_prefixes`.
    pub auth: Option<Accepts>,
    /// Forward the client's `Authorization` header to the backend (stripped by default).
    pub pass_authorization: bool,
}

/// The credentials a route takes: a session cookie, a bearer access token, or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepts {
    pub session: bool,
    pub bearer: bool,
}

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
    /// The rule's `require_access_group` (`need`) does not hold the operator's (`have`).
    AccessGroup {
        route: String,
        need: Vec<String>,
        have: String,
    },
    /// The operator (holding `have`) holds none of the rule's `require_any_group` (`need`).
    NoRequiredGroup {
        route: String,
        need: Vec<String>,
        have: Vec<String>,
    },
    /// The route takes bearer tokens only (`auth = ["bearer"]`).
    SessionNotAccepted { route: String },
    /// A bearer token on a path that takes sessions only.
    BearerNotAccepted { route: Option<String> },
    /// A bearer token without every scope the route requires.
    MissingScope { route: String, missing: Vec<String> },
}

impl DenyReason {
    pub fn kind(&self) -> &'static str {
        match self {
            DenyReason::AccessGroup { .. } => "access_group",
            DenyReason::NoRequiredGroup { .. } => "group",
            DenyReason::SessionNotAccepted { .. } => "session_not_accepted",
            DenyReason::BearerNotAccepted { .. } => "bearer_not_accepted",
            DenyReason::MissingScope { .. } => "scope",
        }
    }
}

impl std::fmt::Display for DenyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DenyReason::AccessGroup { route, need, have } => {
                write!(
                    f,
                    "route {route} requires access group {need:?}; the operator's is {have:?}"
                )
            }
            DenyReason::NoRequiredGroup { route, need, .. } => {
                write!(
                    f,
                    "route {route} requires one of the groups {need:?}; the operator holds none"
                )
            }
            DenyReason::SessionNotAccepted { route } => {
                write!(
                    f,
                    "route {route} takes bearer tokens only (auth), not sessions"
                )
            }
            DenyReason::BearerNotAccepted { route: Some(route) } => {
                write!(f, "route {route} does not take bearer tokens (auth)")
            }
            DenyReason::BearerNotAccepted { route: None } => write!(
                f,
                "bearer tokens are taken only under api_prefixes or on routes whose auth lists \"bearer\""
            ),
            DenyReason::MissingScope { route, missing } => {
                write!(
                    f,
                    "route {route} requires scope {missing:?}, which the token does not grant"
                )
            }
        }
    }
}

/// Does `prefix` (without its trailing `/`) cover `path` exactly, on a segment boundary?
fn covers_exactly(prefix: &str, path: &str) -> bool {
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Does `prefix` (without its trailing `/`) cover `path` segment by segment, whatever the
/// letter case and ignoring dots and spaces at the end of the path's names?
fn covers_loosely(prefix: &str, path: &str) -> bool {
    covers_loosely_given(prefix, path, path.is_ascii())
}

/// [`covers_loosely`], told whether `path` is ASCII (checked once for every route).
fn covers_loosely_given(prefix: &str, path: &str, path_is_ascii: bool) -> bool {
    if path_is_ascii && prefix.is_ascii() {
        return covers_loosely_ascii(prefix.as_bytes(), path.as_bytes());
    }
    covers_by_segments(prefix, path)
}

/// [`covers_loosely`] for ASCII, in one pass over both, without splitting (the common
/// request: a property test holds it against [`covers_by_segments`]).
fn covers_loosely_ascii(prefix: &[u8], path: &[u8]) -> bool {
    let (mut i, mut j) = (0usize, 0usize);
    loop {
        match prefix.get(i) {
            // The end of a prefix name (or of the whole prefix): the path's name may go on
            // with dots and spaces only, then the path ends or goes on with `/`.
            None | Some(b'/') => {
                if i > 0 {
                    while matches!(path.get(j), Some(b'.' | b' ')) {
                        j = j.saturating_add(1);
                    }
                }
                match (prefix.get(i), path.get(j)) {
                    (None, None | Some(b'/')) => return true,
                    (Some(_), Some(b'/')) => {}
                    _ => return false,
                }
            }
            Some(p) if path.get(j).is_some_and(|q| q.eq_ignore_ascii_case(p)) => {}
            Some(_) => return false,
        }
        i = i.saturating_add(1);
        j = j.saturating_add(1);
    }
}

/// [`covers_loosely`] name by name.
fn covers_by_segments(prefix: &str, path: &str) -> bool {
    let mut segments = path.split('/');
    prefix.split('/').all(|want| {
        segments
            .next()
            .is_some_and(|segment| same_name(want, segment.trim_end_matches(['.', ' '])))
    })
}

/// Are `a` and `b` the same name whatever the letter case? Unicode-aware, because Windows
/// and IIS fold the case of every letter, not only ASCII; both folds are compared since each
/// misses letters the other catches (the Kelvin sign lowercases to `k`, the long s uppercases
/// to `S`). Allocates nothing.
pub fn same_name(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
        || a.chars()
            .flat_map(char::to_uppercase)
            .eq(b.chars().flat_map(char::to_uppercase))
}

/// The rule for one reading of a path: the longest prefix that covers it (protected ones
/// loosely, public ones exactly); of two as long, the protected one.
fn rule_for<'r>(routes: &'r [Route], path: &str) -> Option<&'r Route> {
    let ascii = path.is_ascii();
    let mut best: Option<(&Route, usize)> = None;
    for route in routes {
        let prefix = route.path.strip_suffix('/').unwrap_or(&route.path);
        let covered = if route.public {
            covers_exactly(prefix, path)
        } else {
            covers_loosely_given(prefix, path, ascii)
        };
        let better = best.is_none_or(|(held, len)| {
            prefix.len() > len || (prefix.len() == len && held.public && !route.public)
        });
        if covered && better {
            best = Some((route, prefix.len()));
        }
    }
    best.map(|(route, _)| route)
}

/// Why `rule` refuses `identity`, if it does (no rule: any session will do).
fn refused_by(rule: Option<&Route>, identity: &Operator) -> Option<DenyReason> {
    let rule = rule?;
    if rule.auth.is_some_and(|a| !a.session) {
        return Some(DenyReason::SessionNotAccepted {
            route: rule.path.clone(),
        });
    }
    refused_groups(rule, identity)
}

/// Why `rule`'s group requirements refuse `identity`, if they do.
fn refused_groups(rule: &Route, identity: &Operator) -> Option<DenyReason> {
    if !rule.require_access_group.is_empty()
        && !rule.require_access_group.contains(&identity.access_group)
    {
        return Some(DenyReason::AccessGroup {
            route: rule.path.clone(),
            need: rule.require_access_group.clone(),
            have: identity.access_group.clone(),
        });
    }
    if !rule.require_any_group.is_empty()
        && !identity
            .groups
            .iter()
            .any(|g| rule.require_any_group.contains(g))
    {
        return Some(DenyReason::NoRequiredGroup {
            route: rule.path.clone(),
            need: rule.require_any_group.clone(),
            have: identity.groups.iter().map(|g| g.to_string()).collect(),
        });
    }
    None
}

/// Decide access for `path` given the session's identity (if any): public only when every
/// reading is public, allowed only when every reading's rule allows.
pub fn decide(routes: &[Route], path: &PathReading<'_>, identity: Option<&Operator>) -> Access {
    let mut public = true;
    let mut denied = None;
    let mut meet = |rule: Option<&Route>| match rule {
        Some(rule) if rule.public => {}
        rule => {
            public = false;
            if denied.is_none() {
                denied = identity.and_then(|identity| refused_by(rule, identity));
            }
        }
    };
    meet(rule_for(routes, path.decoded()));
    // The common request has no other reading: not even an empty iterator is built for it.
    if path.has_other_readings() {
        for reading in path.other_readings() {
            meet(rule_for(routes, &reading));
        }
    }
    match (public, identity, denied) {
        (true, _, _) => Access::Public,
        (false, None, _) => Access::LoginRequired,
        (false, Some(_), Some(reason)) => Access::Denied(reason),
        (false, Some(_), None) => Access::Allowed,
    }
}

/// Decide access for a request that carries a bearer token granting `scopes`, mapped to
/// `identity`: public only when every reading is public; otherwise every reading's rule must
/// take bearer tokens (its `auth`, or by default the path lies under `api_prefixes`), and let
/// the operator's groups and the token's scopes through.
pub fn decide_bearer(
    routes: &[Route],
    path: &PathReading<'_>,
    identity: &Operator,
    scopes: &[String],
    api_prefixes: &[String],
) -> Access {
    let mut public = true;
    let mut denied = None;
    let mut meet = |rule: Option<&Route>, reading: &str| match rule {
        Some(rule) if rule.public => {}
        rule => {
            public = false;
            if denied.is_none() {
                denied = bearer_refused_by(rule, reading, identity, scopes, api_prefixes);
            }
        }
    };
    for reading in path.readings() {
        meet(rule_for(routes, &reading), &reading);
    }
    match (public, denied) {
        (true, _) => Access::Public,
        (false, Some(reason)) => Access::Denied(reason),
        (false, None) => Access::Allowed,
    }
}

fn bearer_refused_by(
    rule: Option<&Route>,
    reading: &str,
    identity: &Operator,
    scopes: &[String],
    api_prefixes: &[String],
) -> Option<DenyReason> {
    let takes_bearer = match rule.and_then(|r| r.auth) {
        Some(accepts) => accepts.bearer,
        None => under_api_prefix(reading, api_prefixes),
    };
    if !takes_bearer {
        return Some(DenyReason::BearerNotAccepted {
            route: rule.map(|r| r.path.clone()),
        });
    }
    let rule = rule?;
    let missing: Vec<String> = rule
        .require_scope
        .iter()
        .filter(|s| !scopes.contains(s))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Some(DenyReason::MissingScope {
            route: rule.path.clone(),
            missing,
        });
    }
    refused_groups(rule, identity)
}

/// Is `reading` under one of `api_prefixes` (matched as protected prefixes are)?
fn under_api_prefix(reading: &str, api_prefixes: &[String]) -> bool {
    api_prefixes
        .iter()
        .any(|p| covers_loosely(p.trim_end_matches('/'), reading))
}

/// Does `path` take sessions? Not when a reading's rule says `auth` without `"session"`.
pub fn takes_session(routes: &[Route], path: &PathReading<'_>) -> bool {
    path.readings().all(|reading| {
        rule_for(routes, &reading)
            .and_then(|r| r.auth)
            .is_none_or(|a| a.session)
    })
}

/// The rule for `path` forwards the client's `Authorization` header: every reading's rule
/// says `pass_authorization`.
pub fn passes_authorization(routes: &[Route], path: &PathReading<'_>) -> bool {
    path.readings()
        .all(|reading| rule_for(routes, &reading).is_some_and(|r| r.pass_authorization))
}

/// An API client gets 401 JSON instead of a login redirect: it asked for JSON, or a reading
/// of the path is under a configured API prefix (matched as protected prefixes are).
pub fn is_api_request(
    headers: &HeaderMap,
    path: &PathReading<'_>,
    api_prefixes: &[String],
) -> bool {
    let wants_json = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("application/json"));
    wants_json
        || path.readings().any(|reading: Cow<'_, str>| {
            api_prefixes
                .iter()
                .any(|p| covers_loosely(p.trim_end_matches('/'), &reading))
        })
}

/// Why a configured route path (or API prefix) could never match a request as written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoutePathProblem {
    #[error("must start with / (a path prefix)")]
    NotAbsolute,
    #[error(
        "contains {0:?}: request paths are matched percent-decoded, without ;parameters, query, spaces or control characters, so this prefix would never match; write the path as it reads decoded"
    )]
    Character(char),
    #[error(
        "has an empty segment (//): requests are read with repeated slashes merged, so this prefix would never match"
    )]
    EmptySegment,
    #[error(
        "has a . or .. segment: requests with one are refused, so this prefix would never match"
    )]
    DotSegment,
    #[error(
        "has a name ending in '.' or ' ', which Windows servers read without it: write the name without"
    )]
    TrailingDot,
}

/// Is `path` a prefix some request path can meet? Anything the path reading refuses or
/// changes cannot be.
pub fn check_route_path(path: &str) -> Result<(), RoutePathProblem> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(RoutePathProblem::NotAbsolute);
    };
    if let Some(c) = path
        .chars()
        .find(|c| matches!(c, '%' | ';' | '\\' | '?' | '#') || c.is_whitespace() || c.is_control())
    {
        return Err(RoutePathProblem::Character(c));
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Ok(());
    }
    for name in rest.split('/') {
        match name {
            "" => return Err(RoutePathProblem::EmptySegment),
            "." | ".." => return Err(RoutePathProblem::DotSegment),
            n if n.ends_with('.') => return Err(RoutePathProblem::TrailingDot),
            _ => {}
        }
    }
    Ok(())
}

/// Two routes of which one would never apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteConflict {
    #[error("the same path has two [[route]] entries")]
    Duplicate,
    #[error(
        "the same prefix as another route (a trailing / changes nothing): one of them would never apply"
    )]
    TrailingSlash,
    #[error(
        "differs from another route only in letter case, and protected prefixes match whatever the case: one of them would never apply"
    )]
    CaseVariant,
}

/// Would `a` or `b` never apply because of the other?
pub fn conflict(a: &Route, b: &Route) -> Option<RouteConflict> {
    let (pa, pb) = (a.path.trim_end_matches('/'), b.path.trim_end_matches('/'));
    if a.path == b.path {
        Some(RouteConflict::Duplicate)
    } else if pa == pb {
        Some(RouteConflict::TrailingSlash)
    } else if (!a.public || !b.public) && same_name(pa, pb) {
        Some(RouteConflict::CaseVariant)
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
