//! The identity mapping table: VerifiedAssertion -> operator and access group (to be written).
