//! A gateway on loopback, a cookie-keeping browser, and the project's test IdP answering
//! AuthnRequests with Responses signed by the project's own signer.

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use openssl::x509::X509;
use samlgate::gateway::{AppState, Clock};
use samlgate::saml::issue::{ResponseSpec, SignParts};
use time::{Duration, OffsetDateTime};

use crate::support::test_idp::{self, IDP};

pub const SP_ENTITY: &str = "https://app.example.com/saml/metadata";

/// What to put in the configuration besides the fixed parts.
#[derive(Clone, Debug, Default)]
pub struct Setup {
    /// Extra keys for the `[[idp]]` table.
    pub idp_extra: String,
    /// Keys for `[session]`.
    pub session: String,
    /// Extra keys for `[server]`.
    pub server_extra: String,
    /// `[[route]]` tables.
    pub routes: String,
    /// Backend URL (defaults to a closed port).
    pub backend: Option<String>,
    /// The public URL when a proxy sits in front (defaults to the gateway's own address).
    pub public_url: Option<String>,
    /// Mapping table text (defaults to [`MAPPING`]).
    pub mapping: Option<String>,
    /// Extra files to write next to the configuration (name, content).
    pub files: Vec<(String, String)>,
    /// TOML appended to the configuration (more `[[idp]]` tables...).
    pub extra_toml: String,
    /// Extra keys for `[backend]`.
    pub backend_extra: String,
    /// Replaces `metadata = "idp.xml"` in the `[[idp]]` table (URL sources).
    pub idp_metadata: Option<String>,
}

/// The tests' mapping table: NameID is the operator, `Admins` are administrators, everyone
/// else is read-only.
pub const MAPPING: &str = r#"
[operator]
id = "NameID"

[attributes]
email = "mail"
name = "displayName"

[access]
groups = ["groups"]
default = "MyOrg:RestrictedReadOnly"

[[access.rule]]
group = "Admins"
access_group = "MyOrg:Administrators"
"#;

pub struct Gateway {
    pub base: String,
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    /// Seconds added to the real clock: tests move time forward with it.
    pub offset: Arc<AtomicI64>,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub sp_cert: X509,
}

impl Gateway {
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + Duration::seconds(self.offset.load(Ordering::SeqCst))
    }

    pub fn advance(&self, by: Duration) {
        self.offset.fetch_add(by.whole_seconds(), Ordering::SeqCst);
    }

    pub fn acs_url(&self) -> String {
        format!("{}/saml/acs", self.base)
    }

    pub fn metric(&self, name: &'static str, labels: &[(&'static str, &str)]) -> f64 {
        self.state.metrics.get(name, labels)
    }
}

/// Write the SP key pair, the test IdP's metadata and a configuration into a fresh folder.
pub fn write_config(dir: &std::path::Path, port: u16, setup: &Setup) -> (PathBuf, X509) {
    let sp = test_idp::make_key_pair("samlgate test SP");
    std::fs::write(
        dir.join("sp.key"),
        sp.key.private_key_to_pem_pkcs8().unwrap(),
    )
    .unwrap();
    std::fs::set_permissions(
        dir.join("sp.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(dir.join("sp.crt"), sp.cert.to_pem().unwrap()).unwrap();
    std::fs::write(dir.join("idp.xml"), test_idp::metadata_xml()).unwrap();
    std::fs::write(
        dir.join("mapping.toml"),
        setup.mapping.as_deref().unwrap_or(MAPPING),
    )
    .unwrap();
    for (name, content) in &setup.files {
        std::fs::write(dir.join(name), content).unwrap();
    }
    let backend = setup
        .backend
        .clone()
        .unwrap_or_else(|| "http://127.0.0.1:9".to_string());
    let public_url = setup
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
public_url = "{public_url}"
api_prefixes = ["/api"]
{server_extra}

[sp]
entity_id = "{SP_ENTITY}"
key = "sp.key"
cert = "sp.crt"

[[idp]]
name = "corp"
{idp_metadata}
mapping = "mapping.toml"
{idp_extra}

[session]
{session}

[backend]
url = "{backend}"
{backend_extra}

{routes}

{extra_toml}
"#,
        idp_metadata = setup
            .idp_metadata
            .as_deref()
            .unwrap_or("metadata = \"idp.xml\""),
        idp_extra = setup.idp_extra,
        server_extra = setup.server_extra,
        session = setup.session,
        routes = setup.routes,
        extra_toml = setup.extra_toml,
        backend_extra = setup.backend_extra,
    );
    let path = dir.join("samlgate.toml");
    std::fs::write(&path, text).unwrap();
    (path, sp.cert)
}

/// Start a gateway on a free loopback port.
pub async fn start(setup: Setup) -> Gateway {
    start_with(setup, None).await
}

/// [`start`], over the given stores (tests that look inside them).
pub async fn start_over(setup: Setup, stores: samlgate::session::Stores) -> Gateway {
    start_with(setup, Some(stores)).await
}

async fn start_with(setup: Setup, stores: Option<samlgate::session::Stores>) -> Gateway {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (config_path, sp_cert) = write_config(dir.path(), addr.port(), &setup);
    let loaded = samlgate::config::load(&config_path).unwrap_or_else(|e| panic!("{e}"));
    let offset = Arc::new(AtomicI64::new(0));
    let o = offset.clone();
    let clock: Clock =
        Arc::new(move || OffsetDateTime::now_utc() + Duration::seconds(o.load(Ordering::SeqCst)));
    let (router, state) = match stores {
        None => samlgate::gateway::build(loaded.config, clock).unwrap(),
        Some(stores) => {
            let state = Arc::new(AppState::with_stores(loaded.config, clock, stores).unwrap());
            samlgate::gateway::follow_idp_sources(&state).unwrap();
            (samlgate::gateway::gateway(state.clone()), state)
        }
    };
    tokio::spawn(async move {
        let _ = samlgate::server::serve_on(listener, router).await;
    });
    Gateway {
        base: setup
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}")),
        addr,
        state,
        offset,
        dir,
        config_path,
        sp_cert,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A browser: follows nothing by itself, keeps cookies.
pub struct Browser {
    pub base: String,
    pub cookies: HashMap<String, String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Browser {
            base: base.to_string(),
            cookies: HashMap::new(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        if !self.cookies.is_empty() {
            req = req.header("cookie", self.cookie_header());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Full::new(Bytes::from(b)))
                .unwrap(),
            None => req.body(Full::new(Bytes::new())).unwrap(),
        };
        let resp = self.client.request(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        for sc in headers.get_all("set-cookie") {
            let sc = sc.to_str().unwrap();
            let (pair, attrs) = sc.split_once(';').unwrap_or((sc, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.to_ascii_lowercase().contains("max-age=0") {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_string(), value.trim().to_string());
            }
        }
        let body = String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes())
            .into_owned();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.send(Method::GET, path, &[], None).await
    }

    pub async fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(Method::GET, path, headers, None).await
    }

    /// The Sign out button of a page of `origin` (the public URL): a same-origin POST.
    pub async fn sign_out(&mut self, origin: &str) -> Reply {
        let origin = origin.trim_end_matches('/').to_string();
        self.send(
            Method::POST,
            "/saml/logout",
            &[("origin", &origin), ("sec-fetch-site", "same-origin")],
            Some(String::new()),
        )
        .await
    }

    pub async fn post_acs(&mut self, saml_response_b64: &str, relay_state: Option<&str>) -> Reply {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("SAMLResponse", saml_response_b64);
        if let Some(r) = relay_state {
            form.append_pair("RelayState", r);
        }
        self.send(Method::POST, "/saml/acs", &[], Some(form.finish()))
            .await
    }
}

/// A query parameter of a URL, percent-decoded.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// What the IdP reads from an HTTP-Redirect AuthnRequest.
pub struct ReceivedRequest {
    pub id: String,
    pub relay_state: Option<String>,
    pub xml: String,
}

pub fn read_redirect_request(location: &str) -> ReceivedRequest {
    let compressed = B64
        .decode(query_param(location, "SAMLRequest").expect("SAMLRequest"))
        .unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(compressed.as_slice())
        .read_to_string(&mut xml)
        .unwrap();
    let doc = samlgate::xml::parse(xml.as_bytes(), &samlgate::xml::ParseLimits::default()).unwrap();
    let id = doc.root().attr("ID").unwrap().to_string();
    ReceivedRequest {
        id,
        relay_state: query_param(location, "RelayState"),
        xml,
    }
}

/// A Response spec answering `in_response_to` for this gateway, at the gateway's clock.
pub fn response_spec(
    gw: &Gateway,
    in_response_to: Option<&str>,
    name_id: &str,
    groups: &[&str],
) -> ResponseSpec {
    let mut spec = ResponseSpec::new(IDP, SP_ENTITY, &gw.acs_url(), name_id, gw.now());
    spec.in_response_to = in_response_to.map(str::to_string);
    spec.attributes = vec![
        ("mail".to_string(), vec![name_id.to_string()]),
        ("displayName".to_string(), vec!["Alice Example".to_string()]),
        (
            "groups".to_string(),
            groups.iter().map(|g| g.to_string()).collect(),
        ),
    ];
    spec
}

/// The form value of a Response signed (Response and Assertion) by the test IdP.
pub fn signed_b64(spec: &ResponseSpec) -> String {
    B64.encode(test_idp::signed(spec, SignParts::Both))
}

/// Full SP-initiated login of `browser` starting at `path`; returns the ACS reply.
pub async fn login(
    gw: &Gateway,
    browser: &mut Browser,
    path: &str,
    name_id: &str,
    groups: &[&str],
) -> Reply {
    let start = browser.get(path).await;
    assert_eq!(
        start.status,
        StatusCode::FOUND,
        "expected a redirect to the IdP, got {}: {}",
        start.status,
        start.body
    );
    let req = read_redirect_request(start.location());
    let spec = response_spec(gw, Some(&req.id), name_id, groups);
    browser
        .post_acs(&signed_b64(&spec), req.relay_state.as_deref())
        .await
}

/// The project's echo backend on a free loopback port; returns its URL.
pub async fn echo_backend() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(samlgate::demo::echo::serve_echo(listener));
    format!("http://{addr}")
}

/// `samlgate serve --config config_path` as a child process; its log (stdout) and stderr are
/// piped when `keep_output`, dropped otherwise.
pub fn spawn_serve(config_path: &std::path::Path, keep_output: bool) -> std::process::Child {
    let output = || {
        if keep_output {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        }
    };
    std::process::Command::new(env!("CARGO_BIN_EXE_samlgate"))
        .args(["serve", "--config"])
        .arg(config_path)
        .stdout(output())
        .stderr(output())
        .spawn()
        .unwrap()
}

/// Wait until something accepts connections on every one of `ports` (20 s at most).
pub async fn wait_listening(ports: &[u16]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    for port in ports {
        while tokio::net::TcpStream::connect(("127.0.0.1", *port))
            .await
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "nothing listens on port {port}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// The answer to one raw request: its status (0 when the connection closed without one) and
/// everything received.
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    pub text: String,
}

/// `target` escaped for a message.
pub fn shown(target: &[u8]) -> String {
    target.escape_ascii().to_string()
}

/// A GET with `target` as its request-target byte for byte (HTTP clients normalize paths, so
/// path tests speak raw HTTP/1.1), the whole answer read until the server closes.
pub async fn raw_get(addr: SocketAddr, target: &[u8], headers: &[(&str, &str)]) -> RawReply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut request = b"GET ".to_vec();
    request.extend_from_slice(target);
    request.extend_from_slice(
        format!(" HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n").as_bytes(),
    );
    for (name, value) in headers {
        request.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    let exchange = async {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(&request).await.unwrap();
        let mut received = Vec::new();
        // A reset after the answer (a refused request line) still leaves the answer read.
        let _ = tcp.read_to_end(&mut received).await;
        received
    };
    let received = tokio::time::timeout(std::time::Duration::from_secs(30), exchange)
        .await
        .unwrap_or_else(|_| panic!("no answer within 30 s to {}", shown(target)));
    let text = String::from_utf8_lossy(&received).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    RawReply { status, text }
}
