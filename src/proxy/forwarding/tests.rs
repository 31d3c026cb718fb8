//! Unit tests of `proxy::forwarding`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
use super::*;

#[test]
fn appends_the_client_to_x_forwarded_for() {
    let mut h = HeaderMap::new();
    h.append(X_FORWARDED_FOR, HeaderValue::from_static("203.0.113.7"));
    h.append(X_FORWARDED_FOR, HeaderValue::from_static("10.1.1.1"));
    h.insert(X_FORWARDED_PROTO, HeaderValue::from_static("gopher"));
    let host = HeaderValue::from_static("app.example.com");
    set_forwarded(
        &mut h,
        "192.0.2.9:4711".parse().unwrap(),
        "https",
        Some(&host),
    );
    assert_eq!(h.get_all(X_FORWARDED_FOR).iter().count(), 1);
    assert_eq!(h[X_FORWARDED_FOR], "203.0.113.7, 10.1.1.1, 192.0.2.9");
    assert_eq!(h[X_FORWARDED_PROTO], "https");
    assert_eq!(h[X_FORWARDED_HOST], "app.example.com");
    assert_eq!(
        h[FORWARDED],
        "for=192.0.2.9;host=\"app.example.com\";proto=https"
    );
}

#[test]
fn a_client_sent_forwarded_header_is_replaced_by_ours() {
    let mut h = HeaderMap::new();
    h.append(
        FORWARDED,
        HeaderValue::from_static("for=1.2.3.4;host=evil.example;proto=http"),
    );
    h.append(FORWARDED, HeaderValue::from_static("host=evil2.example"));
    let host = HeaderValue::from_static("app.example.com:8443");
    set_forwarded(
        &mut h,
        "[2001:db8::7]:4711".parse().unwrap(),
        "https",
        Some(&host),
    );
    let all: Vec<_> = h.get_all(FORWARDED).iter().collect();
    assert_eq!(
        all,
        [r#"for="[2001:db8::7]";host="app.example.com:8443";proto=https"#]
    );
    // A host that cannot be quoted safely is left out rather than passed on.
    let odd = HeaderValue::from_static("a\"b");
    set_forwarded(&mut h, "192.0.2.9:1".parse().unwrap(), "http", Some(&odd));
    assert_eq!(h[FORWARDED], "for=192.0.2.9;proto=http");
    set_forwarded(&mut h, "192.0.2.9:1".parse().unwrap(), "http", None);
    assert_eq!(h[FORWARDED], "for=192.0.2.9;proto=http");
}

#[test]
fn addresses_are_written_as_std_writes_them() {
    for ip in [
        "0.0.0.0",
        "9.10.99.100",
        "127.0.0.1",
        "255.255.255.255",
        "192.0.2.9",
        "::1",
        "2001:db8::7",
        "::ffff:192.0.2.1",
    ] {
        let ip: std::net::IpAddr = ip.parse().unwrap();
        let mut out = Vec::new();
        push_ip(&mut out, ip);
        assert_eq!(String::from_utf8(out).unwrap(), ip.to_string());
    }
}

proptest::proptest! {
    #[test]
    fn every_ipv4_address_is_written_as_std_writes_it(bits: u32) {
        let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::from(bits));
        let mut out = Vec::new();
        push_ip(&mut out, ip);
        proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), ip.to_string());
    }
}

#[test]
fn a_new_peer_host_or_scheme_is_never_given_the_last_ones_facts() {
    let host = HeaderValue::from_static("app.example.com");
    let other = HeaderValue::from_static("other.example.com");
    let mut h = HeaderMap::new();
    for (peer, proto, host, real_ip, forwarded) in [
        (
            "192.0.2.9:1",
            "https",
            Some(&host),
            "192.0.2.9",
            "for=192.0.2.9;host=\"app.example.com\";proto=https",
        ),
        (
            "192.0.2.9:2",
            "https",
            Some(&host),
            "192.0.2.9",
            "for=192.0.2.9;host=\"app.example.com\";proto=https",
        ),
        (
            "192.0.2.10:1",
            "https",
            Some(&host),
            "192.0.2.10",
            "for=192.0.2.10;host=\"app.example.com\";proto=https",
        ),
        (
            "192.0.2.10:1",
            "http",
            Some(&host),
            "192.0.2.10",
            "for=192.0.2.10;host=\"app.example.com\";proto=http",
        ),
        (
            "192.0.2.10:1",
            "http",
            Some(&other),
            "192.0.2.10",
            "for=192.0.2.10;host=\"other.example.com\";proto=http",
        ),
        (
            "192.0.2.10:1",
            "http",
            None,
            "192.0.2.10",
            "for=192.0.2.10;proto=http",
        ),
    ] {
        h.clear();
        set_forwarded(&mut h, peer.parse().unwrap(), proto, host);
        assert_eq!(h[X_REAL_IP], real_ip);
        assert_eq!(h[X_FORWARDED_FOR], real_ip);
        assert_eq!(h[FORWARDED], forwarded);
    }
}

#[test]
fn sets_x_real_ip_to_the_peer_replacing_the_clients() {
    let mut h = HeaderMap::new();
    h.append(X_REAL_IP, HeaderValue::from_static("10.9.9.9"));
    h.append(X_REAL_IP, HeaderValue::from_static("10.9.9.8"));
    set_forwarded(&mut h, "192.0.2.9:4711".parse().unwrap(), "https", None);
    let all: Vec<_> = h.get_all(X_REAL_IP).iter().collect();
    assert_eq!(all, ["192.0.2.9"]);
    set_forwarded(&mut h, "[2001:db8::7]:1".parse().unwrap(), "https", None);
    assert_eq!(h[X_REAL_IP], "2001:db8::7");
    assert!(h.get(X_FORWARDED_HOST).is_none());
}

#[test]
fn removes_the_client_copies_under_every_spelling_and_keeps_the_rest() {
    let mut h = HeaderMap::new();
    for name in [
        "x-original-url",
        "X_Original_URL",
        "x-rewrite-url",
        "x-forwarded-prefix",
        "x_forwarded_port",
        "x-forwarded-ssl",
        "X-Forwarded-Server",
        "x-remote-user",
        "Remote_User",
        "remote-user",
        "x-auth-request-user",
        "X-Auth-Request-Email",
        "x_auth_request_access_token",
        "x_forwarded_for",
        "X_Forwarded_Host",
        "x_forwarded_proto",
        "x_real_ip",
    ] {
        h.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_static("spoof"),
        );
    }
    for kept in [
        "x-forwarded-for",
        "forwarded",
        "accept",
        "x-request-id",
        "referer",
        "x-auth-requested",
        "remote-userx",
        "x-original-uri",
    ] {
        h.append(kept, HeaderValue::from_static("kept"));
    }
    remove_client_copies(&mut h);
    let mut left: Vec<_> = h.keys().map(HeaderName::as_str).collect();
    left.sort_unstable();
    assert_eq!(
        left,
        [
            "accept",
            "forwarded",
            "referer",
            "remote-userx",
            "x-auth-requested",
            "x-forwarded-for",
            "x-original-uri",
            "x-request-id",
        ]
    );
}

#[test]
fn the_facts_taken_out_are_the_ones_set() {
    let host = HeaderValue::from_static("app.example.com");
    for (peer, proto, host, prior) in [
        ("192.0.2.9:1", "https", Some(&host), true),
        ("[2001:db8::7]:1", "http", None, false),
    ] {
        let mut client = HeaderMap::new();
        client.append(X_REAL_IP, HeaderValue::from_static("1.2.3.4"));
        client.append(FORWARDED, HeaderValue::from_static("for=1.2.3.4"));
        client.append(X_FORWARDED_HOST, HeaderValue::from_static("evil.example"));
        client.append(X_FORWARDED_PROTO, HeaderValue::from_static("gopher"));
        client.append("accept", HeaderValue::from_static("*/*"));
        if prior {
            client.append(X_FORWARDED_FOR, HeaderValue::from_static("203.0.113.7"));
        }
        let mut set = client.clone();
        set_forwarded(&mut set, peer.parse().unwrap(), proto, host);
        let mut taken = client;
        let facts = take_facts(&mut taken, peer.parse().unwrap(), proto, host);
        let left: Vec<_> = taken.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["accept"], "every client copy is taken out");
        for (name, value) in facts.fields() {
            match value {
                Some(value) => taken.append(name, value.clone()),
                None => false,
            };
        }
        assert_eq!(taken, set, "{peer}");
    }
}
