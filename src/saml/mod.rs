//! SAML 2.0 Web Browser SSO, SP side: metadata in and out, requests out, responses in.

pub mod assertion;
pub mod issue;
pub mod key_set;
pub mod logout;
pub mod metadata;
pub mod metadata_trust;
pub mod not_metadata;
pub mod policy;
pub mod rejection;
pub mod request;
pub mod response;
pub mod sp_metadata;
pub mod time;

pub use assertion::{Claims, NameId, SamlAttribute, SignedParts, VerifiedAssertion};
pub use policy::{ExpectedRequest, IdpPolicy, SpIdentity};
pub use rejection::Rejection;
