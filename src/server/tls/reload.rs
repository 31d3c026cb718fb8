//! The certificate the TLS listener presents, swapped in place when the files change or on
//! SIGHUP (an ACME client renews the files, then signals or not): each handshake takes the pair
//! current at its start, so no connection is dropped. A pair that does not load (a half-written
//! file, a key for another certificate) is logged and the old one kept; the files are tried
//! again at the next change or signal.

use std::path::Path;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::{TlsFiles, load};

/// How often the files' modification times are looked at.
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// The pair served now, and where it came from.
#[derive(Debug)]
pub struct CertificateSlot {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
    provider: Arc<CryptoProvider>,
}

impl CertificateSlot {
    pub fn new(files: TlsFiles, first: CertifiedKey, provider: Arc<CryptoProvider>) -> Self {
        Self {
            files,
            current: RwLock::new(Arc::new(first)),
            provider,
        }
    }

    /// Read the files again; keep the old pair when they do not load.
    pub fn reload(&self, why: &str) {
        match load(&self.files, &self.provider) {
            Ok(pair) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(pair);
                tracing::info!(
                    cert = %self.files.cert.display(),
                    "TLS certificate reloaded ({why})"
                );
            }
            Err(e) => {
                tracing::error!("TLS certificate not reloaded ({why}), the old one stays: {e}")
            }
        }
    }

    fn stamp(&self) -> (Option<SystemTime>, Option<SystemTime>) {
        (modified(&self.files.cert), modified(&self.files.key))
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl ResolvesServerCert for CertificateSlot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(|p| p.into_inner()),
        ))
    }
}

/// Follow the files while the slot is in use: reload on SIGHUP, and when either file's
/// modification time changes (looked at every [`POLL_INTERVAL`]). Ends at the first signal or
/// look after the last acceptor holding the slot is gone (a configuration reload builds a new
/// one), so reloads do not pile up watchers that each reload a certificate nobody serves. Run
/// it as a task on any runtime.
pub async fn watch(slot: Weak<CertificateSlot>) {
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let Some(mut seen) = slot.upgrade().map(|slot| slot.stamp()) else {
        return;
    };
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        #[cfg(unix)]
        let signalled = async {
            match hangup.as_mut() {
                Some(h) => h.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let signalled = std::future::pending::<Option<()>>();
        let hung_up = tokio::select! {
            _ = signalled => true,
            _ = tick.tick() => false,
        };
        let Some(slot) = slot.upgrade() else {
            return;
        };
        if hung_up {
            seen = slot.stamp();
            slot.reload("SIGHUP");
        } else {
            let now = slot.stamp();
            if now != seen {
                seen = now;
                slot.reload("the files changed");
            }
        }
    }
}
