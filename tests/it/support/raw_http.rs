//! Raw HTTP/1.1 over a TCP stream, for tests that send bytes no client library would and read the
//! gateway's answer as it comes.

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Read one response framed by Content-Length: its status and body; `None` if the connection
/// closes first.
pub async fn read_response(stream: &mut TcpStream) -> Option<(u16, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned();
                return Some((status, body));
            }
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Stop a `samlgate serve` child with SIGTERM and wait for it: its exit status and everything it
/// wrote (the log on stdout, any error on stderr).
pub async fn stop_with_sigterm(
    mut child: std::process::Child,
) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    tokio::task::spawn_blocking(move || {
        let status = child.wait().unwrap();
        let mut output = String::new();
        if let Some(mut out) = child.stdout.take() {
            out.read_to_string(&mut output).unwrap();
        }
        if let Some(mut err) = child.stderr.take() {
            err.read_to_string(&mut output).unwrap();
        }
        (status, output)
    })
    .await
    .unwrap()
}
