//! Shared by the proxy_* tests: an echo backend and the proxy on loopback, and a raw HTTP/1.1 client
//! that sends header names exactly as written (a normal client would lower-case them).

use std::net::SocketAddr;
use std::time::Duration;

use samlgate::demo::{echo, fixed_identity};
use samlgate::identity::Operator;
use samlgate::identity::headers::HeaderContract;
use samlgate::proxy::{Proxy, ProxyConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub async fn start_echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(echo::serve_echo(listener));
    addr
}

pub fn jose() -> Operator {
    Operator {
        user: "jmuller".into(),
        email: Some("jose.muller@example.com".into()),
        preferred_username: Some("jose".into()),
        groups: ["staff", "Sales, EMEA"].into_iter().collect(),
        access_group: "MyOrg:Administrators".into(),
        name: Some("José Müller".into()),
        extra: vec![],
    }
}

/// The proxy in front of `backend`, answering as if the browser came over https.
pub async fn start_proxy(config: ProxyConfig, identity: Option<Operator>) -> SocketAddr {
    let proxy = Proxy::new(&config).unwrap();
    serve_router(fixed_identity::router(
        proxy,
        HeaderContract::default(),
        identity,
        "https",
    ))
    .await
}

/// Serve `app` on a free loopback port with the gateway's own connection handling (edge rules,
/// timeouts), client addresses given as `ConnectInfo`.
pub async fn serve_router(app: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        samlgate::server::serve_on(listener, app).await.unwrap();
    });
    addr
}

pub fn backend_config(backend: SocketAddr) -> ProxyConfig {
    ProxyConfig::new(format!("http://{backend}"))
}

pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Send `request` byte for byte and read one response framed by Content-Length.
pub async fn raw_request(addr: SocketAddr, request: &str) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let read = async {
        loop {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(
                n > 0,
                "connection closed before a full response: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&chunk[..n]);
            let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8(buf[..end].to_vec()).unwrap();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().unwrap())
                })
                .expect("response without Content-Length");
            if buf.len() >= end + 4 + length {
                let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                let body = buf[end + 4..end + 4 + length].to_vec();
                return RawResponse { status, head, body };
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("no response within 30 s")
}

/// Every (name, value) the echo backend reported receiving.
pub fn received_headers(json: &serde_json::Value) -> Vec<(String, String)> {
    json["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_owned(),
                pair[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

pub fn values_of(headers: &[(String, String)], name: &str) -> Vec<String> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .collect()
}
