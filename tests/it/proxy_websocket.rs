//! WebSocket upgrades pass through the proxy: both sides switch protocols and bytes flow both ways.

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::support::proxy::*;

#[tokio::test]
async fn websocket_echo_works_through_the_proxy() {
    let echo = start_echo().await;
    let proxy = start_proxy(backend_config(echo), Some(jose())).await;
    let (mut socket, response) = tokio_tungstenite::connect_async(format!("ws://{proxy}/ws"))
        .await
        .expect("WebSocket handshake through the proxy");
    assert_eq!(response.status(), 101);

    socket
        .send(Message::text("hello through samlgate"))
        .await
        .unwrap();
    assert_eq!(
        socket.next().await.unwrap().unwrap(),
        Message::text("hello through samlgate")
    );

    let blob: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    socket.send(Message::binary(blob.clone())).await.unwrap();
    assert_eq!(socket.next().await.unwrap().unwrap(), Message::binary(blob));

    for i in 0..50 {
        socket
            .send(Message::text(format!("message {i}")))
            .await
            .unwrap();
    }
    for i in 0..50 {
        assert_eq!(
            socket.next().await.unwrap().unwrap(),
            Message::text(format!("message {i}"))
        );
    }
    socket.close(None).await.unwrap();
}

#[tokio::test]
async fn plain_requests_still_work_on_the_pool_after_a_websocket() {
    let echo = start_echo().await;
    let proxy = start_proxy(backend_config(echo), Some(jose())).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{proxy}/ws"))
        .await
        .unwrap();
    socket.send(Message::text("ping")).await.unwrap();
    assert_eq!(socket.next().await.unwrap().unwrap(), Message::text("ping"));
    let response = raw_request(proxy, "GET /json HTTP/1.1\r\nHost: app.test\r\n\r\n").await;
    assert_eq!(response.status, 200);
    assert_eq!(
        values_of(&received_headers(&response.json()), "x-forwarded-user"),
        ["jmuller"]
    );
    socket.close(None).await.unwrap();
}

#[tokio::test]
async fn a_websocket_with_nothing_sent_either_way_is_closed_at_the_idle_timeout() {
    let echo = start_echo().await;
    let mut config = backend_config(echo);
    config.websocket_idle_timeout = std::time::Duration::from_secs(1);
    let proxy = start_proxy(config, Some(jose())).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{proxy}/ws"))
        .await
        .unwrap();
    socket.send(Message::text("ping")).await.unwrap();
    assert_eq!(socket.next().await.unwrap().unwrap(), Message::text("ping"));
    crate::support::websocket::closes(&mut socket).await;
}
