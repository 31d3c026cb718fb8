//! The ACS pipeline: SAMLResponse bytes -> VerifiedAssertion (to be written).
