//! The whole SP-initiated login over real HTTP on loopback, with the project's test IdP
//! signing Responses with the project's signer.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hyper::{Method, StatusCode};
use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use time::Duration;

use crate::support;
use crate::support::gateway::*;

fn session_cookie(b: &Browser) -> Option<String> {
    b.cookies.get("samlgate_session").cloned()
}

/// The login cookie (plain HTTP on loopback: no `__Host-` prefix).
const LOGIN_COOKIE: &str = "samlgate_login";

/// Who forward-auth says this browser is, or its status.
async fn whoami(b: &mut Browser) -> Result<String, StatusCode> {
    let r = b
        .get_with("/saml/auth", &[("x-original-uri", "/app")])
        .await;
    match r.status {
        StatusCode::OK => Ok(r.header("x-forwarded-user").unwrap_or("").to_string()),
        other => Err(other),
    }
}

/// Someone who opens the ACS address in a browser learns what it is for and where to go, rather
/// than getting an empty 405.
#[tokio::test]
async fn a_browser_that_opens_the_acs_gets_a_page_saying_what_it_is_for() {
    let gw = start(Setup::default()).await;
    let mut browser = Browser::new(&gw.base);
    let page = browser.get("/saml/acs").await;
    assert_eq!(page.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(page.header("allow"), Some("POST"));
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.body.contains("identity provider"), "{}", page.body);
    assert!(page.body.contains("href=\"/\""), "{}", page.body);
}

#[tokio::test]
async fn full_login_returns_to_the_requested_path_with_a_session() {
    let gw = start(Setup::default()).await;
    let mut browser = Browser::new(&gw.base);

    let start = browser.get("/app/reports?year=2026").await;
    assert_eq!(start.status, StatusCode::FOUND);
    let location = start.location().to_string();
    assert!(
        location.starts_with("https://idp.example.org/sso?SAMLRequest="),
        "{location}"
    );
    assert_eq!(start.header("cache-control"), Some("no-store"));
    let req = read_redirect_request(&location);
    assert!(req.id.starts_with('_') && req.id.len() == 33);
    assert!(
        req.xml
            .contains(&format!("AssertionConsumerServiceURL=\"{}\"", gw.acs_url()))
    );
    let relay = req.relay_state.clone().expect("RelayState");
    assert!(
        !relay.contains('/'),
        "RelayState must be an opaque key, not a URL: {relay}"
    );

    // The IdP checks the Redirect signature against the SP certificate from our metadata.
    let query = location.split_once('?').unwrap().1;
    let (signed_part, signature) = query.split_once("&Signature=").unwrap();
    let signature = B64
        .decode(
            percent_encoding::percent_decode_str(signature)
                .decode_utf8()
                .unwrap()
                .as_bytes(),
        )
        .unwrap();
    let public = gw.sp_cert.public_key().unwrap();
    let mut verifier = Verifier::new(MessageDigest::sha256(), &public).unwrap();
    verifier.update(signed_part.as_bytes()).unwrap();
    assert!(
        verifier.verify(&signature).unwrap(),
        "Redirect binding signature must verify with the SP certificate"
    );

    let spec = response_spec(&gw, Some(&req.id), "alice@example.com", &["Staff"]);
    let done = browser.post_acs(&signed_b64(&spec), Some(&relay)).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/app/reports?year=2026");
    let cookie = done.header("set-cookie").expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(session_cookie(&browser).is_some());

    let auth = browser
        .get_with("/saml/auth", &[("x-original-uri", "/app/reports")])
        .await;
    assert_eq!(auth.status, StatusCode::OK);
    assert_eq!(auth.header("x-forwarded-user"), Some("alice@example.com"));
    assert_eq!(auth.header("x-forwarded-email"), Some("alice@example.com"));
    assert_eq!(auth.header("x-forwarded-groups"), Some("Staff"));
    assert_eq!(gw.metric("samlgate_logins_total", &[("idp", "corp")]), 1.0);
}

#[tokio::test]
async fn after_login_the_backend_sees_the_mapped_identity_and_never_a_spoofed_one() {
    let backend = echo_backend().await;
    let gw = start(Setup {
        backend: Some(backend),
        ..Setup::default()
    })
    .await;
    let mut browser = Browser::new(&gw.base);
    let done = login(
        &gw,
        &mut browser,
        "/json",
        "alice@example.com",
        &["Admins", "Staff"],
    )
    .await;
    assert_eq!(done.location(), "/json");
    // The first request reads the session from the store; the second is served from the
    // node's session cache (the gateway's fast path). Both must strip and inject alike.
    for _ in ["from the store", "from the session cache"] {
        let page = browser
            .get_with(
                "/json",
                &[
                    ("x-forwarded-user", "mallory"),
                    ("X_Forwarded_Access_Group", "root"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let json: serde_json::Value = serde_json::from_str(&page.body).unwrap();
        assert_eq!(json["identity"]["x-forwarded-user"], "alice@example.com");
        assert_eq!(
            json["identity"]["x-forwarded-access-group"],
            "MyOrg:Administrators"
        );
        assert_eq!(json["identity"]["x-forwarded-name"], "Alice Example");
        let headers = json["headers"].as_array().unwrap();
        let users: Vec<_> = headers
            .iter()
            .filter(|h| {
                h[0].as_str()
                    .unwrap()
                    .eq_ignore_ascii_case("x-forwarded-user")
            })
            .collect();
        assert_eq!(users.len(), 1);
        assert!(!headers.iter().any(|h| h[0] == "x_forwarded_access_group"));
        // The session cookie is a bearer credential: the backend never receives it.
        let session = session_cookie(&browser).expect("session cookie");
        assert!(
            !page.body.contains(&session),
            "the backend received the gateway's session cookie"
        );
    }
}

#[tokio::test]
async fn an_access_group_rule_refuses_the_default_group_with_403() {
    let gw = start(Setup {
        routes: "[[route]]\npath = \"/admin\"\nrequire_access_group = [\"MyOrg:Administrators\"]\n"
            .into(),
        ..Setup::default()
    })
    .await;
    let mut viewer = Browser::new(&gw.base);
    login(&gw, &mut viewer, "/app", "carol@example.com", &["Staff"]).await;
    assert_eq!(
        viewer.get("/admin/users").await.status,
        StatusCode::FORBIDDEN
    );
    let api = viewer
        .get_with("/admin/users", &[("accept", "application/json")])
        .await;
    assert_eq!(api.status, StatusCode::FORBIDDEN);
    assert_eq!(api.header("content-type"), Some("application/json"));
    let mut admin = Browser::new(&gw.base);
    login(&gw, &mut admin, "/app", "alice@example.com", &["Admins"]).await;
    let auth = admin
        .get_with("/saml/auth", &[("x-original-uri", "/admin/users")])
        .await;
    assert_eq!(auth.status, StatusCode::OK);
    assert_eq!(
        auth.header("x-forwarded-access-group"),
        Some("MyOrg:Administrators")
    );
}

#[tokio::test]
async fn a_login_the_mapping_denies_gets_the_generic_page_and_no_session() {
    let gw = start(Setup {
        mapping: Some("[access]\ngroups = [\"groups\"]\ndeny = true\n[[access.rule]]\ngroup = \"Admins\"\naccess_group = \"A\"\n".into()),
        ..Setup::default()
    })
    .await;
    let mut browser = Browser::new(&gw.base);
    let done = login(&gw, &mut browser, "/app", "eve@example.com", &["Staff"]).await;
    assert_eq!(done.status, StatusCode::BAD_REQUEST);
    assert!(done.body.contains("Sign-in failed"));
    assert!(!browser.cookies.contains_key("samlgate_session"));
    assert_eq!(
        gw.metric(
            "samlgate_rejections_total",
            &[("idp", "corp"), ("kind", "mapping_denied")]
        ),
        1.0
    );
}

#[tokio::test]
async fn open_redirect_attempts_through_the_return_path_land_on_root() {
    let gw = start(Setup::default()).await;
    for attempt in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "/%2F%2Fevil.example",
        "/a//b",
    ] {
        let mut browser = Browser::new(&gw.base);
        let encoded: String = url::form_urlencoded::byte_serialize(attempt.as_bytes()).collect();
        let start = browser
            .get(&format!("/saml/login?return_to={encoded}"))
            .await;
        let req = read_redirect_request(start.location());
        let spec = response_spec(&gw, Some(&req.id), "alice@example.com", &[]);
        let done = browser
            .post_acs(&signed_b64(&spec), req.relay_state.as_deref())
            .await;
        assert_eq!(
            done.status,
            StatusCode::SEE_OTHER,
            "{attempt}: {}",
            done.body
        );
        assert_eq!(done.location(), "/", "{attempt}");
    }
}

#[tokio::test]
async fn a_relay_state_that_names_a_url_is_not_followed() {
    let gw = start(Setup {
        idp_extra: "allow_idp_initiated = true".into(),
        ..Setup::default()
    })
    .await;
    let mut browser = Browser::new(&gw.base);
    let spec = response_spec(&gw, None, "alice@example.com", &[]);
    let done = browser
        .post_acs(&signed_b64(&spec), Some("https://evil.example/phish"))
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/");
}

/// A Response nobody here asked for (IdP-initiated) is refused while no IdP allows it, with a
/// reason that says so and which setting would allow it.
#[tokio::test]
async fn an_idp_initiated_response_is_refused_unless_an_idp_allows_it() {
    let gw = start(Setup::default()).await;
    let mut browser = Browser::new(&gw.base);
    let spec = response_spec(&gw, None, "alice@example.com", &[]);
    let done = browser.post_acs(&signed_b64(&spec), None).await;
    assert_eq!(done.status, StatusCode::BAD_REQUEST);
    assert!(done.body.contains("Sign-in failed"));
    assert!(!browser.cookies.contains_key("samlgate_session"));
    assert_eq!(
        gw.metric(
            "samlgate_rejections_total",
            &[("idp", "unknown"), ("kind", "unsolicited_not_allowed")]
        ),
        1.0
    );
    let reason = samlgate::saml::rejection::PolicyFailure::UnsolicitedNotAllowed.to_string();
    assert!(reason.contains("allow_idp_initiated"), "{reason}");
    assert!(!reason.contains("IdP any"), "{reason}");
}

#[tokio::test]
async fn relay_state_used_from_another_browser_is_refused() {
    let gw = start(Setup::default()).await;
    let mut victim = Browser::new(&gw.base);
    let start = victim.get("/app").await;
    let req = read_redirect_request(start.location());
    let spec = response_spec(&gw, Some(&req.id), "alice@example.com", &[]);
    let mut attacker = Browser::new(&gw.base);
    let done = attacker
        .post_acs(&signed_b64(&spec), req.relay_state.as_deref())
        .await;
    assert_eq!(done.status, StatusCode::BAD_REQUEST);
    assert!(done.body.contains("Sign-in failed"));
    assert!(!attacker.cookies.contains_key("samlgate_session"));
    assert_eq!(
        gw.metric(
            "samlgate_rejections_total",
            &[("idp", "unknown"), ("kind", "relay_state_other_browser")]
        ),
        1.0
    );
}

#[tokio::test]
async fn replayed_response_is_refused() {
    let gw = start(Setup::default()).await;
    let mut browser = Browser::new(&gw.base);
    let start = browser.get("/app").await;
    let req = read_redirect_request(start.location());
    let response = signed_b64(&response_spec(&gw, Some(&req.id), "alice@example.com", &[]));
    let first = browser
        .post_acs(&response, req.relay_state.as_deref())
        .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);

    // Same RelayState again: it was single-use.
    let mut thief = Browser::new(&gw.base);
    thief.cookies = browser.cookies.clone();
    thief.cookies.remove("samlgate_session");
    let again = thief.post_acs(&response, req.relay_state.as_deref()).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    // With a fresh RelayState of the thief's own login: InResponseTo no longer matches.
    let fresh = thief.get("/app").await;
    let fresh_req = read_redirect_request(fresh.location());
    let again = thief
        .post_acs(&response, fresh_req.relay_state.as_deref())
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(!thief.cookies.contains_key("samlgate_session"));
}

#[tokio::test]
async fn replayed_idp_initiated_response_is_caught_by_the_replay_cache() {
    let gw = start(Setup {
        idp_extra: "allow_idp_initiated = true".into(),
        ..Setup::default()
    })
    .await;
    let response = signed_b64(&response_spec(&gw, None, "alice@example.com", &[]));
    let mut first = Browser::new(&gw.base);
    assert_eq!(
        first.post_acs(&response, None).await.status,
        StatusCode::SEE_OTHER
    );
    let mut second = Browser::new(&gw.base);
    let replay = second.post_acs(&response, None).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert!(!second.cookies.contains_key("samlgate_session"));
    assert_eq!(
        gw.metric(
            "samlgate_rejections_total",
            &[("idp", "corp"), ("kind", "replay")]
        ),
        1.0
    );
}

#[tokio::test]
async fn idp_initiated_login_is_refused_unless_enabled() {
    let gw = start(Setup::default()).await;
    let response = signed_b64(&response_spec(&gw, None, "alice@example.com", &[]));
    let mut browser = Browser::new(&gw.base);
    let reply = browser.post_acs(&response, None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(!browser.cookies.contains_key("samlgate_session"));
}

#[tokio::test]
async fn every_rejection_shows_the_same_page_and_is_counted_by_kind() {
    let gw = start(Setup::default()).await;
    // A Response signed by a key no metadata trusts.
    let mut browser = Browser::new(&gw.base);
    let start = browser.get("/app").await;
    let req = read_redirect_request(start.location());
    let spec = response_spec(&gw, Some(&req.id), "alice@example.com", &[]);
    let forged = support::test_idp::signer_with(support::test_idp::attacker_keys())
        .response(&spec, samlgate::saml::issue::SignParts::Both)
        .unwrap();
    let bad_signature = browser
        .post_acs(&B64.encode(forged), req.relay_state.as_deref())
        .await;
    // An expired Response.
    let start = browser.get("/app").await;
    let req = read_redirect_request(start.location());
    let mut spec = response_spec(&gw, Some(&req.id), "alice@example.com", &[]);
    spec.issue_instant -= Duration::hours(2);
    spec.not_before -= Duration::hours(2);
    spec.not_on_or_after -= Duration::hours(2);
    let expired = browser
        .post_acs(&signed_b64(&spec), req.relay_state.as_deref())
        .await;

    assert_eq!(bad_signature.status, StatusCode::BAD_REQUEST);
    assert_eq!(expired.status, bad_signature.status);
    let strip_reference = |body: &str| {
        body.split("<code id=\"reference\">")
            .next()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(
        strip_reference(&bad_signature.body),
        strip_reference(&expired.body)
    );
    assert!(!bad_signature.body.to_lowercase().contains("signature"));
    let text = gw.state.metrics.render();
    let kinds: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("samlgate_rejections_total{") && l.ends_with(" 1"))
        .collect();
    assert_eq!(
        kinds.len(),
        2,
        "two rejections of two different kinds expected:\n{text}"
    );
}

#[tokio::test]
async fn a_session_cookie_set_before_login_does_not_survive_it() {
    let gw = start(Setup::default()).await;
    // The attacker logs in and plants their own session cookie in the victim's browser.
    let mut attacker = Browser::new(&gw.base);
    login(&gw, &mut attacker, "/app", "mallory@example.com", &[]).await;
    let planted = session_cookie(&attacker).expect("attacker session");
    // The attacker's session is in use (and so held decoded by the node) when it is planted.
    let used = attacker
        .get_with("/saml/auth", &[("x-original-uri", "/app")])
        .await;
    assert_eq!(used.header("x-forwarded-user"), Some("mallory@example.com"));

    let mut victim = Browser::new(&gw.base);
    victim
        .cookies
        .insert("samlgate_session".into(), planted.clone());
    let done = login(
        &gw,
        &mut victim,
        "/saml/login?return_to=/app",
        "alice@example.com",
        &[],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let victims = session_cookie(&victim).expect("victim session");
    assert_ne!(victims, planted, "login must issue a new session ID");

    // The planted ID no longer names any session: the attacker does not see the victim.
    let mut replay = Browser::new(&gw.base);
    replay.cookies.insert("samlgate_session".into(), planted);
    let auth = replay
        .get_with("/saml/auth", &[("x-original-uri", "/app")])
        .await;
    assert_eq!(auth.status, StatusCode::UNAUTHORIZED);
    let auth = victim
        .get_with("/saml/auth", &[("x-original-uri", "/app")])
        .await;
    assert_eq!(auth.header("x-forwarded-user"), Some("alice@example.com"));
}

#[tokio::test]
async fn an_idle_session_expires_and_the_browser_goes_back_to_login() {
    let gw = start(Setup {
        session: "idle_timeout = \"10m\"\nabsolute_timeout = \"8h\"".into(),
        ..Setup::default()
    })
    .await;
    let mut browser = Browser::new(&gw.base);
    login(&gw, &mut browser, "/app", "alice@example.com", &[]).await;
    let ok = browser
        .get_with("/saml/auth", &[("x-original-uri", "/app")])
        .await;
    assert_eq!(ok.status, StatusCode::OK);

    gw.advance(Duration::minutes(11));
    let again = browser.get("/app").await;
    assert_eq!(again.status, StatusCode::FOUND);
    assert!(again.location().starts_with("https://idp.example.org/sso?"));
    assert_eq!(
        gw.metric("samlgate_sessions_expired_total", &[("reason", "idle")]),
        1.0
    );
}

#[tokio::test]
async fn a_session_ends_at_the_absolute_timeout_even_when_busy() {
    let gw = start(Setup {
        session: "idle_timeout = \"30m\"\nabsolute_timeout = \"1h\"".into(),
        ..Setup::default()
    })
    .await;
    let mut browser = Browser::new(&gw.base);
    login(&gw, &mut browser, "/app", "alice@example.com", &[]).await;
    for _ in 0..2 {
        gw.advance(Duration::minutes(25));
        let r = browser
            .get_with("/saml/auth", &[("x-original-uri", "/app")])
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    gw.advance(Duration::minutes(11));
    let r = browser
        .get_with("/saml/auth", &[("x-original-uri", "/app")])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        gw.metric("samlgate_sessions_expired_total", &[("reason", "lifetime")]),
        1.0
    );
}

#[tokio::test]
async fn a_group_rule_refuses_with_403() {
    let gw = start(Setup {
        routes: "[[route]]\npath = \"/finance\"\nrequire_any_group = [\"Finance\"]\n".into(),
        ..Setup::default()
    })
    .await;
    let mut browser = Browser::new(&gw.base);
    login(&gw, &mut browser, "/app", "alice@example.com", &["Staff"]).await;
    let denied = browser.get("/finance/q3").await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert!(denied.body.contains("Access denied"));
    let denied = browser.get("/%66inance/q3").await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let auth = browser
        .get_with("/saml/auth", &[("x-original-uri", "/finance/q3")])
        .await;
    assert_eq!(auth.status, StatusCode::FORBIDDEN);

    let mut finance = Browser::new(&gw.base);
    login(&gw, &mut finance, "/app", "bob@example.com", &["Finance"]).await;
    let auth = finance
        .get_with("/saml/auth", &[("x-original-uri", "/finance/q3")])
        .await;
    assert_eq!(auth.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unauthenticated_api_request_gets_401_json() {
    let gw = start(Setup::default()).await;
    let mut browser = Browser::new(&gw.base);
    let by_accept = browser
        .get_with("/app/data", &[("accept", "application/json")])
        .await;
    assert_eq!(by_accept.status, StatusCode::UNAUTHORIZED);
    assert_eq!(by_accept.header("content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_str(&by_accept.body).unwrap();
    assert_eq!(json["error"], "unauthorized");
    let by_prefix = browser.get("/api/v1/items").await;
    assert_eq!(by_prefix.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn forward_auth_answers_401_without_a_session_and_200_on_public_routes() {
    let gw = start(Setup {
        routes: "[[route]]\npath = \"/static\"\npublic = true\n".into(),
        ..Setup::default()
    })
    .await;
    let mut browser = Browser::new(&gw.base);
    let none = browser
        .get_with("/saml/auth", &[("x-original-uri", "/app")])
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    let public = browser
        .get_with("/saml/auth", &[("x-original-uri", "/static/app.css")])
        .await;
    assert_eq!(public.status, StatusCode::OK);
    assert!(public.header("x-forwarded-user").is_none());
}

#[tokio::test]
async fn forward_auth_reads_only_the_configured_header_and_refuses_anything_odd() {
    let gw = start(Setup {
        routes: "[[route]]\npath = \"/static\"\npublic = true\n".into(),
        ..Setup::default()
    })
    .await;
    let mut browser = Browser::new(&gw.base);
    login(&gw, &mut browser, "/app", "alice@example.com", &[]).await;
    let ok = browser
        .get_with("/saml/auth", &[("x-original-uri", "/app?x=1")])
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    // Each of these used to be read as `/` (or as the other header's path) and answered 200.
    for headers in [
        &[][..],
        &[("x-forwarded-uri", "/static/app.css")],
        &[("x-original-uri", "/app"), ("x-forwarded-uri", "/static/x")],
        &[("x-original-uri", "/app"), ("x-original-uri", "/static/x")],
        &[("x-original-uri", "https://app.example.com/app")],
        &[("x-original-uri", "*")],
        &[("x-original-uri", "app")],
        &[("x-original-uri", "/app/..;/static")],
        &[("x-original-uri", "/app//x")],
    ] {
        let refused = browser.get_with("/saml/auth", headers).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{headers:?}");
        assert!(refused.header("x-forwarded-user").is_none(), "{headers:?}");
    }
    assert_eq!(
        gw.metric(
            "samlgate_requests_refused_total",
            &[("reason", "uri_header_missing")]
        ),
        2.0
    );
    assert_eq!(
        gw.metric("samlgate_forward_auth_total", &[("result", "bad_request")]),
        9.0
    );
}

#[tokio::test]
async fn forward_auth_behind_traefik_reads_x_forwarded_uri_alone() {
    let gw = start(Setup {
        routes: "[[route]]\npath = \"/static\"\npublic = true\n".into(),
        extra_toml: "[forward_auth]\nuri_header = \"X-Forwarded-Uri\"\n".into(),
        ..Setup::default()
    })
    .await;
    let mut browser = Browser::new(&gw.base);
    let public = browser
        .get_with("/saml/auth", &[("x-forwarded-uri", "/static/app.css")])
        .await;
    assert_eq!(public.status, StatusCode::OK);
    let none = browser
        .get_with("/saml/auth", &[("x-forwarded-uri", "/app")])
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    // A client-sent X-Original-URI that Traefik passed on: refused, whatever it says.
    let both = browser
        .get_with(
            "/saml/auth",
            &[
                ("x-forwarded-uri", "/static/app.css"),
                ("x-original-uri", "/static/app.css"),
            ],
        )
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    let other = browser
        .get_with("/saml/auth", &[("x-original-uri", "/static/app.css")])
        .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn logout_deletes_the_session_server_side() {
    let gw = start(Setup::default()).await;
    let mut browser = Browser::new(&gw.base);
    login(&gw, &mut browser, "/app", "alice@example.com", &[]).await;
    let copied = session_cookie(&browser).unwrap();
    // Used once first, so the node holds the session decoded (its session cache).
    let before = browser
        .get_with("/saml/auth", &[("x-original-uri", "/app")])
        .await;
    assert_eq!(before.status, StatusCode::OK);
    let out = browser.sign_out(&gw.base).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.body.contains("Signed out"), "{}", out.body);
    let mut copy = Browser::new(&gw.base);
    copy.cookies.insert("samlgate_session".into(), copied);
    let auth = copy
        .get_with("/saml/auth", &[("x-original-uri", "/app")])
        .await;
    assert_eq!(auth.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_by_get_or_from_another_site_ends_nothing() {
    let gw = start(Setup::default()).await;
    let mut browser = Browser::new(&gw.base);
    login(&gw, &mut browser, "/app", "alice@example.com", &[]).await;
    let alice = Ok("alice@example.com".to_string());
    assert_eq!(whoami(&mut browser).await, alice);

    // A link or an image on any page can make the browser GET this: a button, nothing ended.
    let page = browser.get("/saml/logout").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(&format!(
            "<form method=\"post\" action=\"{}/saml/logout\"><button type=\"submit\">Sign out</button></form>",
            gw.base
        )),
        "{}",
        page.body
    );
    assert_eq!(whoami(&mut browser).await, alice);

    // A form on another site posts here; so does a script that says nothing of where it is.
    let cross_site: [&[(&str, &str)]; 7] = [
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
        &[("origin", "http://127.0.0.1")],
        &[("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "same-site")],
        &[
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "same-origin"),
        ],
        &[],
    ];
    for headers in cross_site {
        let refused = browser
            .send(Method::POST, "/saml/logout", headers, Some(String::new()))
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(
            refused.body.contains("Sign-out refused"),
            "{}",
            refused.body
        );
        assert_eq!(whoami(&mut browser).await, alice, "{headers:?}");
    }
    assert_eq!(gw.metric("samlgate_logouts_refused_total", &[]), 7.0);
    assert_eq!(gw.metric("samlgate_logouts_total", &[]), 0.0);

    // The button on our own page: Origin (or Sec-Fetch-Site) says so.
    let only_fetch_site = browser
        .send(
            Method::POST,
            "/saml/logout",
            &[("sec-fetch-site", "same-origin")],
            Some(String::new()),
        )
        .await;
    assert_eq!(only_fetch_site.status, StatusCode::OK);
    assert_eq!(whoami(&mut browser).await, Err(StatusCode::UNAUTHORIZED));
    assert_eq!(gw.metric("samlgate_logouts_total", &[]), 1.0);
}

#[tokio::test]
async fn two_logins_in_flight_in_one_browser_both_complete() {
    let gw = start(Setup::default()).await;
    let mut browser = Browser::new(&gw.base);
    let first = read_redirect_request(browser.get("/tab/one").await.location());
    let second = read_redirect_request(browser.get("/tab/two?x=1").await.location());
    assert_ne!(first.relay_state, second.relay_state);

    // The tab opened last finishes first; the other's login is still in the cookie.
    let done = browser
        .post_acs(
            &signed_b64(&response_spec(
                &gw,
                Some(&second.id),
                "alice@example.com",
                &[],
            )),
            second.relay_state.as_deref(),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/tab/two?x=1");
    assert!(browser.cookies.contains_key(LOGIN_COOKIE));
    let done = browser
        .post_acs(
            &signed_b64(&response_spec(
                &gw,
                Some(&first.id),
                "alice@example.com",
                &[],
            )),
            first.relay_state.as_deref(),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/tab/one");
    assert!(
        !browser.cookies.contains_key(LOGIN_COOKIE),
        "no login left in flight: the cookie is removed"
    );
    assert_eq!(gw.metric("samlgate_logins_total", &[("idp", "corp")]), 2.0);
}

#[tokio::test]
async fn a_relay_state_replayed_after_a_completed_login_is_refused() {
    let gw = start(Setup::default()).await;
    let mut browser = Browser::new(&gw.base);
    let req = read_redirect_request(browser.get("/app").await.location());
    // The login cookie as it was while the login was in flight (a copy, a stale second tab).
    let kept = browser.cookies.clone();
    let response = signed_b64(&response_spec(&gw, Some(&req.id), "alice@example.com", &[]));
    let done = browser
        .post_acs(&response, req.relay_state.as_deref())
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(
        !browser.cookies.contains_key(LOGIN_COOKIE),
        "the used login is gone"
    );

    // The same Response, and then a fresh one (a new Assertion ID) to the same AuthnRequest:
    // the request ID was used, whatever the cookie still says.
    let fresh = signed_b64(&response_spec(&gw, Some(&req.id), "alice@example.com", &[]));
    for again in [&response, &fresh] {
        let mut replayer = Browser::new(&gw.base);
        replayer.cookies = kept.clone();
        let refused = replayer.post_acs(again, req.relay_state.as_deref()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert!(refused.body.contains("Sign-in failed"));
        assert!(!replayer.cookies.contains_key("samlgate_session"));
    }
    assert_eq!(
        gw.metric(
            "samlgate_rejections_total",
            &[("idp", "corp"), ("kind", "request_replay")]
        ),
        2.0
    );
    assert_eq!(gw.metric("samlgate_logins_total", &[("idp", "corp")]), 1.0);
}

#[tokio::test]
async fn a_tampered_or_foreign_login_cookie_is_refused_with_its_reason() {
    let gw = start(Setup::default()).await;
    let other = start(Setup::default()).await;
    let mut browser = Browser::new(&gw.base);
    let req = read_redirect_request(browser.get("/app").await.location());
    let response = signed_b64(&response_spec(&gw, Some(&req.id), "alice@example.com", &[]));
    let sealed = browser.cookies.get(LOGIN_COOKIE).unwrap().clone();

    // One character changed; then the cookie of another deployment (another SP key).
    let mut changed = sealed.clone().into_bytes();
    let last = changed.len() - 1;
    changed[last] = if changed[last] == b'A' { b'B' } else { b'A' };
    let mut elsewhere = Browser::new(&other.base);
    elsewhere.get("/app").await;
    let foreign = elsewhere.cookies.get(LOGIN_COOKIE).unwrap().clone();
    for cookie in [String::from_utf8(changed).unwrap(), foreign] {
        let mut b = Browser::new(&gw.base);
        b.cookies.insert(LOGIN_COOKIE.into(), cookie);
        let refused = b.post_acs(&response, req.relay_state.as_deref()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(!b.cookies.contains_key("samlgate_session"));
    }
    assert_eq!(
        gw.metric(
            "samlgate_rejections_total",
            &[("idp", "unknown"), ("kind", "login_cookie_refused")]
        ),
        2.0
    );

    // A RelayState of ours this cookie does not hold; and the login past its expiry.
    let mut b = Browser::new(&gw.base);
    b.cookies.insert(LOGIN_COOKIE.into(), sealed.clone());
    let unknown = b
        .post_acs(&response, Some("0123456789abcdef0123456789abcdef"))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        gw.metric(
            "samlgate_rejections_total",
            &[("idp", "unknown"), ("kind", "relay_state_unknown")]
        ),
        1.0
    );
    gw.advance(Duration::minutes(11));
    let late = b.post_acs(&response, req.relay_state.as_deref()).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        gw.metric(
            "samlgate_rejections_total",
            &[("idp", "unknown"), ("kind", "relay_state_expired")]
        ),
        1.0
    );
    // Nothing above completed the login: within its time, the browser that started it still can.
    gw.advance(Duration::minutes(-11));
    let now_response = signed_b64(&response_spec(&gw, Some(&req.id), "alice@example.com", &[]));
    let done = browser
        .post_acs(&now_response, req.relay_state.as_deref())
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
}

/// Nothing is kept for a visitor who has not signed in: a flood of anonymous requests of every
/// kind (pages, login starts, forged or broken ACS posts, forward-auth, sign-out) leaves the
/// replay cache, the session index, the session store and the session cache as they were.
#[tokio::test]
async fn anonymous_requests_leave_every_store_as_it_was() {
    use samlgate::session::{AnySessionStore, Stores, SweepingMemoryStore};
    use samlgate::store::{MemoryReplayCache, MemorySessionIndex};
    use std::sync::Arc;

    let replay = Arc::new(MemoryReplayCache::new());
    let index = Arc::new(MemorySessionIndex::new());
    let sessions = SweepingMemoryStore::new();
    let stores = Stores {
        replay: replay.clone(),
        session_index: index.clone(),
        sessions: AnySessionStore::Memory(sessions.clone()),
        redis: None,
    };
    let gw = start_over(
        Setup {
            idp_extra: "allow_idp_initiated = true".into(),
            ..Setup::default()
        },
        stores,
    )
    .await;
    // One real login first, so that "as it was" is not merely "empty".
    let mut alice = Browser::new(&gw.base);
    login(&gw, &mut alice, "/app", "alice@example.com", &[]).await;
    assert!(whoami(&mut alice).await.is_ok());
    let sizes = || async {
        (
            replay.len(),
            index.len(),
            sessions.len().await,
            gw.state.sessions.cache().len(),
        )
    };
    let before = sizes().await;
    assert!(before.0 > 0 && before.1 > 0 && before.2 > 0, "{before:?}");

    let mut starter = Browser::new(&gw.base);
    let started = read_redirect_request(starter.get("/app").await.location());
    let login_cookie = starter.cookies.clone();
    let spec = response_spec(&gw, Some(&started.id), "mallory@example.com", &[]);
    let forged = B64.encode(
        support::test_idp::signer_with(support::test_idp::attacker_keys())
            .response(&spec, samlgate::saml::issue::SignParts::Both)
            .unwrap(),
    );
    const N: usize = 1000;
    for i in 0..N {
        let mut anonymous = Browser::new(&gw.base);
        let status = match i % 8 {
            0 => anonymous.get(&format!("/app/page{i}?q={i}")).await.status,
            1 => {
                anonymous.cookies.insert(
                    "samlgate_session".into(),
                    tower_sessions::session::Id::default().to_string(),
                );
                anonymous.get("/app").await.status
            }
            2 => {
                anonymous
                    .get("/saml/login?idp=corp&return_to=%2Fx")
                    .await
                    .status
            }
            3 => {
                let relay = samlgate::gateway::relay_state::random_token();
                anonymous.post_acs(&forged, Some(&relay)).await.status
            }
            4 => {
                anonymous.cookies = login_cookie.clone();
                anonymous
                    .post_acs(&forged, started.relay_state.as_deref())
                    .await
                    .status
            }
            5 => anonymous.post_acs("PGdhcmJhZ2U+", None).await.status,
            6 => whoami(&mut anonymous).await.unwrap_err(),
            _ => anonymous.sign_out(&gw.base).await.status,
        };
        assert!(
            [
                StatusCode::FOUND,
                StatusCode::BAD_REQUEST,
                StatusCode::UNAUTHORIZED,
                StatusCode::OK
            ]
            .contains(&status),
            "request {i}: {status}"
        );
    }
    assert_eq!(sizes().await, before, "(replay, index, sessions, cache)");
    // And the browser that really started a login still completes it.
    let done = starter
        .post_acs(
            &signed_b64(&response_spec(
                &gw,
                Some(&started.id),
                "bob@example.com",
                &[],
            )),
            started.relay_state.as_deref(),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
}
