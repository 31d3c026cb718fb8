//! What the backend receives through the proxy: identity headers only from us, forwarding headers set,
//! hop-by-hop headers gone. Real HTTP on loopback, header names sent byte for byte.

use samlgate::identity::headers::decode_value;

use crate::support::proxy::*;

#[tokio::test]
async fn spoofed_identity_headers_never_reach_the_backend_while_ours_do() {
    let echo = start_echo().await;
    let proxy = start_proxy(backend_config(echo), Some(jose())).await;
    let response = raw_request(
        proxy,
        "GET /json HTTP/1.1\r\n\
         Host: app.test\r\n\
         X-Forwarded-User: spoof-canonical\r\n\
         x-forwarded-user: spoof-lower\r\n\
         X_Forwarded_User: spoof-underscore\r\n\
         x_forwarded_access_group: spoof-access\r\n\
         X-FORWARDED-GROUPS: spoof-groups\r\n\
         X-Forwarded-Preferred_Username: spoof-mixed\r\n\
         Connection: X-Forwarded-User\r\n\
         \r\n",
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.head);
    let headers = received_headers(&response.json());

    let spoofed: Vec<_> = headers
        .iter()
        .filter(|(_, v)| v.contains("spoof"))
        .collect();
    assert!(
        spoofed.is_empty(),
        "spoofed headers reached the backend: {spoofed:?}"
    );
    assert!(
        headers.iter().all(|(n, _)| !n.contains('_')),
        "an underscore form reached the backend: {headers:?}"
    );
    assert_eq!(values_of(&headers, "x-forwarded-user"), ["jmuller"]);
    assert_eq!(
        values_of(&headers, "x-forwarded-access-group"),
        ["MyOrg:Administrators"]
    );
    assert_eq!(
        values_of(&headers, "x-forwarded-preferred-username"),
        ["jose"]
    );
    assert_eq!(
        values_of(&headers, "x-forwarded-groups"),
        ["staff,UTF-8''Sales%2C%20EMEA"]
    );
    let name = values_of(&headers, "x-forwarded-name");
    assert_eq!(name, ["UTF-8''Jos%C3%A9%20M%C3%BCller"]);
    assert_eq!(decode_value(&name[0]).unwrap(), "José Müller");
    assert!(values_of(&headers, "connection").is_empty());
}

#[tokio::test]
async fn anonymous_routes_still_strip_identity_headers_and_add_none() {
    let echo = start_echo().await;
    let proxy = start_proxy(backend_config(echo), None).await;
    let response = raw_request(
        proxy,
        "GET /json HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-User: admin\r\nX_Forwarded_Email: a@b\r\n\r\n",
    )
    .await;
    assert_eq!(response.status, 200);
    let headers = received_headers(&response.json());
    assert!(
        headers.iter().all(
            |(n, _)| !n.replace('_', "-").starts_with("x-forwarded-user")
                && !n.replace('_', "-").starts_with("x-forwarded-email")
        ),
        "{headers:?}"
    );
}

#[tokio::test]
async fn forwarding_facts_come_from_the_gateway_not_from_the_client() {
    let echo = start_echo().await;
    let mut config = backend_config(echo);
    config.public_host = Some("app.example.com:8443".into());
    let proxy = start_proxy(config, Some(jose())).await;
    let response = raw_request(
        proxy,
        "GET /json?q=1 HTTP/1.1\r\n\
         Host: evil.test\r\n\
         X-Forwarded-For: 203.0.113.7\r\n\
         X-Forwarded-Proto: gopher\r\n\
         X-Forwarded-Host: evil.test\r\n\
         X-Real-IP: 203.0.113.8\r\n\
         Forwarded: for=203.0.113.7;host=evil.test;proto=http\r\n\
         \r\n",
    )
    .await;
    let json = response.json();
    assert_eq!(json["uri"], "/json?q=1");
    let headers = received_headers(&json);
    // Appended to, never replaced: the backend trusts the entries its own proxies added.
    assert_eq!(
        values_of(&headers, "x-forwarded-for"),
        ["203.0.113.7, 127.0.0.1"]
    );
    assert_eq!(values_of(&headers, "x-forwarded-proto"), ["https"]);
    assert_eq!(
        values_of(&headers, "x-forwarded-host"),
        ["app.example.com:8443"]
    );
    assert_eq!(values_of(&headers, "host"), ["app.example.com:8443"]);
    assert_eq!(values_of(&headers, "x-real-ip"), ["127.0.0.1"]);
    // RFC 7239: the client's element is replaced by ours, with the same facts as above.
    assert_eq!(
        values_of(&headers, "forwarded"),
        [r#"for=127.0.0.1;host="app.example.com:8443";proto=https"#]
    );
}

#[tokio::test]
async fn without_a_public_host_the_backend_gets_its_own_authority_and_no_forwarded_host() {
    let echo = start_echo().await;
    let proxy = start_proxy(backend_config(echo), None).await;
    let response = raw_request(
        proxy,
        "GET /json HTTP/1.1\r\nHost: evil.test\r\nX-Forwarded-Host: evil.test\r\n\r\n",
    )
    .await;
    let headers = received_headers(&response.json());
    assert_eq!(values_of(&headers, "host"), [echo.to_string()]);
    assert!(
        values_of(&headers, "x-forwarded-host").is_empty(),
        "{headers:?}"
    );
    assert_eq!(
        values_of(&headers, "forwarded"),
        ["for=127.0.0.1;proto=https"]
    );
}

#[tokio::test]
async fn removes_hop_by_hop_headers_and_the_headers_connection_names() {
    let echo = start_echo().await;
    let proxy = start_proxy(backend_config(echo), Some(jose())).await;
    let response = raw_request(
        proxy,
        "GET /json HTTP/1.1\r\n\
         Host: app.test\r\n\
         Connection: keep-alive, X-Hop-Secret\r\n\
         X-Hop-Secret: do-not-forward\r\n\
         Keep-Alive: timeout=5\r\n\
         Proxy-Authorization: Basic Zm9vOmJhcg==\r\n\
         Proxy-Connection: keep-alive\r\n\
         TE: trailers\r\n\
         Trailer: X-Checksum\r\n\
         Upgrade: h2c\r\n\
         X-End-To-End: kept\r\n\
         \r\n",
    )
    .await;
    assert_eq!(response.status, 200);
    let headers = received_headers(&response.json());
    for hop in [
        "connection",
        "x-hop-secret",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
    ] {
        assert!(
            values_of(&headers, hop).is_empty(),
            "{hop} reached the backend: {headers:?}"
        );
    }
    assert_eq!(values_of(&headers, "x-end-to-end"), ["kept"]);
}

#[tokio::test]
async fn echo_page_shows_identity_headers_decoded_and_escaped() {
    let echo = start_echo().await;
    let proxy = start_proxy(backend_config(echo), Some(jose())).await;
    let response = raw_request(
        proxy,
        "GET /some/page HTTP/1.1\r\nHost: app.test\r\nX-Note: <script>alert(1)</script>\r\n\r\n",
    )
    .await;
    assert_eq!(response.status, 200);
    let page = response.text();
    assert!(page.contains("José Müller"), "{page}");
    assert!(page.contains("class=\"identity\""));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("<script>"));
}
