//! Every integration test in one binary: one module per concern (the file names say what each
//! covers), plus `support`, what they share (the test IdP, third-party peers, a gateway on
//! loopback, a private redis-server, tool lookup and free ports). One binary is linked once
//! instead of once per file, and linking is most of what a test build costs after a change to
//! the library; docs/testing.md has the catalogue and the tests that keep a process of their own.
//!
//!     cargo test --test it                      all of them
//!     cargo test --test it gateway_login::      one module
//!     cargo test --test it interop_matrix:: -- --nocapture   the interop table

mod support;

mod acs_adversarial;
mod acs_encrypted;
mod acs_pipeline;
mod c14n;
mod c14n_xmlsec1_awkward;
mod cli_check;
mod cli_verify;
mod config_reload;
mod config_secrets;
mod dsig_xmlsec_oracle;
mod edge_connections;
mod edge_paths;
mod edge_requests;
mod event_loops;
mod fuzz_smoke;
mod gateway_bindings;
mod gateway_config;
mod gateway_demo;
mod gateway_login;
mod gateway_metadata;
mod gateway_nginx;
mod gateway_slo;
mod gateway_websocket;
mod identity_token;
mod idp_metadata_sources;
mod idp_shapes;
mod interop_matrix;
mod interop_peers;
mod logs;
mod mapping_cli;
mod mapping_eval;
mod mapping_load;
mod mapping_props;
mod metadata;
mod oauth_bearer;
mod oauth_config;
mod oauth_introspection;
mod pages;
mod proxy_direct;
mod proxy_failures;
mod proxy_headers;
mod proxy_https_backend;
mod proxy_pool;
mod proxy_websocket;
mod redis_config;
mod redis_gateway;
mod redis_session_tracking;
mod redis_stores;
mod session_page;
mod slo_fuzz_smoke;
mod slo_peers;
mod tls_listener;
mod xml_parse;
mod xmlenc_interop;
mod xmlenc_keygen;
mod xmlenc_refusals;
mod xmlenc_roundtrip;
mod xmlenc_tampering;
mod xmlenc_xmlsec1;
