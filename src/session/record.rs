//! A signed-in session as the store keeps it, and when it ends.
//!
//! A session ends at the earliest of: the absolute timeout after login, the IdP's
//! SessionNotOnOrAfter, and the idle timeout after the last request. The decision is the pure
//! [`check`] with an injected clock; the store's own expiry is only garbage collection.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::identity::Operator;

/// Key of the record inside the tower-sessions session.
pub(crate) const RECORD_KEY: &str = "samlgate.login";
/// `last_seen` is written back at most this often, so a busy page does not write the store
/// on every request; the idle timeout is therefore exact to within this interval.
pub const TOUCH_INTERVAL: Duration = Duration::seconds(60);

/// A logged-in session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub identity: Operator,
    /// The IdP's configured name.
    pub idp: String,
    pub idp_entity_id: String,
    pub name_id: String,
    pub session_index: Option<String>,
    /// The NameID's Format and qualifiers as the IdP sent them (they are part of its identity
    /// in SAML), for the LogoutRequest at sign-out. Absent in records written before single
    /// logout, and when the NameID had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_id_details: Option<NameIdDetails>,
    #[serde(with = "time::serde::timestamp")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::timestamp")]
    pub last_seen: OffsetDateTime,
    /// min(created + absolute timeout, SessionNotOnOrAfter).
    #[serde(with = "time::serde::timestamp")]
    pub not_after: OffsetDateTime,
    /// For the session page (`None` unless it is on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Box<LoginDetails>>,
}

/// What the session page shows beyond the identity: kept in the record only with
/// `[server] session_page = true`, so that without it a session costs nothing more.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginDetails {
    /// The Assertion's attributes as received: name, values.
    pub attributes: Vec<(String, Vec<String>)>,
    pub name_id_format: Option<String>,
    /// The mapping rule that chose the access group, in the words of `samlgate mapping test`.
    pub matched_rule: String,
}

/// A NameID's Format, NameQualifier and SPNameQualifier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameIdDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_qualifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_name_qualifier: Option<String>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn record(created: OffsetDateTime, not_after: OffsetDateTime) -> SessionRecord {
        SessionRecord {
            identity: Operator::default(),
            idp: "corp".into(),
            idp_entity_id: "https://idp".into(),
            name_id: "n".into(),
            session_index: None,
            name_id_details: None,
            created,
            last_seen: created,
            not_after,
            details: None,
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
