//! samlgate: a SAML 2.0 Service Provider that runs as a reverse proxy.
//!
//! Trust flows one way through the types: raw bytes -> [`xml::Document`] ->
//! [`saml::VerifiedAssertion`] -> [`mapping`] operator -> gateway session and headers.

pub mod cli;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod gateway;
pub mod identity;
pub mod mapping;
pub mod ops;
pub mod saml;
pub mod store;
pub mod text;
pub mod xml;
