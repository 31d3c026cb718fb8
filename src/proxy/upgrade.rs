//! WebSocket upgrades: the backend's 101 goes back to the browser and the bytes are copied both
//! ways once both connections switched.

use axum::body::Body;
use axum::http::Response;
use axum::http::header::{CONNECTION, UPGRADE};
use hyper_util::rt::TokioIo;

use super::failure::chain;
use super::hop_by_hop::remove_hop_by_hop;

/// Answer the browser's upgrade with the backend's 101 and copy bytes both ways once both sides switched.
pub(super) fn tunnel<B>(
    client_upgrade: hyper::upgrade::OnUpgrade,
    mut response: Response<B>,
) -> Response<Body> {
    let backend_upgrade = hyper::upgrade::on(&mut response);
    tokio::spawn(async move {
        let (client, backend) = match tokio::try_join!(client_upgrade, backend_upgrade) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %chain(&e), "WebSocket upgrade did not complete on both sides");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut backend = TokioIo::new(backend);
        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut backend).await {
            tracing::debug!(error = %e, "WebSocket tunnel closed with an error");
        }
    });
    let (mut parts, _) = response.into_parts();
    // Keep `Connection: upgrade` and `Upgrade`; drop the other hop-by-hop headers.
    let connection = parts.headers.remove(CONNECTION);
    let upgrade = parts.headers.remove(UPGRADE);
    remove_hop_by_hop(&mut parts.headers);
    if let Some(v) = connection {
        parts.headers.insert(CONNECTION, v);
    }
    if let Some(v) = upgrade {
        parts.headers.insert(UPGRADE, v);
    }
    Response::from_parts(parts, Body::empty())
}
