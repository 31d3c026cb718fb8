//! Memory per signed-in session on the memory store: signs in N sessions through the code a
//! login and its first request run (session store, single-logout index, session cache) and
//! prints the process's resident memory before and after.
//!
//! ```text
//! cargo run --release --example session_memory -- 1000000
//! cargo run --release --example session_memory -- 1000000 --logins-only
//! ```
//!
//! `--logins-only` skips the first request after each login, so the sessions are held as the
//! login stored them, not decoded. One count per process, so that no earlier run's freed memory
//! is counted or reused.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

#[path = "../benches/support/sessions.rs"]
mod fixture;

const MIB: f64 = 1024.0 * 1024.0;

fn run(count: u64, first_request: fixture::FirstRequest) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let now = time::OffsetDateTime::now_utc();
    let (state, _dir) = fixture::state(now)?;
    let store = Arc::new(state.stores.sessions.clone());
    let (rss_before, _) = fixture::memory()?;
    let started = Instant::now();
    let ids = runtime.block_on(fixture::fill(&state, &store, count, first_request))?;
    let took = started.elapsed();
    let (rss_after, hwm) = fixture::memory()?;
    let cached = state.sessions.cache().len();
    let expected = match first_request {
        fixture::FirstRequest::Make => ids.len(),
        fixture::FirstRequest::Skip => 0,
    };
    if cached != expected {
        return Err(format!("{cached} sessions cached of {}", ids.len()));
    }
    // The IDs the fill returned are this program's, not the gateway's: leave them out.
    let ids_bytes = (ids.capacity() * std::mem::size_of_val(&ids[..1])) as u64;
    let used = rss_after
        .saturating_sub(rss_before)
        .saturating_sub(ids_bytes);
    println!(
        "sessions {count}{}: RSS {:.1} MiB -> {:.1} MiB (peak {:.1} MiB); {} bytes/session; \
         {:.2} s to sign in ({:.1} us/login)",
        match first_request {
            fixture::FirstRequest::Make => "",
            fixture::FirstRequest::Skip => " (logins only)",
        },
        rss_before as f64 / MIB,
        rss_after as f64 / MIB,
        hwm as f64 / MIB,
        used / count.max(1),
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / count.max(1) as f64,
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count = args.first().and_then(|n| n.parse::<u64>().ok());
    let first_request = match args.get(1).map(String::as_str) {
        None => Some(fixture::FirstRequest::Make),
        Some("--logins-only") => Some(fixture::FirstRequest::Skip),
        Some(_) => None,
    };
    let (Some(count), Some(first_request)) = (count.filter(|n| *n > 0), first_request) else {
        eprintln!("usage: session_memory <number of sessions> [--logins-only]");
        return ExitCode::from(2);
    };
    match run(count, first_request) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("session_memory: {e}");
            ExitCode::FAILURE
        }
    }
}
