//! `/saml/session` with `[server] session_page = true`: the signed-in person's own session (who,
//! which IdP, the attributes it sent, the access group and the rule that chose it, the headers
//! the backend gets, when it ends), as a page and as JSON; without the key, the backend's path.

use hyper::StatusCode;

use crate::support::gateway::*;

fn with_page() -> Setup {
    Setup {
        server_extra: "session_page = true".into(),
        ..Setup::default()
    }
}

#[tokio::test]
async fn the_session_page_shows_who_the_idp_the_attributes_the_rule_and_the_headers() {
    let gw = start(Setup {
        backend: Some(echo_backend().await),
        ..with_page()
    })
    .await;
    let mut browser = Browser::new(&gw.base);
    login(
        &gw,
        &mut browser,
        "/app",
        "alice@example.com",
        &["Admins", "R&D"],
    )
    .await;
    let page = browser.get("/saml/session").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let body = &page.body;
    for needle in [
        "<title>Your session</title>",
        "<th>Signed in as</th><td><code>&quot;alice@example.com&quot;</code>",
        "<th>Identity provider</th><td>corp (",
        "<th>Access group</th><td><code>&quot;MyOrg:Administrators&quot;</code>",
        "<th>Chosen by</th><td>rule #1 (line 13)</td>",
        "<code>&quot;R&amp;D&quot;</code>",
        "<tr class=\"header\"><th>x-forwarded-user</th><td><code>&quot;alice@example.com&quot;</code>",
        "<tr class=\"header\"><th>x-forwarded-access-group</th><td><code>&quot;MyOrg:Administrators&quot;</code>",
        "<tr class=\"attribute\"><th>displayName</th><td><code>&quot;Alice Example&quot;</code>",
        "<th>Session ends</th>",
    ] {
        assert!(body.contains(needle), "{needle:?} not in {body}");
    }

    let json = browser
        .get_with("/saml/session", &[("accept", "application/json")])
        .await;
    assert_eq!(json.status, StatusCode::OK);
    assert_eq!(json.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(v["signed_in"], true);
    assert_eq!(v["user"], "alice@example.com");
    assert_eq!(v["idp"], "corp");
    assert_eq!(v["access_group"], "MyOrg:Administrators");
    assert_eq!(v["matched_rule"], "rule #1 (line 13)");
    // The headers shown are exactly those the backend receives.
    let shown = crate::support::proxy::received_headers(&v);
    let echo: serde_json::Value = serde_json::from_str(&browser.get("/json").await.body).unwrap();
    let received: Vec<(String, String)> = crate::support::proxy::received_headers(&echo)
        .into_iter()
        .filter(|(name, _)| {
            name.starts_with("x-forwarded-") && shown.iter().any(|(n, _)| n == name)
        })
        .collect();
    assert_eq!(shown.len(), 6, "{shown:?}");
    let mut sorted = shown.clone();
    sorted.sort();
    let mut received_sorted = received;
    received_sorted.sort();
    assert_eq!(sorted, received_sorted);
    assert!(
        v["attributes"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(["groups", ["Admins", "R&D"]])),
        "{v}"
    );
    assert!(v["expires_at"].as_str().unwrap().ends_with('Z'), "{v}");
}

#[tokio::test]
async fn the_session_page_names_the_default_when_no_rule_matched() {
    let gw = start(with_page()).await;
    let mut browser = Browser::new(&gw.base);
    login(&gw, &mut browser, "/app", "carol@example.com", &["Staff"]).await;
    let body = browser.get("/saml/session").await.body;
    assert!(
        body.contains("<th>Chosen by</th><td>default</td>"),
        "{body}"
    );
}

#[tokio::test]
async fn without_a_session_the_page_offers_to_sign_in_and_the_json_says_so() {
    let gw = start(with_page()).await;
    let mut browser = Browser::new(&gw.base);
    let page = browser.get("/saml/session").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.body.contains("You are not signed in"), "{}", page.body);
    assert!(page.body.contains("id=\"sign-in\""), "{}", page.body);
    let json = browser
        .get_with("/saml/session", &[("accept", "application/json")])
        .await;
    assert_eq!(json.status, StatusCode::UNAUTHORIZED);
    assert_eq!(json.body, r#"{"signed_in":false}"#);
}

#[tokio::test]
async fn without_session_page_the_path_is_the_backends() {
    let backend = echo_backend().await;
    let gw = start(Setup {
        backend: Some(backend),
        ..Setup::default()
    })
    .await;
    let mut browser = Browser::new(&gw.base);
    // Not signed in: a login starts, as for any protected path.
    assert_eq!(browser.get("/saml/session").await.status, StatusCode::FOUND);
    login(&gw, &mut browser, "/app", "alice@example.com", &["Staff"]).await;
    let page = browser.get("/saml/session").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("Your session"), "{}", page.body);
    assert!(
        page.body.contains("x-forwarded-user") || page.body.contains("X-Forwarded-User"),
        "{}",
        page.body
    );
}
