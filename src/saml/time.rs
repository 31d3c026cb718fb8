//! xs:dateTime as SAML uses it (UTC, optional fractional seconds).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Parse a SAML time value. SAML requires UTC with a `Z`; offsets are accepted as RFC 3339 allows.
pub fn parse_instant(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value.trim(), &Rfc3339).ok()
}

/// A time for a log line, as precisely as it was written (RFC 3339: fractional seconds kept), so
/// that a refusal shows the values the check compared.
pub fn format_precise(t: &OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Format a time as SAML writes it: `2026-05-23T09:14:20Z`.
pub fn format_instant(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
