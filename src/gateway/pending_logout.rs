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
