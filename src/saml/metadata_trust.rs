//! Whether a metadata document may be used: its enveloped signature checked with pinned
//! certificates (the same SAML-profile verifier as Responses: one Reference to the root's ID,
//! exclusive c14n, SHA-256 or better, keys only from the pinned certificates), and its validity
//! (`validUntil`, `cacheDuration`). Pure: the caller passes the bytes and the time.

use time::{Duration, OffsetDateTime};

use crate::crypto::dsig::{self, SignatureError};
use crate::crypto::keys::VerificationKey;
use crate::saml::metadata::{IdpMetadata, MetadataError, idp_in_document, parse_metadata_document};
use crate::saml::time::{format_instant, parse_instant};

/// How the document's origin was established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureStatus {
    /// The root's signature verified with this pinned certificate.
    Verified { key: String },
    /// No signing certificate is configured for this source: nothing was checked.
    NotChecked,
}

impl std::fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureStatus::Verified { key } => write!(f, "signature verified with {key}"),
            SignatureStatus::NotChecked => {
                f.write_str("signature not checked (no metadata_signing_cert)")
            }
        }
    }
}

/// One IdP out of a document that passed the checks.
#[derive(Clone, Debug)]
pub struct TrustedMetadata {
    pub idp: IdpMetadata,
    pub signature: SignatureStatus,
    /// The earliest `validUntil` of the root and the IdP's entity: after it, the copy is unusable.
    pub valid_until: Option<OffsetDateTime>,
    /// The root's (or entity's) `cacheDuration`: a hint for how soon to fetch again.
    pub cache_duration: Option<Duration>,
}

impl TrustedMetadata {
    /// Refused once `validUntil` has passed: expired metadata is never used.
    pub fn check_not_expired(
        &self,
        source_name: &str,
        now: OffsetDateTime,
    ) -> Result<(), MetadataTrustError> {
        match self.valid_until {
            Some(until) if until <= now => Err(MetadataTrustError::Expired {
                source_name: source_name.to_string(),
                valid_until: until,
                now,
            }),
            _ => Ok(()),
        }
    }
}

/// Why a metadata document is not used. A document refused here never replaces a good one.
#[derive(Debug, thiserror::Error)]
pub enum MetadataTrustError {
    #[error(transparent)]
    Read(#[from] MetadataError),
    #[error(
        "IdP metadata {source_name}: not signed, but metadata_signing_cert is configured: refused"
    )]
    Unsigned { source_name: String },
    #[error("IdP metadata {source_name}: signature refused: {error}")]
    BadSignature {
        source_name: String,
        error: SignatureError,
    },
    #[error(
        "IdP metadata {source_name}: expired (validUntil {}, now {}): refused",
        format_instant(*valid_until),
        format_instant(*now)
    )]
    Expired {
        source_name: String,
        valid_until: OffsetDateTime,
        now: OffsetDateTime,
    },
}

impl MetadataTrustError {
    /// Stable label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            MetadataTrustError::Read(_) => "unreadable",
            MetadataTrustError::Unsigned { .. } => "unsigned",
            MetadataTrustError::BadSignature { .. } => "bad_signature",
            MetadataTrustError::Expired { .. } => "expired",
        }
    }
}

/// Parse `xml`, check its signature with `pinned` (when any is configured: then a signature is
/// required) and pick the IdP (`entity_id` in an aggregate). Expiry is the caller's
/// [`TrustedMetadata::check_not_expired`]: a fetched copy is refused once expired, a file the
/// admin placed is warned about.
pub fn trust_metadata(
    xml: &[u8],
    source_name: &str,
    entity_id: Option<&str>,
    pinned: &[VerificationKey],
) -> Result<TrustedMetadata, MetadataTrustError> {
    let doc = parse_metadata_document(xml, source_name)?;
    let root = doc.root();
    let signature = if pinned.is_empty() {
        SignatureStatus::NotChecked
    } else {
        let bad = |error| MetadataTrustError::BadSignature {
            source_name: source_name.to_string(),
            error,
        };
        match dsig::signature_child(root) {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(MetadataTrustError::Unsigned {
                    source_name: source_name.to_string(),
                });
            }
            Err(e) => return Err(bad(e)),
        }
        let verified = dsig::verify(&doc, root, pinned, false).map_err(bad)?;
        SignatureStatus::Verified {
            key: verified.key_description,
        }
    };
    let idp = idp_in_document(&doc, source_name, entity_id)?;
    let root_until = root.attr("validUntil").and_then(parse_instant);
    let valid_until = match (root_until, idp.valid_until) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let cache_duration = root.attr("cacheDuration").and_then(parse_xs_duration);
    Ok(TrustedMetadata {
        idp,
        signature,
        valid_until,
        cache_duration,
    })
}

/// An `xs:duration` as metadata writes `cacheDuration` (`PT6H`, `P1D`, `P1DT30M`, `PT90.5S`).
/// Years count as 365 days and months as 30: it is only a hint for the refresh schedule.
/// `None` for anything else (negative, empty, malformed).
pub fn parse_xs_duration(text: &str) -> Option<Duration> {
    let rest = text.trim().strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut seconds = 0f64;
    let mut any = false;
    let mut take = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let scale = units.iter().find(|(u, _)| *u == c)?.1;
            let n: f64 = number.parse().ok()?;
            seconds += n * scale;
            number.clear();
            any = true;
        }
        number.is_empty().then_some(())
    };
    take(
        date,
        &[
            ('Y', 365.0 * 86400.0),
            ('M', 30.0 * 86400.0),
            ('W', 7.0 * 86400.0),
            ('D', 86400.0),
        ],
    )?;
    if let Some(t) = time {
        take(t, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    (any && seconds.is_finite() && seconds < 1e12).then(|| Duration::seconds_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_durations_as_federations_write_them() {
        assert_eq!(parse_xs_duration("PT6H"), Some(Duration::hours(6)));
        assert_eq!(parse_xs_duration("P1D"), Some(Duration::days(1)));
        assert_eq!(
            parse_xs_duration("P1DT30M"),
            Some(Duration::minutes(24 * 60 + 30))
        );
        assert_eq!(
            parse_xs_duration("PT90.5S"),
            Some(Duration::milliseconds(90_500))
        );
        for bad in ["", "P", "PT", "6H", "-PT6H", "PT6", "PXH", "P1H"] {
            assert_eq!(parse_xs_duration(bad), None, "{bad}");
        }
    }
}
