//! Unit tests of `routes`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
use super::*;
use crate::routes::path_reading::RefusalReason;

fn route(path: &str, public: bool, access: &[&str], any: &[&str]) -> Route {
    Route {
        path: path.into(),
        public,
        require_access_group: access.iter().map(|s| s.to_string()).collect(),
        require_any_group: any.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn operator(access_group: &str, groups: &[&str]) -> Operator {
    Operator {
        user: "u1".into(),
        access_group: access_group.into(),
        groups: groups.iter().map(|s| s.to_string()).collect(),
        ..Operator::default()
    }
}

fn routes() -> Vec<Route> {
    vec![
        route("/admin", false, &["MyOrg:Administrators"], &[]),
        route("/admin/public", true, &[], &[]),
        route("/public", true, &[], &[]),
        route("/healthcheck", true, &[], &[]),
        route("/reports", false, &[], &["finance", "audit"]),
    ]
}

/// The decision for a raw path, or the reading's refusal.
fn decision(
    routes: &[Route],
    raw: &str,
    identity: Option<&Operator>,
) -> Result<Access, RefusalReason> {
    PathReading::new(raw)
        .map(|reading| decide(routes, &reading, identity))
        .map_err(|e| e.reason().clone())
}

fn viewer() -> Operator {
    operator("MyOrg:RestrictedReadOnly", &[])
}

/// Refused by the reading, or denied / sent to login by the `/admin` rule: never let through.
fn assert_kept_out_of_admin(raw: &str) {
    let r = routes();
    let denied = decision(&r, raw, Some(&viewer()));
    assert!(
        matches!(
            denied,
            Err(_) | Ok(Access::Denied(DenyReason::AccessGroup { .. }))
        ),
        "{raw}: {denied:?}"
    );
    let anonymous = decision(&r, raw, None);
    assert!(
        matches!(anonymous, Err(_) | Ok(Access::LoginRequired)),
        "{raw}: {anonymous:?}"
    );
}

#[test]
fn admin_route_refuses_other_access_groups() {
    let r = routes();
    let admin = operator("MyOrg:Administrators", &[]);
    assert_eq!(
        decision(&r, "/admin/users", Some(&admin)),
        Ok(Access::Allowed)
    );
    assert!(matches!(
        decision(&r, "/admin/users", Some(&viewer())),
        Ok(Access::Denied(DenyReason::AccessGroup { .. }))
    ));
}

/// These used to be normalized for matching while the backend received them raw; each is now
/// refused by the reading, or meets the `/admin` rule on the path the backend receives.
#[test]
fn encoded_dotted_and_parameter_paths_are_refused_or_meet_the_admin_rule() {
    for raw in [
        "/%61dmin",
        "/x/../admin",
        "/admin;jsessionid=1",
        "//admin/",
        "/./admin/x",
        "/public/../admin",
        "/admin/..;/",
        "/admin/x\\..\\..\\",
        "/admin/%2e%2e%3b/",
        "/admin/..;/healthcheck",
        "/healthcheck/..;/admin",
        "/public%2F..%2Fadmin",
        "/%2561dmin",
    ] {
        assert_kept_out_of_admin(raw);
    }
}

#[test]
fn protected_prefixes_match_whatever_the_letter_case() {
    for raw in [
        "/ADMIN/x",
        "/Admin",
        "/aDmIn/users",
        "/%41DMIN/x",
        "/ADMIN/PUBLIC/x",
    ] {
        assert_kept_out_of_admin(raw);
    }
    let r = vec![
        route("/übersicht", false, &["A"], &[]),
        route("/kube", false, &["A"], &[]),
        route("/secret", false, &["A"], &[]),
    ];
    for raw in [
        "/%C3%9CBERSICHT/x",
        "/%C3%BCbersicht",
        // KELVIN SIGN lowercases to k; LATIN SMALL LETTER LONG S uppercases to S.
        "/%E2%84%AAube",
        "/%C5%BFecret",
        "/SECRET",
    ] {
        assert!(
            matches!(decision(&r, raw, Some(&viewer())), Ok(Access::Denied(_))),
            "{raw}"
        );
    }
}

#[test]
fn protected_prefixes_ignore_the_trailing_dots_and_spaces_windows_drops() {
    for raw in ["/admin./x", "/admin%20/x", "/ADMIN.%20./users", "/admin..."] {
        assert_kept_out_of_admin(raw);
    }
}

#[test]
fn public_prefixes_match_exactly() {
    let r = routes();
    assert_eq!(decision(&r, "/healthcheck", None), Ok(Access::Public));
    assert_eq!(decision(&r, "/healthcheck/deep", None), Ok(Access::Public));
    assert_eq!(decision(&r, "/healthcheck/", None), Ok(Access::Public));
    for raw in [
        "/HEALTHCHECK",
        "/Healthcheck",
        "/healthcheck.",
        "/healthcheck%20",
    ] {
        assert_eq!(decision(&r, raw, None), Ok(Access::LoginRequired), "{raw}");
    }
}

#[test]
fn the_stricter_reading_always_wins() {
    let r = routes();
    // A public carve-out inside a protected prefix opens exactly what it names.
    assert_eq!(decision(&r, "/admin/public/x", None), Ok(Access::Public));
    for raw in ["/Admin/public/x", "/admin/Public/x", "/admin/public./x"] {
        assert_kept_out_of_admin(raw);
    }
    // A servlet container strips `;params`: the public reading alone does not make it public.
    assert_eq!(
        decision(&r, "/healthcheck;x=1", None),
        Ok(Access::LoginRequired)
    );
    assert_eq!(decision(&r, "/public/x;y", None), Ok(Access::Public));
    // A server that decodes before it splits off the query reads `/admin`.
    assert_kept_out_of_admin("/admin%3F/x");
    assert_kept_out_of_admin("/admin%23");
    // A server that does not decode reads `%70ub` as a name of its own, outside `/pub`.
    let r = vec![
        route("/", false, &["A"], &[]),
        route("/pub", true, &[], &[]),
    ];
    assert_eq!(decision(&r, "/pub/x", None), Ok(Access::Public));
    assert_eq!(decision(&r, "/%70ub/x", None), Ok(Access::LoginRequired));
    // A public and a protected prefix as long as each other: the protected one.
    let r = vec![
        route("/Admin", true, &[], &[]),
        route("/admin", false, &["A"], &[]),
    ];
    assert_eq!(decision(&r, "/Admin/x", None), Ok(Access::LoginRequired));
}

#[test]
fn params_meet_the_rule_a_servlet_container_applies() {
    for raw in [
        "/admin;jsessionid=1/x",
        "/;x/admin",
        "/admin;/users",
        "/ADMIN;a=b",
    ] {
        assert_kept_out_of_admin(raw);
    }
}

#[test]
fn prefix_matches_on_segment_boundaries_only() {
    let r = routes();
    assert_eq!(
        decision(&r, "/administrator", Some(&viewer())),
        Ok(Access::Allowed)
    );
    assert_eq!(
        decision(&r, "/ADMINISTRATOR", Some(&viewer())),
        Ok(Access::Allowed)
    );
    assert_eq!(decision(&r, "/publicity", None), Ok(Access::LoginRequired));
    assert_eq!(decision(&r, "/public/x.css", None), Ok(Access::Public));
}

#[test]
fn any_group_rule_needs_one_of_the_groups() {
    let r = routes();
    assert_eq!(
        decision(&r, "/reports", Some(&operator("x", &["audit"]))),
        Ok(Access::Allowed)
    );
    assert!(matches!(
        decision(&r, "/Reports", Some(&operator("x", &["sales"]))),
        Ok(Access::Denied(DenyReason::NoRequiredGroup { .. }))
    ));
}

#[test]
fn no_session_means_login_outside_public_routes() {
    assert_eq!(decision(&routes(), "/", None), Ok(Access::LoginRequired));
    assert_eq!(decision(&[], "/anything", None), Ok(Access::LoginRequired));
    assert_eq!(
        decision(&[], "/anything", Some(&viewer())),
        Ok(Access::Allowed)
    );
}

#[test]
fn api_requests_are_recognized_by_accept_or_prefix() {
    let api = |h: &HeaderMap, raw: &str, prefixes: &[String]| {
        is_api_request(h, &PathReading::new(raw).unwrap(), prefixes)
    };
    let mut h = HeaderMap::new();
    let prefixes = ["/api".to_string()];
    assert!(!api(&h, "/app", &prefixes));
    assert!(api(&h, "/api/v1/x", &prefixes));
    assert!(api(&h, "/API/v1/x", &prefixes));
    assert!(api(&h, "/api;x/v1", &prefixes));
    assert!(api(&h, "/%61pi/v1", &prefixes));
    assert!(!api(&h, "/apix", &prefixes));
    h.insert(ACCEPT, "application/json, text/plain".parse().unwrap());
    assert!(api(&h, "/app", &[]));
}

#[test]
fn route_paths_that_could_never_match_are_named() {
    for ok in [
        "/",
        "/admin",
        "/admin/",
        "/.well-known",
        "/a.b/c",
        "/café",
        "/a-b_c~d",
    ] {
        assert_eq!(check_route_path(ok), Ok(()), "{ok}");
    }
    for (bad, problem) in [
        ("admin", RoutePathProblem::NotAbsolute),
        ("", RoutePathProblem::NotAbsolute),
        ("/%61dmin", RoutePathProblem::Character('%')),
        ("/admin;x", RoutePathProblem::Character(';')),
        ("/admin\\x", RoutePathProblem::Character('\\')),
        ("/admin?x", RoutePathProblem::Character('?')),
        ("/ad min", RoutePathProblem::Character(' ')),
        ("/admin\t", RoutePathProblem::Character('\t')),
        ("//admin", RoutePathProblem::EmptySegment),
        ("/admin//x", RoutePathProblem::EmptySegment),
        ("/./admin", RoutePathProblem::DotSegment),
        ("/admin/..", RoutePathProblem::DotSegment),
        ("/admin/../x", RoutePathProblem::DotSegment),
        ("/admin./x", RoutePathProblem::TrailingDot),
    ] {
        assert_eq!(check_route_path(bad), Err(problem), "{bad:?}");
    }
}

#[test]
fn shadowed_routes_are_named() {
    let admin = route("/admin", false, &["A"], &[]);
    assert_eq!(conflict(&admin, &admin), Some(RouteConflict::Duplicate));
    assert_eq!(
        conflict(&admin, &route("/admin/", true, &[], &[])),
        Some(RouteConflict::TrailingSlash)
    );
    assert_eq!(
        conflict(
            &route("/admin", true, &[], &[]),
            &route("/admin/", false, &["A"], &[])
        ),
        Some(RouteConflict::TrailingSlash)
    );
    assert_eq!(
        conflict(&admin, &route("/ADMIN", false, &["B"], &[])),
        Some(RouteConflict::CaseVariant)
    );
    assert_eq!(
        conflict(&route("/Admin/", true, &[], &[]), &admin),
        Some(RouteConflict::CaseVariant)
    );
    // Two public paths in different case are two exact paths.
    assert_eq!(
        conflict(
            &route("/Static", true, &[], &[]),
            &route("/static", true, &[], &[])
        ),
        None
    );
    assert_eq!(
        conflict(&admin, &route("/admin/public", true, &[], &[])),
        None
    );
    assert_eq!(
        conflict(&admin, &route("/administrator", false, &[], &[])),
        None
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

    /// The one-pass ASCII matcher agrees with matching name by name.
    #[test]
    fn the_ascii_matcher_agrees_with_matching_by_segments(
        prefix in proptest::collection::vec(proptest::sample::select(vec!["admin", "Admin", "a", "x.y", "b"]), 0..3),
        path in proptest::collection::vec(
            proptest::sample::select(vec!['/', '/', 'a', 'A', 'd', 'm', 'i', 'n', 'b', 'x', 'y', '.', ' ']),
            0..14,
        ),
    ) {
        let prefix: String = prefix.iter().map(|name| format!("/{name}")).collect();
        let path = format!("/{}", path.into_iter().collect::<String>());
        proptest::prop_assert_eq!(
            covers_loosely_ascii(prefix.as_bytes(), path.as_bytes()),
            covers_by_segments(&prefix, &path),
            "{} {}", prefix, path
        );
    }
}

fn bearer_routes() -> Vec<Route> {
    vec![
        Route {
            path: "/api/admin".into(),
            auth: Some(Accepts {
                session: false,
                bearer: true,
            }),
            require_scope: vec!["admin".into()],
            ..Default::default()
        },
        Route {
            path: "/reports".into(),
            auth: Some(Accepts {
                session: true,
                bearer: true,
            }),
            require_any_group: vec!["staff".into()],
            ..Default::default()
        },
    ]
}

fn bearer_decision(path: &str, scopes: &[&str], groups: &[&str]) -> Access {
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    decide_bearer(
        &bearer_routes(),
        &PathReading::new(path).unwrap(),
        &operator("users", groups),
        &scopes,
        &["/api".to_string()],
    )
}

#[test]
fn bearer_tokens_are_taken_under_api_prefixes_or_where_a_route_says_so() {
    assert_eq!(bearer_decision("/api/orders", &[], &[]), Access::Allowed);
    assert!(matches!(
        bearer_decision("/app", &[], &[]),
        Access::Denied(DenyReason::BearerNotAccepted { route: None })
    ));
    assert_eq!(
        bearer_decision("/reports/q1", &[], &["staff"]),
        Access::Allowed
    );
    assert!(matches!(
        bearer_decision("/reports/q1", &[], &[]),
        Access::Denied(DenyReason::NoRequiredGroup { .. })
    ));
}

#[test]
fn every_required_scope_is_needed_whatever_reading_of_the_path() {
    assert_eq!(
        bearer_decision("/api/admin/x", &["admin"], &[]),
        Access::Allowed
    );
    match bearer_decision("/API/Admin./x", &["orders.read"], &[]) {
        Access::Denied(DenyReason::MissingScope { missing, .. }) => assert_eq!(missing, ["admin"]),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        bearer_decision("/api/%61dmin/x", &[], &[]),
        Access::Denied(DenyReason::MissingScope { .. })
    ));
}

#[test]
fn a_session_is_refused_on_a_bearer_only_route() {
    let path = PathReading::new("/api/admin/x").unwrap();
    assert!(matches!(
        decide(&bearer_routes(), &path, Some(&operator("users", &[]))),
        Access::Denied(DenyReason::SessionNotAccepted { .. })
    ));
    assert!(!takes_session(&bearer_routes(), &path));
    assert!(takes_session(
        &bearer_routes(),
        &PathReading::new("/reports").unwrap()
    ));
}
