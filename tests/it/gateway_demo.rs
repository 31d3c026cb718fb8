//! `samlgate demo` end to end, as a browser would click through it: gateway -> development IdP
//! login form -> auto-posted Response -> ACS -> echo backend with the identity headers.

use hyper::{Method, StatusCode};

use crate::support::gateway::Browser;

/// The value of `<input ... name="NAME" value="...">` in a page (values are HTML-escaped).
fn input_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .map(|i| i + marker.len())
        .unwrap_or_else(|| panic!("no {name} in {html}"));
    let end = html[start..].find('"').unwrap() + start;
    html[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

#[tokio::test]
async fn demo_signs_in_through_the_development_idp_and_reaches_the_echo_backend() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let demo = samlgate::demo::run::start(listener).await.unwrap();
    let mut browser = Browser::new(&demo.url);

    let start = browser.get("/hello").await;
    assert_eq!(start.status, StatusCode::FOUND);
    let to_idp = start.location().to_string();
    assert!(to_idp.starts_with(&format!("{}/sso?", demo.idp_url)));

    let mut idp = Browser::new(&demo.idp_url);
    let login_page = idp.get(to_idp.strip_prefix(&demo.idp_url).unwrap()).await;
    assert_eq!(login_page.status, StatusCode::OK, "{}", login_page.body);
    assert!(login_page.body.contains("development only"));
    let request_id = input_value(&login_page.body, "request_id");
    let relay_state = input_value(&login_page.body, "relay_state");
    let posted = idp
        .send(
            Method::POST,
            "/sso/login",
            &[],
            Some(form(&[
                ("request_id", &request_id),
                ("relay_state", &relay_state),
                ("user", "José@example.com"),
                ("email", "jose@example.com"),
                ("name", "José Example"),
                ("groups", "Staff, Admins"),
            ])),
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK);
    assert!(
        posted
            .body
            .contains(&format!("action=\"{}/saml/acs\"", demo.url))
    );
    let saml_response = input_value(&posted.body, "SAMLResponse");
    let relay = input_value(&posted.body, "RelayState");

    let done = browser.post_acs(&saml_response, Some(&relay)).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/hello");

    let json = browser.get("/json").await;
    assert_eq!(json.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(v["identity"]["x-forwarded-user"], "José@example.com");
    assert_eq!(
        v["identity"]["x-forwarded-access-group"],
        "MyOrg:Administrators"
    );
    let admin = browser.get("/admin").await;
    assert_eq!(admin.status, StatusCode::OK);
}

#[tokio::test]
async fn the_development_idp_refuses_an_unsigned_authn_request() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let demo = samlgate::demo::run::start(listener).await.unwrap();
    let mut browser = Browser::new(&demo.url);
    let start = browser.get("/").await;
    let location = start.location().to_string();
    let unsigned = location.split("&SigAlg=").next().unwrap();
    let mut idp = Browser::new(&demo.idp_url);
    let reply = idp.get(unsigned.strip_prefix(&demo.idp_url).unwrap()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("not signed"));
}

#[tokio::test]
async fn the_demo_refuses_a_non_loopback_address() {
    let Ok(listener) = tokio::net::TcpListener::bind("0.0.0.0:0").await else {
        return;
    };
    assert!(matches!(
        samlgate::demo::run::start(listener).await,
        Err(samlgate::demo::run::DemoError::NotLoopback(_))
    ));
}
