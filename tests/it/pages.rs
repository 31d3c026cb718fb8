//! The pages the gateway writes itself, as a person meets them: one style, each saying what
//! happened and what to do next (who is signed in and what a page needs, a link to start
//! again, the reference to quote).

use hyper::StatusCode;

use crate::support::gateway::*;

/// The text between `<code id="reference">` and `</code>`.
fn reference_in(page: &str) -> String {
    let start = page
        .find("<code id=\"reference\">")
        .unwrap_or_else(|| panic!("no reference on the page: {page}"))
        + "<code id=\"reference\">".len();
    let len = page[start..].find("</code>").unwrap();
    page[start..start + len].to_string()
}

fn assert_page_style(page: &str) {
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(page.contains("<style>"), "unstyled: {page}");
}

#[tokio::test]
async fn access_denied_says_who_is_signed_in_what_the_page_needs_and_offers_to_switch_user() {
    let gw = start(Setup {
        routes: "[[route]]\npath = \"/admin\"\nrequire_access_group = [\"MyOrg:Administrators\"]\n\n[[route]]\npath = \"/finance\"\nrequire_any_group = [\"Finance\", \"Audit\"]\n".into(),
        ..Setup::default()
    })
    .await;
    let mut carol = Browser::new(&gw.base);
    login(
        &gw,
        &mut carol,
        "/app",
        "carol@example.com",
        &["Staff", "R&D"],
    )
    .await;

    let denied = carol.get("/admin/users").await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let page = &denied.body;
    assert_page_style(page);
    assert!(page.contains("Access denied"), "{page}");
    assert!(
        page.contains("signed in as <strong id=\"user\">carol@example.com</strong>"),
        "{page}"
    );
    assert!(
        page.contains("needs the access group <code>MyOrg:Administrators</code>"),
        "{page}"
    );
    assert!(
        page.contains("Yours is <code>MyOrg:RestrictedReadOnly</code>"),
        "{page}"
    );
    let action = format!("action=\"{}/saml/logout\"", gw.base);
    assert!(page.contains(&action), "{page}");
    assert!(page.contains("Sign out to switch user"), "{page}");

    let denied = carol.get("/finance/q3").await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert!(
        denied
            .body
            .contains("needs one of the groups <code>Finance</code>, <code>Audit</code>"),
        "{}",
        denied.body
    );
    // Group names are escaped: `R&D` arrives as text, not markup.
    assert!(
        denied
            .body
            .contains("Your groups: <code>Staff</code>, <code>R&amp;D</code>"),
        "{}",
        denied.body
    );

    // The button signs out (a same-origin POST to the action), so another user can sign in.
    let out = carol.sign_out(&gw.base).await;
    assert_eq!(out.status, StatusCode::OK);
    assert_eq!(carol.get("/admin/users").await.status, StatusCode::FOUND);
}

#[tokio::test]
async fn a_failed_sign_in_links_to_the_start_and_shows_a_reference() {
    let gw = start(Setup {
        mapping: Some("[access]\ngroups = [\"groups\"]\ndeny = true\n[[access.rule]]\ngroup = \"Admins\"\naccess_group = \"A\"\n".into()),
        ..Setup::default()
    })
    .await;
    let mut browser = Browser::new(&gw.base);
    let done = login(&gw, &mut browser, "/app", "eve@example.com", &["Staff"]).await;
    assert_eq!(done.status, StatusCode::BAD_REQUEST);
    let page = &done.body;
    assert_page_style(page);
    assert!(page.contains("Sign-in failed"), "{page}");
    assert!(
        page.contains(&format!(
            "<a id=\"start-again\" href=\"{}/\">Start again</a>",
            gw.base
        )),
        "{page}"
    );
    let reference = reference_in(page);
    assert_eq!(reference.len(), 12, "{reference}");
    assert!(
        reference.chars().all(|c| c.is_ascii_hexdigit()),
        "{reference}"
    );
}

#[tokio::test]
async fn a_backend_that_cannot_be_reached_gets_a_styled_502_with_a_fresh_reference() {
    // The default backend is a closed port.
    let gw = start(Setup::default()).await;
    let mut browser = Browser::new(&gw.base);
    login(&gw, &mut browser, "/app", "alice@example.com", &["Staff"]).await;
    let first = browser.get("/app").await;
    assert_eq!(first.status, StatusCode::BAD_GATEWAY);
    assert_page_style(&first.body);
    assert!(first.body.contains("502 Bad Gateway"), "{}", first.body);
    let second = browser.get("/app").await;
    let (a, b) = (reference_in(&first.body), reference_in(&second.body));
    assert_eq!(a.len(), 12, "{a}");
    assert_ne!(a, b, "each failure has its own reference");
}
