//! Every check a refused Response fails, not only the first: after a failure, the check is set
//! aside (the clock moved into the Response's window, the audience or ACS URL taken as found,
//! the key carried in the Response tried) and the Response validated again, until it passes or a
//! failure cannot be set aside. Setting aside is for the report only: the verdict stays the first
//! rejection, and a key found in the Response is never trusted, only named.

use time::Duration;

use crate::crypto::SignatureError;
use crate::crypto::keys::VerificationKey;
use crate::saml::Rejection;
use crate::saml::policy::ExpectedRequest;
use crate::saml::rejection::{ConditionFailure, PolicyFailure};
use crate::saml::response::validate_xml;

use super::Prepared;

/// A failed check and what to do about it.
pub struct Failure {
    pub rejection: Rejection,
    pub fix: Vec<String>,
}

/// At most this many rounds: every round sets one more check aside.
const MAX_ROUNDS: usize = 10;

pub fn every_failure(
    first: Rejection,
    xml: &[u8],
    p: &Prepared,
    expected: ExpectedRequest<'_>,
) -> Vec<Failure> {
    let mut policy = p.policy.clone();
    let mut sp = p.sp.clone();
    let mut now = p.now;
    let mut expected = expected;
    let mut failures: Vec<Failure> = Vec::new();
    let mut next = Some(first);
    while let Some(rejection) = next.take() {
        if failures.len() >= MAX_ROUNDS
            || failures
                .iter()
                .any(|f| f.rejection.kind() == rejection.kind())
        {
            break;
        }
        let fix = fix_for(&rejection, xml, &policy.signing_keys, p.now_given);
        let set_aside = match &rejection {
            Rejection::Conditions(c) => match c {
                ConditionFailure::NotYetValid { not_before, .. } => {
                    now = *not_before + Duration::seconds(1);
                    true
                }
                ConditionFailure::Expired {
                    not_on_or_after, ..
                } => {
                    now = *not_on_or_after - Duration::seconds(1);
                    true
                }
                ConditionFailure::IssuedInFuture { issue_instant, .. }
                | ConditionFailure::IssuedTooLongAgo { issue_instant, .. } => {
                    now = *issue_instant + Duration::seconds(1);
                    true
                }
                ConditionFailure::AudienceMismatch { found, .. } => {
                    sp.entity_id = found.clone();
                    true
                }
                // Only a URL that is there can stand in for the ACS URL: an absent Recipient
                // (written "(none)") would make every later Destination check fail too.
                ConditionFailure::DestinationMismatch { found, .. }
                | ConditionFailure::RecipientMismatch { found, .. }
                    if url::Url::parse(found).is_ok() =>
                {
                    sp.acs_url = found.clone();
                    true
                }
                ConditionFailure::InResponseToMismatch { .. }
                | ConditionFailure::UnsolicitedWithInResponseTo { .. } => {
                    expected = ExpectedRequest::NotChecked;
                    true
                }
                _ => false,
            },
            Rejection::Policy(PolicyFailure::IssuerMismatch { found, .. }) => {
                policy.entity_id = found.clone();
                true
            }
            Rejection::Policy(PolicyFailure::AssertionNotSigned) => {
                policy.require_signed_assertion = false;
                true
            }
            Rejection::Policy(PolicyFailure::ResponseNotSigned) => {
                policy.require_signed_response = false;
                true
            }
            Rejection::Signature(SignatureError::Algorithm(_)) if !policy.allow_sha1 => {
                policy.allow_sha1 = true;
                true
            }
            Rejection::Signature(
                SignatureError::NoKeyVerified { .. } | SignatureError::Invalid { .. },
            ) => match embedded_key(xml) {
                Some(key) => {
                    policy.signing_keys.push(key);
                    true
                }
                None => false,
            },
            _ => false,
        };
        failures.push(Failure { rejection, fix });
        if set_aside {
            next = validate_xml(xml, &policy, &sp, expected, now).err();
        }
    }
    failures
}

/// The first certificate the Response carries (`ds:X509Certificate`), as a key: a hint of who
/// signed, never trusted.
fn embedded_key(xml: &[u8]) -> Option<VerificationKey> {
    let text = std::str::from_utf8(xml).ok()?;
    let start = text.find("X509Certificate>")? + "X509Certificate>".len();
    let rest = text.get(start..)?;
    let b64 = rest.get(..rest.find('<')?)?;
    VerificationKey::from_base64_certificate(b64, "the certificate inside the Response").ok()
}

/// The Response's `IssueInstant` as written (the first one in the document is the Response's).
fn issue_instant(xml: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(xml).ok()?;
    let start = text.find("IssueInstant=\"")? + "IssueInstant=\"".len();
    let rest = text.get(start..)?;
    let value = rest.get(..rest.find('"')?)?;
    (!value.is_empty() && value.len() < 64).then(|| value.to_string())
}

fn sha256_of(key: &VerificationKey) -> Option<String> {
    let cert = key.certificate.as_ref()?;
    cert.digest(openssl::hash::MessageDigest::sha256())
        .ok()
        .map(|d| crate::crypto::keys::hex_colon(&d))
}

/// What to do about `rejection`, in the words of the README's table.
fn fix_for(
    rejection: &Rejection,
    xml: &[u8],
    trusted: &[VerificationKey],
    now_given: bool,
) -> Vec<String> {
    let clock = |what: &str| {
        let mut lines = vec![format!(
            "fix: {what}; if the clocks of the IdP and this machine differ, fix NTP (clock_skew allows at most 300 s)"
        )];
        if !now_given && let Some(issued) = issue_instant(xml) {
            lines.push(format!(
                "hint: a Response captured earlier can be checked as of the time it was issued: --now {issued}"
            ));
        }
        lines
    };
    match rejection {
        Rejection::Conditions(c) => match c {
            ConditionFailure::NotYetValid { .. } | ConditionFailure::IssuedInFuture { .. } => {
                clock("the Response is from the future as this machine's clock reads it")
            }
            ConditionFailure::Expired { .. } | ConditionFailure::IssuedTooLongAgo { .. } => {
                clock("the Response is too old to be accepted now")
            }
            ConditionFailure::AudienceMismatch { .. } => vec![
                "fix: the Identifier/Entity ID at the IdP must equal [sp] entity_id character for character".into(),
            ],
            ConditionFailure::DestinationMismatch { .. }
            | ConditionFailure::DestinationMissing { .. }
            | ConditionFailure::RecipientMismatch { .. } => vec![
                "fix: the Reply/ACS URL at the IdP must equal public_url + /saml/acs (scheme, host, port, no trailing slash)".into(),
            ],
            ConditionFailure::InResponseToMismatch { .. }
            | ConditionFailure::UnsolicitedWithInResponseTo { .. } => vec![
                "fix: give --request-id the ID of the AuthnRequest this Response answers, or leave it out".into(),
            ],
            ConditionFailure::NoValidSubjectConfirmation { .. } => vec![
                "fix: the IdP must send a bearer SubjectConfirmation whose Recipient is the ACS URL and whose NotOnOrAfter is still ahead".into(),
            ],
        },
        Rejection::Policy(p) => vec![match p {
            PolicyFailure::IssuerMismatch { .. } => {
                "fix: the [[idp]] metadata belongs to another IdP or tenant".into()
            }
            PolicyFailure::Unsigned
            | PolicyFailure::AssertionNotSigned
            | PolicyFailure::ResponseNotSigned => {
                "fix: turn on assertion or response signing at the IdP (or relax require_signed_* for this IdP)".into()
            }
            PolicyFailure::StatusNotSuccess { .. } => {
                "fix: the IdP refused the sign-in: for 'not assigned', assign the user or group to the application at the IdP".into()
            }
            _ => "fix: see the IdP's settings for this application".into(),
        }],
        Rejection::Signature(SignatureError::Algorithm(_)) => vec![
            "fix: configure the IdP to sign with SHA-256 (allow_sha1 = true accepts SHA-1 from legacy IdPs)".into(),
        ],
        Rejection::Signature(
            SignatureError::NoKeyVerified { .. } | SignatureError::Invalid { .. },
        ) => {
            let embedded = embedded_key(xml);
            let known = |k: &VerificationKey| {
                let fp = sha256_of(k);
                fp.is_some() && trusted.iter().any(|t| sha256_of(t) == fp)
            };
            match embedded {
                Some(key) if !known(&key) => vec![
                    format!(
                        "hint: the Response carries a certificate that is not in the metadata: SHA-256 {} (named only; it is never trusted)",
                        sha256_of(&key).unwrap_or_default()
                    ),
                    "fix: if the IdP rotated its signing key, fetch its metadata again; if it did not, someone else signed this Response".into(),
                ],
                _ => vec![
                    "fix: the signature does not match the metadata's key: the message was changed after signing (copied with a change?), or the IdP signs with a key its metadata does not list: fetch the metadata again".into(),
                ],
            }
        }
        Rejection::Signature(SignatureError::DigestMismatch { .. }) => vec![
            "fix: the signed content was changed after signing: capture the Response again, unchanged".into(),
        ],
        Rejection::Decryption(_) => vec![
            "fix: the IdP encrypts to an old SP certificate, or with RSA1_5: import samlgate's metadata at the IdP again (and give --sp-key or --config)".into(),
        ],
        Rejection::Malformed(_) | Rejection::Signature(_) | Rejection::Replay(_) => Vec::new(),
    }
}
