//! The sign-out in progress a browser carries: the ID of the LogoutRequest it took to the IdP,
//! sealed (as the logins in progress are, see `login_seal`) into its logout cookie, so the IdP's
//! LogoutResponse is accepted only from the browser that signed out, and only once it answers
//! that very request.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::login_seal::LoginSeal;

/// How long the browser has to come back from the IdP with its LogoutResponse.
pub const PENDING_LOGOUT_TTL: Duration = Duration::minutes(10);

/// What the logout cookie's seal starts with: a sealed login state is never read as a logout.
const LOGOUT_SEAL_LABEL: &[u8] = b"samlgate pending logout v1\n";

/// The LogoutRequest this browser took to the IdP, sealed into its logout cookie.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogout {
    pub request_id: String,
    /// The IdP's configured name.
    pub idp: String,
    #[serde(with = "time::serde::timestamp")]
    pub expires: OffsetDateTime,
}

impl PendingLogout {
    pub fn seal(&self, seal: &LoginSeal) -> Option<String> {
        let mut plain = LOGOUT_SEAL_LABEL.to_vec();
        plain.extend(serde_json::to_vec(self).ok()?);
        seal.seal(&plain).ok()
    }

    /// The pending logout in `cookie`, if it opens, is one, and has not expired.
    pub fn open(cookie: &str, seal: &LoginSeal, now: OffsetDateTime) -> Option<Self> {
        let plain = seal.open(cookie).ok()?;
        let json = plain.strip_prefix(LOGOUT_SEAL_LABEL)?;
        let pending: PendingLogout = serde_json::from_slice(json).ok()?;
        (pending.expires > now).then_some(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-05-23 09:14:20 UTC);

    fn seal() -> LoginSeal {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        LoginSeal::new(&key, &[], "https://app.example.com/saml/metadata").unwrap()
    }

    fn pending() -> PendingLogout {
        PendingLogout {
            request_id: "_0123".into(),
            idp: "corp".into(),
            expires: NOW + PENDING_LOGOUT_TTL,
        }
    }

    #[test]
    fn a_sealed_pending_logout_opens_until_it_expires() {
        let seal = seal();
        let cookie = pending().seal(&seal).unwrap();
        assert!(!cookie.contains("_0123"), "the request ID is not readable");
        assert_eq!(PendingLogout::open(&cookie, &seal, NOW), Some(pending()));
        assert_eq!(
            PendingLogout::open(&cookie, &seal, NOW + PENDING_LOGOUT_TTL),
            None
        );
    }

    #[test]
    fn another_deployments_seal_a_tampered_cookie_or_a_sealed_login_state_do_not_open() {
        let seal = seal();
        let cookie = pending().seal(&seal).unwrap();
        assert_eq!(PendingLogout::open(&cookie, &self::seal(), NOW), None);
        let mut tampered = cookie.into_bytes();
        if let Some(last) = tampered.last_mut() {
            *last = if *last == b'A' { b'B' } else { b'A' };
        }
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(PendingLogout::open(&tampered, &seal, NOW), None);
        // The same JSON sealed without the logout label (as another use of the seal would).
        let unlabelled = seal.seal(&serde_json::to_vec(&pending()).unwrap()).unwrap();
        assert_eq!(PendingLogout::open(&unlabelled, &seal, NOW), None);
    }
}
