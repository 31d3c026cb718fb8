//! Bodies stream through the proxy in both directions with flat memory.
//!
//! The default moves 1 GiB each way (about 8 s in a debug build on a loaded 2-core machine);
//! `SAMLGATE_PROXY_STREAM_MB=256 cargo test --test proxy_streaming` runs a smaller one. One test in this file on purpose: the peak-RSS figure (`VmHWM`) is per process, so
//! no other test may run beside it, and it keeps a binary of its own (docs/testing.md).

#[path = "it/support/mod.rs"]
mod support;

use std::time::Instant;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use openssl::sha::Sha256;
use samlgate::demo::echo::pattern_block;

use crate::support::proxy::*;

const MIB: u64 = 1024 * 1024;
/// The most the process may grow while moving the whole body: far below the body size, so buffering anywhere
/// (proxy or echo) fails the test.
const MAX_GROWTH_MIB: u64 = 64;

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map(|v| v.trim().trim_end_matches("kB").trim().parse().unwrap())
        .expect("VmHWM in /proc/self/status")
}

fn hex(digest: [u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_stream_both_ways_with_flat_memory() {
    let mib: u64 = std::env::var("SAMLGATE_PROXY_STREAM_MB")
        .ok()
        .map(|v| {
            v.parse()
                .expect("SAMLGATE_PROXY_STREAM_MB is a number of MiB")
        })
        .unwrap_or(1024);
    let total = mib * MIB;
    let block = pattern_block();
    let blocks = total / block.len() as u64;
    assert_eq!(blocks * block.len() as u64, total);

    // What the body hashes to, computed here from the same blocks the client sends.
    let mut expected = Sha256::new();
    for _ in 0..blocks {
        expected.update(&block);
    }
    let expected = hex(expected.finish());

    let echo = start_echo().await;
    let proxy = start_proxy(backend_config(echo), Some(jose())).await;
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build_http();

    // Warm up both connections so that their buffers count in the baseline.
    let warm = client
        .request(
            axum::http::Request::post(format!("http://{proxy}/up"))
                .body(Body::from("warm"))
                .unwrap(),
        )
        .await
        .unwrap();
    warm.into_body().collect().await.unwrap();
    let baseline = peak_rss_kib();

    // Upload: generated on the fly, one shared 64 KiB block, never the whole body.
    let started = Instant::now();
    let chunks = {
        let block = block.clone();
        futures_util::stream::iter(
            (0..blocks).map(move |_| Ok::<Bytes, std::io::Error>(block.clone())),
        )
    };
    let response = client
        .request(
            axum::http::Request::put(format!("http://{proxy}/upload"))
                .body(Body::from_stream(chunks))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(answer["bytes"], total);
    assert_eq!(answer["sha256"], expected);
    let upload = started.elapsed();
    let after_upload = peak_rss_kib();

    // Download: the echo backend streams the same pattern; hash it frame by frame here.
    let started = Instant::now();
    let response = client
        .request(
            axum::http::Request::get(format!("http://{proxy}/bytes/{total}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut got = Sha256::new();
    let mut received = 0u64;
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame.unwrap().data_ref() {
            got.update(data);
            received += data.len() as u64;
        }
    }
    assert_eq!(received, total);
    assert_eq!(hex(got.finish()), expected);
    let download = started.elapsed();
    let after_download = peak_rss_kib();

    eprintln!(
        "{mib} MiB up in {upload:?}, down in {download:?}; peak RSS {} -> {} -> {} MiB",
        baseline / 1024,
        after_upload / 1024,
        after_download / 1024
    );
    assert!(
        after_upload - baseline < MAX_GROWTH_MIB * 1024,
        "upload grew peak RSS by {} MiB",
        (after_upload - baseline) / 1024
    );
    assert!(
        after_download - baseline < MAX_GROWTH_MIB * 1024,
        "download grew peak RSS by {} MiB",
        (after_download - baseline) / 1024
    );
}
