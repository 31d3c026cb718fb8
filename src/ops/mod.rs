//! Operations: metrics, health, audit log, diagnostics (to be written).
