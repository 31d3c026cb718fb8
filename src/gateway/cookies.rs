//! The login cookie: the logins in progress of this browser, sealed (see `relay_state`). (The
//! session cookie itself is written by tower-sessions.)
//!
//! It must come back on the IdP's cross-site POST to the ACS, which SameSite=Lax cookies do not:
//! over HTTPS it is `SameSite=None; Secure` with the `__Host-` prefix. Over plain HTTP (allowed
//! on loopback only) browsers refuse `SameSite=None` without Secure, so it is Lax there, which
//! works because a loopback IdP is same-site.

use std::borrow::Cow;

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

use super::relay_state::PENDING_LOGIN_TTL;

/// Name of the login cookie.
pub fn login_cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-samlgate_login"
    } else {
        "samlgate_login"
    }
}

/// The value of cookie `name`, if the request carries exactly one well-formed value.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = None;
    for value in headers.get_all(COOKIE) {
        // Visible ASCII only (values with other bytes are skipped), so ASCII trimming trims
        // every space there is.
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            if let Some((key, value)) = pair.trim_ascii().split_once('=')
                && key == name
            {
                // Two cookies of one name means someone planted one (e.g. from a sibling
                // subdomain).
                if found.is_some() {
                    return None;
                }
                found = Some(value);
            }
        }
    }
    found
}

/// Remove the gateway's own cookies (`names`: the session cookie and the login-binding cookie)
/// from the request before it goes to the backend. The session ID is a bearer credential: a
/// backend, or anything that logs its request headers, must never receive it. Other cookies
/// (the application's own) pass unchanged; a Cookie header left empty is removed.
pub fn strip_own(headers: &mut HeaderMap, names: &[&str]) {
    let ours = |pair: &str| {
        let name = pair.split_once('=').map_or(pair, |(k, _)| k).trim();
        names.contains(&name)
    };
    // One pass over the pairs (the request of a signed-in user carries ours: this is the
    // common path). The headers are rewritten only when one of ours was there.
    let mut carries_ours = false;
    let mut kept = String::new();
    for value in headers.get_all(COOKIE) {
        let value = as_text(value);
        for pair in value.split(';').map(str::trim) {
            if pair.is_empty() {
                continue;
            }
            if ours(pair) {
                carries_ours = true;
            } else {
                if !kept.is_empty() {
                    kept.push_str("; ");
                }
                kept.push_str(pair);
            }
        }
    }
    if !carries_ours {
        return;
    }
    headers.remove(COOKIE);
    if !kept.is_empty()
        && let Ok(value) = axum::http::HeaderValue::try_from(kept)
    {
        headers.insert(COOKIE, value);
    }
}

/// A header value as text: as it is when it is visible ASCII (nearly always), else with every
/// byte that is not UTF-8 replaced.
fn as_text(value: &axum::http::HeaderValue) -> Cow<'_, str> {
    match value.to_str() {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(value.as_bytes()),
    }
}

/// `Set-Cookie` value for the login cookie holding `value`.
pub fn login_cookie(value: &str, https: bool) -> String {
    login_cookie_for(value, PENDING_LOGIN_TTL.whole_seconds(), https)
}

/// `Set-Cookie` value that removes the login cookie (no login left in flight).
pub fn clear_login_cookie(https: bool) -> String {
    login_cookie_for("", 0, https)
}

fn login_cookie_for(value: &str, max_age: i64, https: bool) -> String {
    if https {
        format!(
            "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=None",
            login_cookie_name(true)
        )
    } else {
        format!(
            "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax",
            login_cookie_name(false)
        )
    }
}

/// Name of the logout cookie: the LogoutRequest this browser took to the IdP, sealed, so the
/// IdP's LogoutResponse is accepted only from the browser that signed out.
pub fn logout_cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-samlgate_logout"
    } else {
        "samlgate_logout"
    }
}

/// `Set-Cookie` value for the logout cookie holding `value` for `max_age` seconds. Like the
/// login cookie it must come back on the IdP's cross-site POST: `SameSite=None` over HTTPS.
pub fn logout_cookie(value: &str, max_age: i64, https: bool) -> String {
    let name = logout_cookie_name(https);
    if https {
        format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=None")
    } else {
        format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax")
    }
}

/// `Set-Cookie` value that removes the logout cookie.
pub fn clear_logout_cookie(https: bool) -> String {
    logout_cookie("", 0, https)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cookies_never_reach_the_backend_and_others_do() {
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            "app=1; samlgate_session=SECRET; theme=dark"
                .parse()
                .unwrap(),
        );
        h.append(COOKIE, "samlgate_login=abc".parse().unwrap());
        strip_own(&mut h, &["samlgate_session", "samlgate_login"]);
        let all: Vec<_> = h.get_all(COOKIE).iter().collect();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0], "app=1; theme=dark");
        let mut only_ours = HeaderMap::new();
        only_ours.insert(COOKIE, "samlgate_session=SECRET".parse().unwrap());
        strip_own(&mut only_ours, &["samlgate_session", "samlgate_login"]);
        assert!(only_ours.get(COOKIE).is_none());
    }

    #[test]
    fn cookie_headers_without_ours_pass_as_they_came() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, "app=1;theme=dark".parse().unwrap());
        h.append(COOKIE, "x=samlgate_session".parse().unwrap());
        strip_own(&mut h, &["samlgate_session", "samlgate_login"]);
        let all: Vec<_> = h.get_all(COOKIE).iter().collect();
        assert_eq!(all, ["app=1;theme=dark", "x=samlgate_session"]);
    }

    #[test]
    fn a_duplicated_cookie_counts_as_absent() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, "a=1; samlgate_login=x".parse().unwrap());
        assert_eq!(get(&h, "samlgate_login"), Some("x"));
        h.append(COOKIE, "samlgate_login=y".parse().unwrap());
        assert_eq!(get(&h, "samlgate_login"), None);
    }

    #[test]
    fn https_login_cookie_is_host_prefixed_secure_and_cross_site() {
        let c = login_cookie("ab", true);
        assert!(c.starts_with("__Host-samlgate_login=ab; Path=/; Max-Age=600;"));
        assert!(c.contains("Secure") && c.contains("SameSite=None") && c.contains("HttpOnly"));
        assert!(!c.contains("Domain"));
        let cleared = clear_login_cookie(true);
        assert!(cleared.starts_with("__Host-samlgate_login=; Path=/; Max-Age=0;"));
        assert!(cleared.contains("Secure") && cleared.contains("SameSite=None"));
    }

    mod same_as_the_two_pass_reading {
        //! The one-pass `strip_own` and the ASCII-trimming `get` against the plain readings they
        //! replaced, on Cookie headers made of the awkward parts (our names, spaces, tabs, empty
        //! pairs, pairs without `=`, bytes that are not ASCII).
        use super::super::*;
        use axum::http::HeaderValue;
        use proptest::prelude::*;

        const NAMES: [&str; 2] = ["samlgate_session", "samlgate_login"];

        fn strip_two_pass(headers: &mut HeaderMap, names: &[&str]) {
            let ours = |pair: &str| {
                let name = pair.split_once('=').map_or(pair, |(k, _)| k).trim();
                names.contains(&name)
            };
            let carries_ours = headers
                .get_all(COOKIE)
                .iter()
                .any(|v| as_text(v).split(';').any(ours));
            if !carries_ours {
                return;
            }
            let mut kept = String::new();
            for value in headers.get_all(COOKIE) {
                for pair in as_text(value).split(';').map(str::trim) {
                    if !pair.is_empty() && !ours(pair) {
                        if !kept.is_empty() {
                            kept.push_str("; ");
                        }
                        kept.push_str(pair);
                    }
                }
            }
            headers.remove(COOKIE);
            if !kept.is_empty()
                && let Ok(value) = HeaderValue::try_from(kept)
            {
                headers.insert(COOKIE, value);
            }
        }

        fn get_trimming_unicode<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
            let mut found = None;
            for value in headers.get_all(COOKIE) {
                let Ok(value) = value.to_str() else { continue };
                for pair in value.split(';') {
                    if let Some((key, value)) = pair.trim().split_once('=')
                        && key == name
                    {
                        if found.is_some() {
                            return None;
                        }
                        found = Some(value);
                    }
                }
            }
            found
        }

        fn part() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                Just(b"samlgate_session".to_vec()),
                Just(b"samlgate_login".to_vec()),
                Just(b"app".to_vec()),
                Just(b"=".to_vec()),
                Just(b";".to_vec()),
                Just(b" ".to_vec()),
                Just(b"\t".to_vec()),
                Just(b"v1".to_vec()),
                Just("\u{a0}".as_bytes().to_vec()),
                Just(vec![0xff]),
            ]
        }

        fn headers_from(values: &[Vec<Vec<u8>>]) -> HeaderMap {
            let mut h = HeaderMap::new();
            for parts in values {
                if let Ok(value) = HeaderValue::from_bytes(&parts.concat()) {
                    h.append(COOKIE, value);
                }
            }
            h
        }

        proptest! {
            #[test]
            fn strip_own_and_get_read_as_before(
                values in proptest::collection::vec(proptest::collection::vec(part(), 0..12), 0..3)
            ) {
                let mut one_pass = headers_from(&values);
                let mut two_pass = one_pass.clone();
                for name in NAMES {
                    prop_assert_eq!(get(&one_pass, name), get_trimming_unicode(&one_pass, name));
                }
                strip_own(&mut one_pass, &NAMES);
                strip_two_pass(&mut two_pass, &NAMES);
                prop_assert_eq!(one_pass, two_pass);
            }
        }
    }
}
