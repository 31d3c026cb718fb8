//! The real gateway with one signed-in session, for `scripts/bench-proxy`: every benchmark
//! request carries the session cookie, so each one loads the session from the configured store
//! (memory or Redis), checks it and the route rules, and proxies with the identity headers.
//!
//! ```text
//! cargo run --release --example gateway_session -- 127.0.0.1:8082 http://127.0.0.1:9000 memory
//! cargo run --release --example gateway_session -- 127.0.0.1:8083 http://127.0.0.1:9000 redis://127.0.0.1:6379/0
//! ```
//!
//! It generates throwaway SP and IdP keys, signs in once with an IdP-initiated Response signed
//! by that IdP key (posted to its own ACS over loopback), prints `COOKIE name=value` on stdout
//! and keeps serving. Loopback benchmarks only.

use std::net::SocketAddr;
use std::process::ExitCode;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use samlgate::crypto::algorithms::{DigestAlgorithm, SignatureAlgorithm};
use samlgate::crypto::keygen::{generate_sp_credentials, self_signed_certificate};
use samlgate::gateway::{self, system_clock};
use samlgate::saml::issue::{ResponseSigner, ResponseSpec, SignParts};
use samlgate::saml::metadata::write_idp_metadata;
use samlgate::server::event_loops::{self, EventLoops};
use time::OffsetDateTime;

const IDP: &str = "https://idp.bench.invalid/saml";
const MAPPING: &str = r#"
[operator]
id = "NameID"

[attributes]
email = "mail"
name = "displayName"

[access]
groups = ["groups"]
default = "MyOrg:RestrictedReadOnly"
"#;

/// Route rules as a deployment would have them, so that every benchmark request is matched
/// against them (the benchmark's path falls under none and is allowed).
const ROUTES: &str = r#"
[[route]]
path = "/admin"
require_access_group = ["MyOrg:Administrators"]

[[route]]
path = "/reports"
require_any_group = ["staff", "auditors"]

[[route]]
path = "/healthcheck"
public = true
"#;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Serve as `samlgate serve` does (one event loop per core, see `gateway::event_loops`), sign in
/// once from another thread, print the cookie, keep serving.
fn run(listen: SocketAddr, backend: &str, store: &str) -> Result<(), String> {
    let loops = EventLoops::new(event_loops::default_count()).map_err(err)?;
    let dir = tempfile::tempdir().map_err(err)?;
    let listener = std::net::TcpListener::bind(listen)
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let (router, signed) = loops.block_on(build(listen, backend, store, dir.path()))?;
    let server = std::thread::spawn(move || {
        loops.serve(listener, router, samlgate::server::shutdown_signal())
    });
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(err)?;
    let cookie = client.block_on(sign_in(listen, signed))?;
    println!("COOKIE {cookie}");
    eprintln!("gateway_session: listening on {listen}, store {store}");
    match server.join() {
        Ok(result) => result.map_err(err),
        Err(_) => Err("the gateway thread panicked".into()),
    }
}

/// Write the configuration into `dir` and build the gateway; returns the gateway and a signed
/// IdP-initiated Response for the sign-in.
async fn build(
    listen: SocketAddr,
    backend: &str,
    store: &str,
    dir: &std::path::Path,
) -> Result<(gateway::Gateway, String), String> {
    let base = format!("http://{listen}");
    let sp_entity = format!("{base}/saml/metadata");
    let (sp_key, sp_cert) = generate_sp_credentials("bench SP", 2).map_err(err)?;
    let idp_key = PKey::from_rsa(Rsa::generate(2048).map_err(err)?).map_err(err)?;
    let idp_cert = self_signed_certificate(&idp_key, "bench IdP", 2).map_err(err)?;
    let metadata =
        write_idp_metadata(IDP, &idp_cert, "https://idp.bench.invalid/sso", false).map_err(err)?;
    let session = if store == "memory" {
        "store = \"memory\"".to_string()
    } else {
        format!("store = \"redis\"\nurl = \"{store}\"\nkey_prefix = \"bench:\"")
    };
    let config = format!(
        "[server]\nlisten = \"{listen}\"\npublic_url = \"{base}\"\n\n[sp]\nentity_id = \"{sp_entity}\"\nkey = \"sp.key\"\ncert = \"sp.crt\"\n\n[[idp]]\nname = \"bench\"\nmetadata = \"idp.xml\"\nmapping = \"mapping.toml\"\nallow_idp_initiated = true\n\n[session]\n{session}\n\n[backend]\nurl = \"{backend}\"\n{ROUTES}"
    );
    for (name, text) in [
        ("sp.key", sp_key.as_str()),
        ("sp.crt", sp_cert.as_str()),
        ("idp.xml", metadata.as_str()),
        ("mapping.toml", MAPPING),
        ("samlgate.toml", config.as_str()),
    ] {
        std::fs::write(dir.join(name), text).map_err(err)?;
    }
    let loaded = samlgate::config::load(&dir.join("samlgate.toml")).map_err(err)?;
    let (router, _state) = gateway::build(loaded.config, system_clock()).map_err(err)?;

    // Sign in once.
    let mut spec = ResponseSpec::new(
        IDP,
        &sp_entity,
        &format!("{base}/saml/acs"),
        "jmuller",
        OffsetDateTime::now_utc(),
    );
    spec.attributes = vec![
        ("mail".into(), vec!["jose.muller@example.com".into()]),
        ("displayName".into(), vec!["José Müller".into()]),
        ("groups".into(), vec!["staff".into(), "Sales, EMEA".into()]),
    ];
    let signer = ResponseSigner {
        key: &idp_key,
        certificate: Some(&idp_cert),
        signature_algorithm: SignatureAlgorithm::RsaSha256,
        digest_algorithm: DigestAlgorithm::Sha256,
    };
    let xml = signer.response(&spec, SignParts::Both).map_err(err)?;
    Ok((router, xml))
}

/// Post the signed Response to the ACS; returns the session cookie (`name=value`).
async fn sign_in(listen: SocketAddr, xml: String) -> Result<String, String> {
    let base = format!("http://{listen}");
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLResponse", &B64.encode(xml))
        .finish();
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = hyper::Request::post(format!("{base}/saml/acs"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form)))
        .map_err(err)?;
    let response = client.request(request).await.map_err(err)?;
    let status = response.status();
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with("samlgate_session="))
        .map(str::to_string);
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(err)?
        .to_bytes();
    let Some(cookie) = cookie else {
        return Err(format!(
            "sign-in failed ({status}): {}",
            String::from_utf8_lossy(&body)
        ));
    };
    Ok(cookie)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(listen), Some(backend), Some(store)) = (args.first(), args.get(1), args.get(2))
    else {
        eprintln!("usage: gateway_session <listen addr> <backend url> <memory|redis://...>");
        return ExitCode::from(2);
    };
    let Ok(listen) = listen.parse::<SocketAddr>() else {
        eprintln!("gateway_session: {listen:?} is not an address like 127.0.0.1:8082");
        return ExitCode::from(2);
    };
    match run(listen, backend, store) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gateway_session: {e}");
            ExitCode::FAILURE
        }
    }
}
