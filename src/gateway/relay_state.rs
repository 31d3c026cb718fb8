//! Logins in progress, carried by the browser; RelayState names one of them.
//!
//! The gateway keeps nothing per visitor before a verified Response: anyone can send requests
//! that start logins, as many as they like, so whatever a login start stored would be theirs to
//! fill. A login in progress ([`PendingLogin`]: the AuthnRequest ID, the path to return to, the
//! IdP, an expiry) travels sealed ([`super::login_seal`]) in the browser's login cookie, which
//! binds it to that browser; RelayState is only a random token naming one entry (SAML caps
//! RelayState at 80 bytes, and a browser URL is no place for it either). At the ACS the
//! AuthnRequest ID becomes single-use in the replay cache, once the Response verified.
//!
//! Several logins may be in flight in one browser (two tabs; a favicon request beside the page),
//! so the one cookie holds the [`MAX_PENDING`] most recent, in at most [`MAX_COOKIE_VALUE`]
//! characters (browsers keep cookies up to 4 KB); the oldest are dropped first. One cookie with
//! a list, rather than a cookie per login: the ACS reads one known cookie, and logins in
//! flight can never crowd the site's other cookies out of the browser's jar. Two tabs starting
//! logins at the same instant both write the cookie, and the later write wins: that tab's
//! sibling then fails at the ACS and is started again.
//!
//! The return target is a relative path checked by [`sanitize_return_to`]: an open redirect
//! cannot be built from anything a request carries.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::login_seal::{LoginSeal, SealError};

/// How long a login may take at the IdP (MFA prompts included).
pub const PENDING_LOGIN_TTL: Duration = Duration::minutes(10);
/// Logins in flight kept in one browser.
pub const MAX_PENDING: usize = 8;
/// Longest return path kept: two logins with such paths still fit in [`MAX_COOKIE_VALUE`].
pub const MAX_RETURN_TO: usize = 1024;
/// Longest login cookie value written: with its name and attributes, under browsers' 4 KB.
pub const MAX_COOKIE_VALUE: usize = 3800;

/// One login in progress, as sealed in the login cookie.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    /// The RelayState sent with the AuthnRequest; names this entry.
    pub relay_state: String,
    /// The AuthnRequest ID; the Response's InResponseTo must equal it.
    pub request_id: String,
    /// Sanitized relative path to send the browser to after login.
    pub return_to: String,
    /// The IdP's configured name.
    pub idp: String,
    #[serde(with = "time::serde::timestamp")]
    pub expires: OffsetDateTime,
}

impl PendingLogin {
    /// A login of `idp` answering `request_id`, started at `now`, under a fresh RelayState.
    pub fn start(request_id: &str, return_to: &str, idp: &str, now: OffsetDateTime) -> Self {
        PendingLogin {
            relay_state: random_token(),
            request_id: request_id.to_string(),
            return_to: return_to.to_string(),
            idp: idp.to_string(),
            expires: now + PENDING_LOGIN_TTL,
        }
    }
}

/// 128 random bits, hex: RelayState tokens, log references.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A RelayState this gateway could have issued (32 lowercase hex digits). Anything else came
/// from an IdP-initiated login and names nothing here.
pub fn is_relay_token(value: &str) -> bool {
    value.len() == 32
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Keep `candidate` only if it is a plain relative path on this host: one leading `/`, no
/// `//`, no `\`, no scheme, no control characters. Anything else becomes `/`. Over
/// [`MAX_RETURN_TO`] bytes it loses its query (and fragment), and if still too long becomes `/`.
///
/// Browsers treat `//evil`, `/\evil` and `\/evil` as other hosts, and strip tabs and newlines
/// before parsing, so each of those is refused rather than repaired.
pub fn sanitize_return_to(candidate: &str) -> String {
    let ok = candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate.contains('\\')
        && !candidate.contains("//")
        && !candidate.chars().any(|c| c.is_control() || c == ' ')
        && !has_encoded_separator_prefix(candidate);
    if !ok {
        return "/".to_string();
    }
    if candidate.len() <= MAX_RETURN_TO {
        return candidate.to_string();
    }
    match candidate.split(['?', '#']).next() {
        Some(path) if path.len() <= MAX_RETURN_TO => path.to_string(),
        _ => "/".to_string(),
    }
}

/// `/%2F%2Fevil.com` or `/%5Cevil.com` decode to a protocol-relative URL in some frameworks
/// that decode a Location before following it; refuse encoded slashes and backslashes at the
/// start of the path.
fn has_encoded_separator_prefix(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let after = lower.trim_start_matches('/');
    after.starts_with("%2f")
        || after.starts_with("%5c")
        || lower.starts_with("/%09")
        || lower.starts_with("/%0a")
}

/// Why a RelayState names no login this browser started.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RelayStateError {
    #[error(
        "RelayState {relay_state} came without the login cookie (the login was started in another browser, or cookies are blocked)"
    )]
    NoCookie { relay_state: String },
    #[error("RelayState {relay_state}: the login cookie is refused: {reason}")]
    Unopenable {
        relay_state: String,
        reason: CookieReadError,
    },
    #[error(
        "RelayState {relay_state} names no login in this browser's cookie (already completed, started in another browser, or dropped for newer ones)"
    )]
    Unknown { relay_state: String },
    #[error("RelayState {relay_state}: the login expired at {expires}, now is {now}")]
    Expired {
        relay_state: String,
        expires: OffsetDateTime,
        now: OffsetDateTime,
    },
}

impl RelayStateError {
    /// Stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            RelayStateError::NoCookie { .. } => "relay_state_other_browser",
            RelayStateError::Unopenable { .. } => "login_cookie_refused",
            RelayStateError::Unknown { .. } => "relay_state_unknown",
            RelayStateError::Expired { .. } => "relay_state_expired",
        }
    }
}

/// Why a login cookie could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CookieReadError {
    #[error(transparent)]
    Seal(#[from] SealError),
    /// Only this deployment's keys seal, so this is a bug rather than an attack; it is refused
    /// all the same.
    #[error("it opened, but does not hold pending logins: {0}")]
    Content(String),
}

/// Why the logins in flight could not be written into a cookie.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CookieWriteError {
    #[error(
        "one pending login alone ({0} bytes) would make a login cookie over {MAX_COOKIE_VALUE} characters"
    )]
    TooLarge(usize),
    #[error("cannot encode the pending logins: {0}")]
    Encode(String),
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// The logins in flight of one browser: what its login cookie holds, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PendingLogins {
    entries: Vec<PendingLogin>,
}

impl PendingLogins {
    /// The logins in `cookie`, for the ACS: the cookie must be there and open.
    pub fn open(
        cookie: Option<&str>,
        seal: &LoginSeal,
        relay_state: &str,
    ) -> Result<Self, RelayStateError> {
        let shown = || relay_state.chars().take(64).collect::<String>();
        let Some(cookie) = cookie else {
            return Err(RelayStateError::NoCookie {
                relay_state: shown(),
            });
        };
        Self::read(cookie, seal).map_err(|reason| RelayStateError::Unopenable {
            relay_state: shown(),
            reason,
        })
    }

    /// The logins in `cookie`, for starting one more: a cookie that is absent or does not open
    /// (a key no longer configured, another deployment) counts as none, and is replaced.
    pub fn for_new_login(cookie: Option<&str>, seal: &LoginSeal) -> Self {
        cookie
            .and_then(|value| {
                Self::read(value, seal)
                    .inspect_err(|e| tracing::debug!("replacing a login cookie: {e}"))
                    .ok()
            })
            .unwrap_or_default()
    }

    fn read(cookie: &str, seal: &LoginSeal) -> Result<Self, CookieReadError> {
        let plaintext = seal.open(cookie)?;
        let mut entries: Vec<PendingLogin> = rmp_serde::from_slice(&plaintext)
            .map_err(|e| CookieReadError::Content(e.to_string()))?;
        let excess = entries.len().saturating_sub(MAX_PENDING);
        entries.drain(..excess);
        Ok(PendingLogins { entries })
    }

    /// Add `login` as the most recent; expired logins go, and the oldest beyond [`MAX_PENDING`].
    pub fn add(&mut self, login: PendingLogin, now: OffsetDateTime) {
        self.entries.retain(|e| e.expires > now);
        self.entries.push(login);
        let excess = self.entries.len().saturating_sub(MAX_PENDING);
        self.entries.drain(..excess);
    }

    /// Remove and return the login `relay_state` names, if it has not expired.
    pub fn take(
        &mut self,
        relay_state: &str,
        now: OffsetDateTime,
    ) -> Result<PendingLogin, RelayStateError> {
        let shown = || relay_state.chars().take(64).collect::<String>();
        let Some(at) = self
            .entries
            .iter()
            .position(|e| e.relay_state == relay_state)
        else {
            return Err(RelayStateError::Unknown {
                relay_state: shown(),
            });
        };
        let login = self.entries.remove(at);
        if login.expires <= now {
            return Err(RelayStateError::Expired {
                relay_state: shown(),
                expires: login.expires,
                now,
            });
        }
        Ok(login)
    }

    /// The cookie value holding these logins, or `None` when there are none left (the cookie
    /// is then removed). The oldest are dropped until the value fits [`MAX_COOKIE_VALUE`].
    pub fn to_cookie(
        &mut self,
        seal: &LoginSeal,
        now: OffsetDateTime,
    ) -> Result<Option<String>, CookieWriteError> {
        self.entries.retain(|e| e.expires > now);
        loop {
            if self.entries.is_empty() {
                return Ok(None);
            }
            let plaintext = rmp_serde::to_vec(&self.entries)
                .map_err(|e| CookieWriteError::Encode(e.to_string()))?;
            if LoginSeal::sealed_len(plaintext.len()) <= MAX_COOKIE_VALUE {
                return Ok(Some(seal.seal(&plaintext)?));
            }
            if self.entries.len() == 1 {
                return Err(CookieWriteError::TooLarge(plaintext.len()));
            }
            self.entries.remove(0);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests;
