//! A WebSocket through the gateway, as a browser with a session opens one, and how a test sees
//! it end.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longer than any check interval of a tunnel: the deadline for a close that must come.
pub const CLOSES_WITHIN: Duration = Duration::from_secs(30);

/// A WebSocket to the echo backend's `/ws` behind the gateway at `base` (`http://host:port`),
/// sent with `cookies`.
pub async fn open_socket(base: &str, cookies: &HashMap<String, String>) -> Socket {
    let cookies: Vec<String> = cookies
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    open_socket_with(base, "cookie", &cookies.join("; ")).await
}

/// [`open_socket`] with one header of the caller's (`authorization`, say) instead of cookies.
pub async fn open_socket_with(base: &str, header: &'static str, value: &str) -> Socket {
    let authority = base.trim_start_matches("http://");
    let mut request = format!("ws://{authority}/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(header, value.parse().unwrap());
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("WebSocket handshake through the gateway");
    assert_eq!(response.status(), 101);
    socket
}

/// `text` sent comes back.
pub async fn echoes(socket: &mut Socket, text: &str) {
    socket.send(Message::text(text)).await.unwrap();
    assert_eq!(socket.next().await.unwrap().unwrap(), Message::text(text));
}

/// Waits for the tunnel to end: the stream ends or fails (the gateway closed the connection;
/// no close frame can be added to a stream copied mid-frame).
pub async fn closes(socket: &mut Socket) {
    let ended = tokio::time::timeout(CLOSES_WITHIN, async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(other)) => panic!("the tunnel sent {other:?} after its session ended"),
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the tunnel was still open {CLOSES_WITHIN:?} after its session ended"
    );
}
