//! IdP policy and SP identity: plain data, built from configuration and passed into the
//! pipeline. Nothing in the verifier has a hidden default of its own.

use time::Duration;

use crate::crypto::decrypt::EncryptionPolicy;
use crate::crypto::keys::{DecryptionKey, VerificationKey};

/// The largest clock skew an admin may configure (docs/security.md: default 180 s, at most 300 s).
pub const MAX_CLOCK_SKEW: Duration = Duration::seconds(300);
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::seconds(180);
/// How old a Response's or Assertion's IssueInstant may be (beyond the skew).
pub const DEFAULT_MAX_ISSUE_AGE: Duration = Duration::minutes(10);

/// Per-IdP settings: keys, skew, algorithms, signing requirements.
#[derive(Clone, Debug)]
pub struct IdpPolicy {
    /// The IdP's entityID; the Issuer of every Response and Assertion must equal it.
    pub entity_id: String,
    /// Signing keys from the IdP's metadata (several during rollover). Never empty in a running
    /// gateway: configuration refuses an IdP without one.
    pub signing_keys: Vec<VerificationKey>,
    pub clock_skew: Duration,
    pub max_issue_age: Duration,
    /// RSA-SHA1 / SHA-1 digests: off unless the admin opts in for a legacy IdP.
    pub allow_sha1: bool,
    /// The Assertion itself must carry a valid signature (a signed Response alone is not enough).
    pub require_signed_assertion: bool,
    /// The Response must carry a valid signature.
    pub require_signed_response: bool,
    /// AES-CBC content encryption (Okta, ADFS); accepted only when a signature covers the
    /// Assertion (docs/security.md "Encryption").
    pub allow_cbc: bool,
    /// 3DES content encryption; off unless the admin opts in.
    pub allow_3des: bool,
}

impl IdpPolicy {
    /// A policy with docs/security.md's defaults for the given IdP and keys.
    pub fn new(entity_id: impl Into<String>, signing_keys: Vec<VerificationKey>) -> Self {
        IdpPolicy {
            entity_id: entity_id.into(),
            signing_keys,
            clock_skew: DEFAULT_CLOCK_SKEW,
            max_issue_age: DEFAULT_MAX_ISSUE_AGE,
            allow_sha1: false,
            require_signed_assertion: false,
            require_signed_response: false,
            allow_cbc: true,
            allow_3des: false,
        }
    }

    /// What the decryptor may accept from this IdP: its content-cipher settings, the rest
    /// the decryptor's defaults.
    pub fn encryption_policy(&self) -> EncryptionPolicy {
        EncryptionPolicy {
            allow_cbc: self.allow_cbc,
            allow_3des: self.allow_3des,
            ..EncryptionPolicy::default()
        }
    }
}

/// Who we are, as the IdP sees us.
#[derive(Clone, Debug)]
pub struct SpIdentity {
    pub entity_id: String,
    /// The exact ACS URL; Destination and Recipient must equal it.
    pub acs_url: String,
    /// SP private keys for decrypting (current first, then older ones during rollover).
    pub decryption_keys: Vec<DecryptionKey>,
}

/// What the caller knows about the request this Response should answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedRequest<'a> {
    /// SP-initiated: the ID of the AuthnRequest we sent, bound to this browser.
    Solicited(&'a str),
    /// IdP-initiated login (a per-IdP opt-in): `InResponseTo` must be absent.
    Unsolicited,
    /// `samlgate verify` without `--request-id`: InResponseTo is not compared; every other
    /// check still runs. Never used by the gateway.
    NotChecked,
}
