//! Login sessions: the cookie holds only the session ID (tower-sessions); the identity lives
//! server-side in a [`SessionRecord`].
//!
//! A session ends at the earliest of: the absolute timeout after login, the IdP's
//! SessionNotOnOrAfter, and the idle timeout after the last request. The decision is the pure
//! [`check`] with an injected clock; the store's own expiry is only garbage collection.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use tower_sessions::{Expiry, Session};

use super::session_cache::{SessionCache, SignedIn};
use super::shared_text::{Groups, Text};

/// Key of the record inside the tower-sessions session.
pub(crate) const RECORD_KEY: &str = "samlgate.login";
/// `last_seen` is written back at most this often, so a busy page does not write the store
/// on every request; the idle timeout is therefore exact to within this interval.
pub const TOUCH_INTERVAL: Duration = Duration::seconds(60);

/// What the backend is told about the operator (the header contract's source), as kept in
/// the session store. A node holds one per signed-in session, so its strings are shared rather
/// than copied (see `shared_text`); it serializes as plain strings and lists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionIdentity {
    /// Stable operator ID (the mapping's `operator_id`).
    pub user: Text,
    pub email: Option<Text>,
    pub preferred_username: Option<Text>,
    pub name: Option<Text>,
    pub access_group: String,
    pub groups: Groups,
    /// Extra headers the mapping table forwards: (header name, value).
    pub extra: Vec<(String, String)>,
}

/// A logged-in session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub identity: SessionIdentity,
    /// The IdP's configured name.
    pub idp: String,
    pub idp_entity_id: String,
    pub name_id: String,
    pub session_index: Option<String>,
    #[serde(with = "time::serde::timestamp")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::timestamp")]
    pub last_seen: OffsetDateTime,
    /// min(created + absolute timeout, SessionNotOnOrAfter).
    #[serde(with = "time::serde::timestamp")]
    pub not_after: OffsetDateTime,
}

/// Why a session is no longer valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expired {
    /// Absolute timeout or the IdP's SessionNotOnOrAfter.
    Lifetime,
    Idle,
}

impl Expired {
    pub fn kind(self) -> &'static str {
        match self {
            Expired::Lifetime => "lifetime",
            Expired::Idle => "idle",
        }
    }
}

/// Is `record` still valid at `now`?
pub fn check(
    record: &SessionRecord,
    now: OffsetDateTime,
    idle_timeout: Duration,
) -> Result<(), Expired> {
    check_times(record.not_after, record.last_seen, now, idle_timeout)
}

/// [`check`] on the two instants it compares (the session cache keeps only those).
pub fn check_times(
    not_after: OffsetDateTime,
    last_seen: OffsetDateTime,
    now: OffsetDateTime,
    idle_timeout: Duration,
) -> Result<(), Expired> {
    if now >= not_after {
        return Err(Expired::Lifetime);
    }
    if now - last_seen >= idle_timeout {
        return Err(Expired::Idle);
    }
    Ok(())
}

/// The end of a session that starts at `now`.
pub fn not_after(
    now: OffsetDateTime,
    absolute_timeout: Duration,
    idp_bound: Option<OffsetDateTime>,
) -> OffsetDateTime {
    let own = now + absolute_timeout;
    match idp_bound {
        Some(b) if b < own => b,
        _ => own,
    }
}

/// What the session cookie led to.
#[derive(Debug)]
pub enum Lookup {
    Valid(Box<SessionRecord>),
    Expired(Expired),
    None,
}

/// The session store failed; callers answer 503, never "logged in".
#[derive(Debug, thiserror::Error)]
#[error("session store: {0}")]
pub struct SessionStoreError(String);

impl From<tower_sessions::session::Error> for SessionStoreError {
    fn from(e: tower_sessions::session::Error) -> Self {
        SessionStoreError(e.to_string())
    }
}

/// Load and check the current session; an expired one is deleted.
pub async fn current(
    session: &Session,
    now: OffsetDateTime,
    idle_timeout: Duration,
) -> Result<Lookup, SessionStoreError> {
    let Some(mut record) = session.get::<SessionRecord>(RECORD_KEY).await? else {
        return Ok(Lookup::None);
    };
    if let Err(why) = check(&record, now, idle_timeout) {
        session.flush().await?;
        return Ok(Lookup::Expired(why));
    }
    if now - record.last_seen >= TOUCH_INTERVAL {
        record.last_seen = now;
        session.insert(RECORD_KEY, &record).await?;
        // The session layer would otherwise save the touched record with its default lifetime
        // (two weeks), long after the session itself ends: keep the store's expiry the
        // session's end, as at login.
        session.set_expiry(Some(Expiry::AtDateTime(record.not_after)));
    }
    Ok(Lookup::Valid(Box::new(record)))
}

/// Start a logged-in session under a NEW session ID: whatever ID the browser brought (an
/// attacker may have planted one) is deleted, so session fixation cannot work.
pub async fn establish(
    session: &Session,
    record: &SessionRecord,
    cache: &SessionCache,
) -> Result<(), SessionStoreError> {
    if let Some(old) = session.id() {
        cache.remove(&old);
    }
    session.clear().await;
    session.cycle_id().await?;
    session.insert(RECORD_KEY, record).await?;
    session.set_expiry(Some(Expiry::AtDateTime(record.not_after)));
    session.save().await?;
    Ok(())
}

/// End the session and delete it from the store.
pub async fn end(
    session: &Session,
    cache: &SessionCache,
) -> Result<Option<SessionRecord>, SessionStoreError> {
    if let Some(id) = session.id() {
        cache.remove(&id);
    }
    let record = session.get::<SessionRecord>(RECORD_KEY).await?;
    session.flush().await?;
    Ok(record)
}

/// Whether [`identity_of`] looks in the session cache before the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheLookup {
    Consult,
    /// The caller just did (the gate's fast path) and missed: go to the store.
    AlreadyMissed,
}

/// The identity of the request's session, if it has a valid one. An expired session is counted
/// by reason and treated as none; a store failure is `Err` (the caller answers 503, never
/// treating an unreachable store as "signed in" or silently as "signed out").
pub async fn identity_of(
    state: &super::state::AppState,
    session: &Session,
    cache: CacheLookup,
) -> Result<Option<Arc<SignedIn>>, SessionStoreError> {
    let now = state.now();
    let idle_timeout = state.config.session.idle_timeout;
    let id = session.id();
    // With Redis the cache is read only once in step with it (one shared round trip).
    if cache == CacheLookup::Consult
        && let Some(id) = id
        && let Some(in_step) = state.session_cache_in_step().await
        && let Some(hit) = in_step.get(&id, now, idle_timeout)
    {
        return Ok(Some(hit));
    }
    let cache = &state.session_cache;
    let ticket = cache.ticket();
    match current(session, now, idle_timeout).await? {
        Lookup::Valid(record) => {
            let signed_in = Arc::new(SignedIn::new(&record, &state.config.headers));
            if let Some(id) = id {
                cache.insert(id, Arc::clone(&signed_in), ticket, now, idle_timeout);
            }
            Ok(Some(signed_in))
        }
        Lookup::Expired(why) => {
            if let Some(id) = id {
                cache.remove(&id);
            }
            state
                .metrics
                .inc("samlgate_sessions_expired_total", &[("reason", why.kind())]);
            Ok(None)
        }
        Lookup::None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn record(created: OffsetDateTime, not_after: OffsetDateTime) -> SessionRecord {
        SessionRecord {
            identity: SessionIdentity::default(),
            idp: "corp".into(),
            idp_entity_id: "https://idp".into(),
            name_id: "n".into(),
            session_index: None,
            created,
            last_seen: created,
            not_after,
        }
    }

    #[test]
    fn session_ends_at_the_idp_bound_when_it_is_earlier() {
        let now = datetime!(2026-05-23 09:00 UTC);
        let idp = datetime!(2026-05-23 10:00 UTC);
        assert_eq!(not_after(now, Duration::hours(8), Some(idp)), idp);
        assert_eq!(
            not_after(now, Duration::hours(8), None),
            datetime!(2026-05-23 17:00 UTC)
        );
        assert_eq!(
            not_after(
                now,
                Duration::hours(8),
                Some(datetime!(2026-05-24 09:00 UTC))
            ),
            datetime!(2026-05-23 17:00 UTC)
        );
    }

    #[test]
    fn session_expires_on_lifetime_and_on_idleness() {
        let t0 = datetime!(2026-05-23 09:00 UTC);
        let r = record(t0, t0 + Duration::hours(8));
        let idle = Duration::minutes(30);
        assert_eq!(check(&r, t0 + Duration::minutes(29), idle), Ok(()));
        assert_eq!(
            check(&r, t0 + Duration::minutes(30), idle),
            Err(Expired::Idle)
        );
        let mut busy = r.clone();
        busy.last_seen = t0 + Duration::hours(8) - Duration::minutes(1);
        assert_eq!(
            check(&busy, t0 + Duration::hours(8), idle),
            Err(Expired::Lifetime)
        );
    }
}
