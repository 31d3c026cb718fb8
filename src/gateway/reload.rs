//! Reloading the configuration (SIGHUP): read and validate the file exactly as `samlgate check`
//! does, build a new gateway over the same stores and metrics (sessions, logins in flight and
//! counters carry over), and swap it in atomically for the next request. A configuration with
//! errors is refused with those errors and the running one keeps serving. Requests in flight
//! finish on the gateway they started with.

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::{self, ConfigError, ConnectionLimits, Problem};
use crate::server::ServeApp;

use super::service::Gateway;
use super::state::{AppState, Clock, StateError};

/// The gateway in force, swapped by [`Reloadable::reload`].
#[derive(Clone)]
pub struct Reloadable {
    current: Arc<ArcSwap<Gateway>>,
    clock: Clock,
}

/// Why a reload was refused; the running configuration keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    State(#[from] StateError),
    #[error(
        "[session] store changed: sessions cannot move between stores while running; restart to apply it"
    )]
    StoreChanged,
    #[error("cannot follow IdP metadata URLs: {0}")]
    Sources(String),
}

impl Reloadable {
    pub fn new(gateway: Gateway, clock: Clock) -> Self {
        Reloadable {
            current: Arc::new(ArcSwap::from_pointee(gateway)),
            clock,
        }
    }

    /// The gateway in force now.
    pub fn current(&self) -> Arc<Gateway> {
        self.current.load_full()
    }

    /// Read `path`, validate it, and swap in a gateway for it. Returns the configuration's
    /// warnings, and the settings that only a restart applies.
    pub fn reload(&self, path: &Path) -> Result<(Vec<Problem>, Vec<&'static str>), ReloadError> {
        let loaded = config::load(path)?;
        let old = self.current();
        let old_state = old.state();
        if loaded.config.session.store != old_state.config.session.store {
            return Err(ReloadError::StoreChanged);
        }
        let before = &old_state.config.server;
        let after = &loaded.config.server;
        let mut need_restart = Vec::new();
        if before.listen != after.listen {
            need_restart.push("server.listen");
        }
        if before.metrics_listen != after.metrics_listen {
            need_restart.push("server.metrics_listen");
        }
        if before.workers != after.workers {
            need_restart.push("server.workers");
        }
        if before.connections != after.connections {
            need_restart.push("server connection limits");
        }
        let state = AppState::with_stores_and_metrics(
            loaded.config,
            self.clock.clone(),
            old_state.stores.clone(),
            old_state.metrics.clone(),
        )?;
        super::follow_idp_sources(&state).map_err(|e| ReloadError::Sources(e.to_string()))?;
        let gateway = super::gateway(Arc::new(state));
        self.current.store(Arc::new(gateway));
        old_state.idp_metadata.retire();
        Ok((loaded.warnings, need_restart))
    }

    /// Reload on every SIGHUP until the process ends (inside a Tokio runtime).
    #[cfg(unix)]
    pub fn reload_on_sighup(&self, path: std::path::PathBuf) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = signal(SignalKind::hangup())?;
        let this = self.clone();
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                let reloading = this.clone();
                let file = path.clone();
                let result = tokio::task::spawn_blocking(move || reloading.reload(&file)).await;
                match result {
                    Ok(Ok((warnings, need_restart))) => {
                        for w in &warnings {
                            tracing::warn!("{w}");
                        }
                        tracing::info!(
                            config = %path.display(),
                            warnings = warnings.len(),
                            "configuration reloaded (SIGHUP): the next requests use it"
                        );
                        for setting in need_restart {
                            tracing::warn!(
                                "reload: {setting} changed; it takes effect at the next restart"
                            );
                        }
                    }
                    Ok(Err(e)) => tracing::error!(
                        config = %path.display(),
                        "configuration reload refused (SIGHUP); the running configuration keeps serving: {e}"
                    ),
                    Err(e) => tracing::error!("configuration reload failed: {e}"),
                }
            }
        });
        Ok(())
    }
}

impl ServeApp for Reloadable {
    fn limits(&self) -> ConnectionLimits {
        self.current.load().limits()
    }

    fn answer(
        &self,
        client: std::net::SocketAddr,
        request: axum::extract::Request,
    ) -> impl std::future::Future<
        Output = Result<axum::response::Response, std::convert::Infallible>,
    > + Send
    + use<> {
        self.current.load().answer(client, request)
    }

    /// The acceptor of the configuration in use when the connection arrives.
    fn tls(&self) -> Option<tokio_rustls::TlsAcceptor> {
        self.current.load().tls()
    }
}
