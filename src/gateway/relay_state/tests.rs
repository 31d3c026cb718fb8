//! Unit tests of `gateway::relay_state`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
use super::*;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-05-23 09:00 UTC);

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn seal() -> LoginSeal {
    LoginSeal::new(&key(), &[], "https://app.example.com/saml/metadata").unwrap()
}

fn login(request_id: &str, return_to: &str) -> PendingLogin {
    PendingLogin::start(request_id, return_to, "corp", NOW)
}

/// The cookie value after adding `logins` to what `cookie` held.
fn cookie_with(seal: &LoginSeal, cookie: Option<&str>, logins: &[&PendingLogin]) -> String {
    let mut jar = PendingLogins::for_new_login(cookie, seal);
    for l in logins {
        jar.add((*l).clone(), NOW);
    }
    jar.to_cookie(seal, NOW).unwrap().expect("a cookie")
}

#[test]
fn keeps_plain_relative_paths() {
    for ok in ["/", "/app/x", "/app/x?y=1&z=%20", "/a/b#frag", "/caf%C3%A9"] {
        assert_eq!(sanitize_return_to(ok), ok, "{ok}");
    }
}

#[test]
fn refuses_every_way_out_to_another_host() {
    for bad in [
        "https://evil.example",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "\\/evil.example",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        "/\tevil",
        "/\n/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "",
        "/a//b",
        " /x",
    ] {
        assert_eq!(sanitize_return_to(bad), "/", "{bad:?}");
    }
}

#[test]
fn a_too_long_return_path_loses_its_query_then_becomes_root() {
    let path = format!("/reports/{}", "a".repeat(100));
    let query = format!("?filter={}", "x".repeat(MAX_RETURN_TO));
    assert_eq!(sanitize_return_to(&format!("{path}{query}")), path);
    assert_eq!(sanitize_return_to(&format!("{path}#{query}")), path);
    let long_path = format!("/{}", "p".repeat(MAX_RETURN_TO));
    assert_eq!(sanitize_return_to(&long_path), "/");
    let just_fits = format!("/{}", "p".repeat(MAX_RETURN_TO - 1));
    assert_eq!(sanitize_return_to(&just_fits), just_fits);
}

#[test]
fn relay_tokens_are_ours_only_in_their_exact_shape() {
    assert!(is_relay_token(&random_token()));
    for other in [
        "",
        "https://evil.example/phish",
        "0123456789ABCDEF0123456789abcdef",
        "0123456789abcdef0123456789abcde",
        "0123456789abcdef0123456789abcdef0",
    ] {
        assert!(!is_relay_token(other), "{other}");
    }
}

#[test]
fn two_logins_in_flight_each_complete_from_the_cookie() {
    let seal = seal();
    let first = login("_first", "/tab/one");
    let first_cookie = cookie_with(&seal, None, &[&first]);
    let second = login("_second", "/tab/two");
    let both = cookie_with(&seal, Some(&first_cookie), &[&second]);

    let mut jar = PendingLogins::open(Some(&both), &seal, &second.relay_state).unwrap();
    assert_eq!(jar.len(), 2);
    assert_eq!(jar.take(&second.relay_state, NOW).unwrap(), second);
    let rest = jar
        .to_cookie(&seal, NOW)
        .unwrap()
        .expect("the first remains");
    let mut jar = PendingLogins::open(Some(&rest), &seal, &first.relay_state).unwrap();
    assert_eq!(jar.take(&first.relay_state, NOW).unwrap(), first);
    assert_eq!(jar.to_cookie(&seal, NOW).unwrap(), None, "nothing left");
}

#[test]
fn a_taken_login_is_gone_from_the_rewritten_cookie() {
    let seal = seal();
    let l = login("_abc", "/x");
    let cookie = cookie_with(&seal, None, &[&l, &login("_other", "/y")]);
    let mut jar = PendingLogins::open(Some(&cookie), &seal, &l.relay_state).unwrap();
    jar.take(&l.relay_state, NOW).unwrap();
    let rewritten = jar.to_cookie(&seal, NOW).unwrap().unwrap();
    let mut again = PendingLogins::open(Some(&rewritten), &seal, &l.relay_state).unwrap();
    assert_eq!(
        again.take(&l.relay_state, NOW),
        Err(RelayStateError::Unknown {
            relay_state: l.relay_state.clone()
        })
    );
}

#[test]
fn refusals_say_which_check_failed() {
    let seal = seal();
    let l = login("_abc", "/x");
    let cookie = cookie_with(&seal, None, &[&l]);
    let relay = l.relay_state.as_str();

    let none = PendingLogins::open(None, &seal, relay).unwrap_err();
    assert_eq!(none.kind(), "relay_state_other_browser");

    let foreign = cookie_with(&self::seal(), None, &[&l]);
    let other_deployment = PendingLogins::open(Some(&foreign), &seal, relay).unwrap_err();
    assert_eq!(other_deployment.kind(), "login_cookie_refused");
    assert!(matches!(
        other_deployment,
        RelayStateError::Unopenable {
            reason: CookieReadError::Seal(SealError::Unopenable),
            ..
        }
    ));

    let mut chars: Vec<char> = cookie.chars().collect();
    let last = chars.len() - 1;
    chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    assert_eq!(
        PendingLogins::open(Some(&tampered), &seal, relay)
            .unwrap_err()
            .kind(),
        "login_cookie_refused"
    );

    let mut jar = PendingLogins::open(Some(&cookie), &seal, relay).unwrap();
    let unknown = jar.take(&random_token(), NOW).unwrap_err();
    assert_eq!(unknown.kind(), "relay_state_unknown");

    let later = NOW + PENDING_LOGIN_TTL;
    let expired = jar.take(relay, later).unwrap_err();
    assert_eq!(
        expired,
        RelayStateError::Expired {
            relay_state: relay.to_string(),
            expires: later,
            now: later
        }
    );
    assert_eq!(expired.kind(), "relay_state_expired");
}

#[test]
fn a_cookie_that_does_not_open_is_replaced_when_a_new_login_starts() {
    let seal = seal();
    for junk in [
        "",
        "garbage",
        "AAAA",
        &cookie_with(&self::seal(), None, &[&login("_x", "/")]),
    ] {
        assert!(
            PendingLogins::for_new_login(Some(junk), &seal).is_empty(),
            "{junk}"
        );
    }
}

#[test]
fn the_most_recent_logins_are_kept_and_expired_ones_dropped() {
    let seal = seal();
    let logins: Vec<PendingLogin> = (0..MAX_PENDING + 2)
        .map(|i| login(&format!("_r{i}"), "/"))
        .collect();
    let mut jar = PendingLogins::default();
    for l in &logins {
        jar.add(l.clone(), NOW);
    }
    let cookie = jar.to_cookie(&seal, NOW).unwrap().unwrap();
    let mut jar = PendingLogins::open(Some(&cookie), &seal, "").unwrap();
    assert_eq!(jar.len(), MAX_PENDING);
    for dropped in &logins[..2] {
        assert!(jar.clone().take(&dropped.relay_state, NOW).is_err());
    }
    for kept in &logins[2..] {
        assert!(jar.clone().take(&kept.relay_state, NOW).is_ok());
    }
    // A new login after the others expired leaves only itself.
    let later = NOW + PENDING_LOGIN_TTL + Duration::seconds(1);
    jar.add(PendingLogin::start("_late", "/", "corp", later), later);
    assert_eq!(jar.len(), 1);
}

#[test]
fn the_cookie_stays_under_4_kb_whatever_the_return_paths() {
    let seal = seal();
    let longest = format!("/{}", "é".repeat(MAX_RETURN_TO));
    let longest = sanitize_return_to(&longest);
    assert_eq!(longest, "/", "non-ASCII counts in bytes");
    let longest = format!("/{}", "p".repeat(MAX_RETURN_TO - 1));
    let logins: Vec<PendingLogin> = (0..MAX_PENDING)
        .map(|i| login(&format!("_{i:032}"), &sanitize_return_to(&longest)))
        .collect();
    let mut jar = PendingLogins::default();
    for l in &logins {
        jar.add(l.clone(), NOW);
    }
    let cookie = jar.to_cookie(&seal, NOW).unwrap().unwrap();
    assert!(cookie.len() <= MAX_COOKIE_VALUE, "{}", cookie.len());
    let jar = PendingLogins::open(Some(&cookie), &seal, "").unwrap();
    assert!(
        jar.len() >= 2,
        "two long logins in flight fit: {}",
        jar.len()
    );
    let newest = logins.last().unwrap();
    assert!(jar.clone().take(&newest.relay_state, NOW).is_ok());
    assert!(jar.clone().take(&logins[0].relay_state, NOW).is_err());
}

#[test]
fn a_login_too_large_for_any_cookie_is_an_error_not_a_broken_cookie() {
    let seal = seal();
    let mut jar = PendingLogins::default();
    let huge_idp = "i".repeat(MAX_COOKIE_VALUE);
    jar.add(PendingLogin::start("_r", "/", &huge_idp, NOW), NOW);
    assert!(matches!(
        jar.to_cookie(&seal, NOW),
        Err(CookieWriteError::TooLarge(_))
    ));
}
