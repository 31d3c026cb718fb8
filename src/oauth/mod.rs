//! OAuth 2.0 bearer access tokens (API clients): a JWT access token from a configured
//! `[[oauth]]` issuer becomes the same `identity::Operator` a SAML login does, through the
//! issuer's mapping table (claims are the attributes, `sub` the NameID).
//!
//! Read in this order:
//! - [`authorization`]: the `Authorization: Bearer` header and the RFC 6750 challenge;
//! - [`compact`]: the token taken apart (strict base64url and JSON, nothing trusted yet);
//! - [`validate`]: the checks, pure (clock and keys given), each refusal a [`TokenRejection`]
//!   naming the check and the values compared;
//! - [`claims`]: claims -> the mapping's attributes, and the scopes granted;
//! - [`jwks`]: an issuer's key set -> openssl public keys;
//! - the I/O shell: [`fetch`] (discovery and key set over HTTPS), [`key_cache`] (refresh
//!   on schedule, one refetch on an unknown `kid` per issuer per 10 s), [`introspect`] (opaque
//!   tokens, RFC 7662, with the gateway's client authentication), [`bearer`] (the
//!   authenticator the gateway holds, with its caches keyed by the whole token's hash).
//!
//! The JWS signature algorithms themselves are `crypto::jws`.

pub mod authorization;
pub mod bearer;
pub mod claims;
pub mod compact;
pub mod fetch;
pub mod introspect;
pub mod jwks;
pub mod key_cache;
pub mod rejection;
pub mod validate;

pub use bearer::{Authenticated, Bearer, BearerError};
pub use rejection::TokenRejection;
pub use validate::VerifiedToken;
