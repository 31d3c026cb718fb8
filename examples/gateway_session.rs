//! The real gateway with one signed-in session, for `scripts/bench-proxy`: every benchmark
//! request carries the session cookie, so each one loads the session from the configured store
//! (memory or Redis), checks it and the route rules, and proxies with the identity headers.
//!
//! ```text
//! cargo run --release --example gateway_session -- 127.0.0.1:8082 http://127.0.0.1:9000 memory
//! cargo run --release --example gateway_session -- 127.0.0.1:8083 http://127.0.0.1:9000 redis://127.0.0.1:6379/0
//! cargo run --release --example gateway_session -- 127.0.0.1:8084 http://127.0.0.1:9000 memory tls
//! cargo run --release --example gateway_session -- 127.0.0.1:8085 http://127.0.0.1:9000 memory token
//! ```
//!
//! With `tls` the gateway terminates TLS with a throwaway certificate for 127.0.0.1 (written as
//! `CERT <path>` on stdout, for clients that verify it) and signs in over TLS. With `token` it
//! also sends the signed identity token (`[identity_token]`, ES256, a throwaway key).
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
fn run(
    listen: SocketAddr,
    backend: &str,
    store: &str,
    tls: bool,
    token: bool,
) -> Result<(), String> {
    let loops = EventLoops::new(event_loops::default_count()).map_err(err)?;
    let dir = tempfile::tempdir().map_err(err)?;
    let listener = std::net::TcpListener::bind(listen)
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let (router, signed) = loops.block_on(build(listen, backend, store, dir.path(), tls, token))?;
    let server = std::thread::spawn(move || {
        loops.serve(listener, router, samlgate::server::shutdown_signal())
    });
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(err)?;
    let cookie = if tls {
        let pem = std::fs::read(dir.path().join("tls.crt")).map_err(err)?;
        println!("CERT {}", dir.path().join("tls.crt").display());
        client.block_on(sign_in_over_tls(listen, signed, &pem))?
    } else {
        client.block_on(sign_in(listen, signed))?
    };
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
    tls: bool,
    token: bool,
) -> Result<(gateway::Gateway, String), String> {
    let base = if tls {
        format!("https://{listen}")
    } else {
        format!("http://{listen}")
    };
    let tls_lines = if tls {
        write_tls_pair(dir, listen)?;
        "tls_cert = \"tls.crt\"\ntls_key = \"tls.key\"\n"
    } else {
        ""
    };
    let token_lines = if token {
        let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1)
            .map_err(err)?;
        let key =
            PKey::from_ec_key(openssl::ec::EcKey::generate(&group).map_err(err)?).map_err(err)?;
        std::fs::write(
            dir.join("token.key"),
            key.private_key_to_pem_pkcs8().map_err(err)?,
        )
        .map_err(err)?;
        "\n[identity_token]\nenabled = true\nkey = \"token.key\"\naudience = \"bench\"\n"
    } else {
        ""
    };
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
        "[server]\nlisten = \"{listen}\"\npublic_url = \"{base}\"\n{tls_lines}\n[sp]\nentity_id = \"{sp_entity}\"\nkey = \"sp.key\"\ncert = \"sp.crt\"\n\n[[idp]]\nname = \"bench\"\nmetadata = \"idp.xml\"\nmapping = \"mapping.toml\"\nallow_idp_initiated = true\n\n[session]\n{session}\n\n[backend]\nurl = \"{backend}\"\n{ROUTES}{token_lines}"
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

/// A throwaway P-256 key and a self-signed certificate for the listen address, as `tls.key`
/// and `tls.crt` in `dir`.
fn write_tls_pair(dir: &std::path::Path, listen: SocketAddr) -> Result<(), String> {
    use openssl::asn1::Asn1Time;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::x509::extension::SubjectAlternativeName;
    use openssl::x509::{X509Builder, X509NameBuilder};
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(err)?;
    let key = PKey::from_ec_key(EcKey::generate(&group).map_err(err)?).map_err(err)?;
    let mut name = X509NameBuilder::new().map_err(err)?;
    name.append_entry_by_text("CN", "bench").map_err(err)?;
    let name = name.build();
    let mut cert = X509Builder::new().map_err(err)?;
    cert.set_version(2).map_err(err)?;
    cert.set_subject_name(&name).map_err(err)?;
    cert.set_issuer_name(&name).map_err(err)?;
    cert.set_pubkey(&key).map_err(err)?;
    let (from, until) = (
        Asn1Time::days_from_now(0).map_err(err)?,
        Asn1Time::days_from_now(2).map_err(err)?,
    );
    cert.set_not_before(&from).map_err(err)?;
    cert.set_not_after(&until).map_err(err)?;
    let san = SubjectAlternativeName::new()
        .ip(&listen.ip().to_string())
        .build(&cert.x509v3_context(None, None))
        .map_err(err)?;
    cert.append_extension(san).map_err(err)?;
    cert.sign(&key, MessageDigest::sha256()).map_err(err)?;
    let cert = cert.build();
    std::fs::write(dir.join("tls.crt"), cert.to_pem().map_err(err)?).map_err(err)?;
    std::fs::write(
        dir.join("tls.key"),
        key.private_key_to_pem_pkcs8().map_err(err)?,
    )
    .map_err(err)
}

/// [`sign_in`] over TLS, trusting only the certificate in `pem`.
async fn sign_in_over_tls(listen: SocketAddr, xml: String, pem: &[u8]) -> Result<String, String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
        roots.add(cert.map_err(err)?).map_err(err)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(err)?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(listen).await.map_err(err)?;
    let name = rustls::pki_types::ServerName::from(listen.ip());
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(err)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(err)?;
    tokio::spawn(connection);
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLResponse", &B64.encode(xml))
        .finish();
    let request = hyper::Request::post("/saml/acs")
        .header("host", listen.to_string())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form)))
        .map_err(err)?;
    let response = sender.send_request(request).await.map_err(err)?;
    let status = response.status();
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| {
            pair.starts_with("__Host-samlgate_session=") || pair.starts_with("samlgate_session=")
        })
        .map(str::to_string)
        .ok_or_else(|| format!("sign-in over TLS failed ({status})"))
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
        eprintln!(
            "usage: gateway_session <listen addr> <backend url> <memory|redis://...> [tls] [token]"
        );
        return ExitCode::from(2);
    };
    let Ok(listen) = listen.parse::<SocketAddr>() else {
        eprintln!("gateway_session: {listen:?} is not an address like 127.0.0.1:8082");
        return ExitCode::from(2);
    };
    let tls = args.iter().skip(3).any(|a| a == "tls");
    let token = args.iter().skip(3).any(|a| a == "token");
    match run(listen, backend, store, tls, token) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gateway_session: {e}");
            ExitCode::FAILURE
        }
    }
}
