//! `samlgate demo`: the real gateway, the development IdP and the echo backend, all on
//! loopback, with fresh keys. The gateway runs from a configuration file written to a
//! temporary folder and loaded by the same `config::load` as `serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::X509;
use tokio::net::TcpListener;

use crate::crypto::keygen::{generate_sp_credentials, self_signed_certificate};
use crate::demo::idp::DevIdp;
use crate::gateway::{self, system_clock};

/// Try samlgate on this machine: gateway + development IdP + echo backend on loopback.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Where the gateway listens (loopback only).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

/// The demo's mapping: `Admins` are administrators, everyone else read-only.
const DEMO_MAPPING: &str = r#"
[operator]
id = "NameID"

[attributes]
email = "mail"
name = "displayName"

[access]
groups = ["groups"]
default = "MyOrg:RestrictedReadOnly"

[[access.rule]]
name = "administrators"
group = "Admins"
access_group = "MyOrg:Administrators"
"#;

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the demo listens on loopback only; {0} is not a loopback address")]
    NotLoopback(SocketAddr),
    #[error("cannot listen: {0}")]
    Listen(std::io::Error),
    #[error("cannot write the demo files in {dir}: {source}")]
    Files {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("key generation: {0}")]
    Keys(String),
    #[error("the demo configuration was refused:\n{0}")]
    Config(String),
    #[error("{0}")]
    Gateway(#[from] gateway::GatewayError),
}

/// The running demo.
pub struct Demo {
    /// Where to point a browser.
    pub url: String,
    pub idp_url: String,
    pub backend_url: String,
    /// The folder holding the generated keys, metadata and configuration.
    pub dir: PathBuf,
}

fn keys(e: impl std::fmt::Display) -> DemoError {
    DemoError::Keys(e.to_string())
}

/// Start the three servers on `listener` (the gateway) and two free loopback ports.
pub async fn start(listener: TcpListener) -> Result<Demo, DemoError> {
    let addr = listener.local_addr().map_err(DemoError::Listen)?;
    if !addr.ip().is_loopback() {
        return Err(DemoError::NotLoopback(addr));
    }
    let idp_listener = TcpListener::bind((addr.ip(), 0))
        .await
        .map_err(DemoError::Listen)?;
    let echo_listener = TcpListener::bind((addr.ip(), 0))
        .await
        .map_err(DemoError::Listen)?;
    let idp_addr = idp_listener.local_addr().map_err(DemoError::Listen)?;
    let echo_addr = echo_listener.local_addr().map_err(DemoError::Listen)?;
    let url = format!("http://{addr}");
    let idp_url = format!("http://{idp_addr}");
    let backend_url = format!("http://{echo_addr}");

    let dir = std::env::temp_dir().join(format!(
        "samlgate-demo-{}-{}",
        std::process::id(),
        addr.port()
    ));
    let files = |source| DemoError::Files {
        dir: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(files)?;

    let (sp_key_pem, sp_cert_pem) =
        generate_sp_credentials("samlgate demo SP", 30).map_err(keys)?;
    let sp_cert = X509::from_pem(sp_cert_pem.as_bytes()).map_err(keys)?;
    let idp_key = PKey::from_rsa(Rsa::generate(2048).map_err(keys)?).map_err(keys)?;
    let idp_cert =
        self_signed_certificate(&idp_key, "samlgate development IdP", 30).map_err(keys)?;
    let sp_entity_id = format!("{url}/saml/metadata");
    let idp = Arc::new(DevIdp {
        entity_id: format!("{idp_url}/metadata"),
        base_url: idp_url.clone(),
        key: idp_key,
        cert: idp_cert,
        sp_entity_id: sp_entity_id.clone(),
        acs_url: format!("{url}/saml/acs"),
        sp_cert,
    });

    write_private(&dir.join("sp.key"), sp_key_pem.as_bytes()).map_err(files)?;
    std::fs::write(dir.join("sp.crt"), &sp_cert_pem).map_err(files)?;
    std::fs::write(dir.join("idp.xml"), idp.metadata_xml().map_err(keys)?).map_err(files)?;
    std::fs::write(dir.join("mapping.toml"), DEMO_MAPPING).map_err(files)?;
    let config = format!(
        r#"# Written by `samlgate demo`. Development only.
[server]
listen = "{addr}"
public_url = "{url}"
api_prefixes = ["/api"]

[sp]
entity_id = "{sp_entity_id}"
key = "sp.key"
cert = "sp.crt"

[[idp]]
name = "dev"
metadata = "idp.xml"
mapping = "mapping.toml"

[session]
idle_timeout = "30m"
absolute_timeout = "8h"

[backend]
url = "{backend_url}"

[[route]]
path = "/admin"
require_access_group = ["MyOrg:Administrators"]
"#
    );
    let config_path = dir.join("samlgate.toml");
    std::fs::write(&config_path, config).map_err(files)?;
    let loaded = crate::config::load(&config_path).map_err(|e| DemoError::Config(e.to_string()))?;
    let (router, _state) = gateway::build(loaded.config, system_clock())?;

    tokio::spawn(async move {
        if let Err(e) = axum::serve(idp_listener, idp.router()).await {
            tracing::error!("development IdP stopped: {e}");
        }
    });
    tokio::spawn(crate::demo::echo::serve_echo(echo_listener));
    tokio::spawn(async move {
        if let Err(e) = crate::server::serve_on(listener, router).await {
            tracing::error!("gateway stopped: {e}");
        }
    });
    Ok(Demo {
        url,
        idp_url,
        backend_url,
        dir,
    })
}

pub fn run(args: DemoArgs) -> ExitCode {
    crate::ops::logging::init(false);
    if !args.listen.ip().is_loopback() {
        eprintln!("error: {}", DemoError::NotLoopback(args.listen));
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", args.listen);
                return ExitCode::FAILURE;
            }
        };
        match start(listener).await {
            Ok(demo) => {
                // Before the lines that tell a supervisor (or a test) the demo is up.
                let stopped = crate::server::shutdown_signal_registered();
                println!("==============================================================");
                println!(" samlgate demo: DEVELOPMENT ONLY (anyone can sign in as anyone)");
                println!("==============================================================");
                println!(" open            {}/", demo.url);
                println!(
                    " admin area      {}/admin   (sign in with group Admins)",
                    demo.url
                );
                println!(" development IdP {}", demo.idp_url);
                println!(" echo backend    {}", demo.backend_url);
                println!(" files           {}", demo.dir.display());
                println!(" Ctrl-C to stop.");
                stopped.await;
                // The demo's keys and configuration are throwaway: leave nothing behind.
                match std::fs::remove_dir_all(&demo.dir) {
                    Ok(()) => println!(" stopped; removed {}", demo.dir.display()),
                    Err(e) => eprintln!("cannot remove {}: {e}", demo.dir.display()),
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Write a private key readable by its owner only.
fn write_private(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
