//! The files and the sign-in of `scripts/edge-flood`, which runs the real `samlgate serve`.
//!
//! ```text
//! edge_flood_login setup DIR LISTEN BACKEND_URL memory|redis://HOST:PORT/DB
//! edge_flood_login login BASE_URL DIR
//! ```
//!
//! `setup` writes throwaway SP and IdP keys, the IdP's metadata, a mapping and a `samlgate.toml`
//! in which every path needs a login. `login` is one new browser signing in: the protected page
//! sends it to the IdP with an AuthnRequest, the IdP's Response (signed with the IdP key of DIR)
//! goes back through the ACS, and the page then reaches the backend with the identity. It
//! follows the protocol only (cookies as a browser keeps them), so it also drives gateways built
//! from other commits. Loopback measurements only.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::X509;
use samlgate::crypto::algorithms::{DigestAlgorithm, SignatureAlgorithm};
use samlgate::crypto::keygen::{generate_sp_credentials, self_signed_certificate};
use samlgate::saml::issue::{ResponseSigner, ResponseSpec, SignParts};
use samlgate::saml::metadata::write_idp_metadata;
use time::OffsetDateTime;

const IDP: &str = "https://idp.flood.invalid/saml";
const USER: &str = "newcomer@example.com";
const MAPPING: &str = r#"
[operator]
id = "NameID"

[attributes]
email = "mail"

[access]
groups = ["groups"]
default = "MyOrg:RestrictedReadOnly"
"#;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn setup(dir: &Path, listen: &str, backend: &str, store: &str) -> Result<(), String> {
    let base = format!("http://{listen}");
    let (sp_key, sp_cert) = generate_sp_credentials("edge-flood SP", 2).map_err(err)?;
    let idp_key = PKey::from_rsa(Rsa::generate(2048).map_err(err)?).map_err(err)?;
    let idp_cert = self_signed_certificate(&idp_key, "edge-flood IdP", 2).map_err(err)?;
    let metadata =
        write_idp_metadata(IDP, &idp_cert, "https://idp.flood.invalid/sso", false).map_err(err)?;
    let session = if store == "memory" {
        "store = \"memory\"".to_string()
    } else {
        format!("store = \"redis\"\nurl = \"{store}\"\nkey_prefix = \"flood:\"")
    };
    let config = format!(
        "[server]\nlisten = \"{listen}\"\npublic_url = \"{base}\"\nlog_format = \"json\"\n\n[sp]\nentity_id = \"{base}/saml/metadata\"\nkey = \"sp.key\"\ncert = \"sp.crt\"\n\n[[idp]]\nname = \"corp\"\nmetadata = \"idp.xml\"\nmapping = \"mapping.toml\"\n\n[session]\n{session}\n\n[backend]\nurl = \"{backend}\"\n"
    );
    let idp_key_pem =
        String::from_utf8(idp_key.private_key_to_pem_pkcs8().map_err(err)?).map_err(err)?;
    let idp_cert_pem = String::from_utf8(idp_cert.to_pem().map_err(err)?).map_err(err)?;
    std::fs::create_dir_all(dir).map_err(err)?;
    for (name, text) in [
        ("sp.key", sp_key.as_str()),
        ("sp.crt", sp_cert.as_str()),
        ("idp.key", idp_key_pem.as_str()),
        ("idp.crt", idp_cert_pem.as_str()),
        ("idp.xml", metadata.as_str()),
        ("mapping.toml", MAPPING),
        ("samlgate.toml", config.as_str()),
    ] {
        std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

/// A browser: keeps cookies, follows nothing by itself.
struct Browser {
    base: String,
    cookies: BTreeMap<String, String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

struct Reply {
    status: StatusCode,
    location: String,
    body: String,
}

impl Browser {
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<String>,
    ) -> Result<Reply, String> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header("cookie", jar.join("; "));
        }
        let body = match form {
            Some(form) => {
                request = request.header("content-type", "application/x-www-form-urlencoded");
                Full::new(Bytes::from(form))
            }
            None => Full::new(Bytes::new()),
        };
        let response = self
            .client
            .request(request.body(body).map_err(err)?)
            .await
            .map_err(err)?;
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().map_err(err)?;
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            if attributes.to_ascii_lowercase().contains("max-age=0") {
                self.cookies.remove(name.trim());
            } else {
                self.cookies.insert(name.trim().into(), value.trim().into());
            }
        }
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(err)?
            .to_bytes();
        Ok(Reply {
            status,
            location,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The ID of the HTTP-Redirect AuthnRequest in `location`.
fn request_id(location: &str) -> Result<String, String> {
    let encoded = query_param(location, "SAMLRequest").ok_or("no SAMLRequest")?;
    let deflated = B64.decode(encoded).map_err(err)?;
    let mut xml = Vec::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice())
        .take(64 * 1024)
        .read_to_end(&mut xml)
        .map_err(err)?;
    let doc = samlgate::xml::parse(&xml, &samlgate::xml::ParseLimits::default()).map_err(err)?;
    doc.root()
        .attr("ID")
        .map(str::to_string)
        .ok_or_else(|| "AuthnRequest without ID".to_string())
}

async fn login(base: &str, dir: &Path) -> Result<String, String> {
    let read = |name: &str| std::fs::read(dir.join(name)).map_err(|e| format!("{name}: {e}"));
    let idp_key = PKey::private_key_from_pem(&read("idp.key")?).map_err(err)?;
    let idp_cert = X509::from_pem(&read("idp.crt")?).map_err(err)?;
    let mut browser = Browser {
        base: base.trim_end_matches('/').to_string(),
        cookies: BTreeMap::new(),
        client: Client::builder(TokioExecutor::new()).build_http(),
    };
    let page = "/app/welcome?from=edge-flood";
    let start = browser.send(Method::GET, page, None).await?;
    if start.status != StatusCode::FOUND
        || !start.location.starts_with("https://idp.flood.invalid/sso?")
    {
        return Err(format!(
            "the protected page did not send the browser to the IdP: {} {}",
            start.status, start.body
        ));
    }
    let id = request_id(&start.location)?;
    let relay = query_param(&start.location, "RelayState");
    let mut spec = ResponseSpec::new(
        IDP,
        &format!("{}/saml/metadata", browser.base),
        &format!("{}/saml/acs", browser.base),
        USER,
        OffsetDateTime::now_utc(),
    );
    spec.in_response_to = Some(id);
    spec.attributes = vec![("mail".into(), vec![USER.into()])];
    let signer = ResponseSigner {
        key: &idp_key,
        certificate: Some(&idp_cert),
        signature_algorithm: SignatureAlgorithm::RsaSha256,
        digest_algorithm: DigestAlgorithm::Sha256,
    };
    let xml = signer.response(&spec, SignParts::Both).map_err(err)?;
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("SAMLResponse", &B64.encode(xml));
    if let Some(relay) = &relay {
        form.append_pair("RelayState", relay);
    }
    let form = form.finish();
    let acs = browser.send(Method::POST, "/saml/acs", Some(form)).await?;
    if acs.status != StatusCode::SEE_OTHER || acs.location != page {
        return Err(format!(
            "the ACS did not sign in: {} {}",
            acs.status, acs.body
        ));
    }
    let back = browser.send(Method::GET, page, None).await?;
    if back.status != StatusCode::OK || !back.body.contains(USER) {
        return Err(format!(
            "signed in, but the page did not reach the backend with the identity: {} {}",
            back.status, back.body
        ));
    }
    Ok(format!("{USER} signed in and reached the backend"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let result = match (arg(0), arg(1), arg(2), arg(3), arg(4)) {
        (Some("setup"), Some(dir), Some(listen), Some(backend), Some(store)) => {
            setup(Path::new(dir), listen, backend, store).map(|()| format!("wrote {dir}"))
        }
        (Some("login"), Some(base), Some(dir), None, None) => {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(err)
                .and_then(|rt| rt.block_on(login(base, Path::new(dir))))
        }
        _ => {
            eprintln!(
                "usage: edge_flood_login setup DIR LISTEN BACKEND_URL memory|redis://...\n       edge_flood_login login BASE_URL DIR"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(line) => {
            println!("edge_flood_login: {line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("edge_flood_login: {e}");
            ExitCode::FAILURE
        }
    }
}
