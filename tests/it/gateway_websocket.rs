//! A WebSocket tunnel opened in a session lasts no longer than that session: signed out, or
//! past its lifetime, the session takes its tunnels with it; other sessions' tunnels stay.

use std::time::Duration as StdDuration;

use time::Duration;

use crate::support::gateway::*;
use crate::support::websocket::*;

async fn signed_in(gw: &Gateway, name_id: &str) -> Browser {
    let mut browser = Browser::new(&gw.base);
    login(gw, &mut browser, "/app", name_id, &[]).await;
    assert!(browser.cookies.contains_key("samlgate_session"));
    browser
}

#[tokio::test]
async fn signing_out_closes_the_sessions_tunnels_and_no_one_elses() {
    let gw = start(Setup {
        backend: Some(echo_backend().await),
        ..Setup::default()
    })
    .await;
    let mut alice = signed_in(&gw, "alice@example.com").await;
    let bob = signed_in(&gw, "bob@example.com").await;
    let mut alices = open_socket(&gw.base, &alice.cookies).await;
    let mut bobs = open_socket(&gw.base, &bob.cookies).await;
    echoes(&mut alices, "alice's first").await;
    echoes(&mut bobs, "bob's first").await;

    let out = alice.sign_out(&gw.base).await;
    assert!(out.body.contains("Signed out"), "{}", out.body);
    closes(&mut alices).await;

    // Bob's tunnel has been asked about his session at least once since Alice signed out.
    tokio::time::sleep(samlgate::proxy::LEASE_CHECK_EVERY + StdDuration::from_secs(1)).await;
    echoes(&mut bobs, "bob's second").await;
    bobs.close(None).await.unwrap();
}

/// A tunnel opened under these `[session]` settings, closed once the clock moved by `later`.
async fn ends_when_the_clock_moves(session: &str, later: Duration) {
    let gw = start(Setup {
        backend: Some(echo_backend().await),
        session: session.into(),
        ..Setup::default()
    })
    .await;
    let alice = signed_in(&gw, "alice@example.com").await;
    let mut socket = open_socket(&gw.base, &alice.cookies).await;
    echoes(&mut socket, "before").await;
    gw.advance(later);
    closes(&mut socket).await;
}

#[tokio::test]
async fn a_tunnel_ends_with_its_session_lifetime_though_it_carries_traffic() {
    ends_when_the_clock_moves(
        "idle_timeout = \"30m\"\nabsolute_timeout = \"1h\"",
        Duration::minutes(61),
    )
    .await;
}

#[tokio::test]
async fn a_tunnel_ends_when_its_session_idles_out() {
    // Traffic on the tunnel is not the user's activity: only requests keep a session alive.
    ends_when_the_clock_moves(
        "idle_timeout = \"30m\"\nabsolute_timeout = \"8h\"",
        Duration::minutes(31),
    )
    .await;
}
