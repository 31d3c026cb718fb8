//! Exclusive XML Canonicalization 1.0 (to be written).
