//! samlgate: a SAML 2.0 Service Provider that runs as a reverse proxy.
//!
//! Trust flows one way through the types: raw bytes -> [`xml::Document`] ->
//! [`saml::VerifiedAssertion`] -> [`mapping`] -> [`identity::Operator`] -> [`session`] and the
//! identity headers the [`proxy`] sends. Each module below may use only the modules listed after
//! it (`scripts/check-layers` keeps it so).
//!
//! The command line and the development setup:
//! - [`cli`]: every subcommand's arguments and I/O
//! - [`demo`]: the built-in development IdP and echo backend
//!
//! Serving:
//! - [`gateway`]: the HTTP handlers; its documentation follows one login
//! - [`server`]: event loops, connections, timeouts and the connection cap
//! - [`session`]: look up, establish and end sessions; the node's cache of them
//! - [`proxy`]: the reverse proxy (forwarding headers, hop-by-hop, bodies, upgrades, the pool)
//!
//! Deciding:
//! - [`config`]: the configuration model and its validation
//! - [`routes`]: the one reading of a request path, and the per-path rules
//! - [`mapping`]: attributes -> operator and access group
//! - [`identity`]: the one identity type and the header contract
//! - [`saml`]: metadata, AuthnRequests, Response validation (the trust core)
//! - [`crypto`]: the SAML profile of XML-DSig and XML-Enc over OpenSSL
//! - [`xml`]: the strict parser, exclusive c14n, the escaper
//!
//! Keeping and telling:
//! - [`store`]: replay cache, session index and sessions, in memory or Redis
//! - [`ops`]: metrics, logging, the audit line, the clock

#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod crypto;
#[cfg(feature = "demo")]
pub mod demo;
pub mod gateway;
pub mod identity;
pub mod mapping;
pub mod oauth;
pub mod ops;
pub mod proxy;
pub mod routes;
pub mod saml;
pub mod server;
pub mod session;
pub mod store;
pub mod text;
pub mod xml;
