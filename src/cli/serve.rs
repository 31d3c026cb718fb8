//! `samlgate serve --config FILE`: validate, build the gateway, raise the descriptor limit for
//! the connection cap, listen, and serve on the event loops until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use tokio::net::TcpListener;

use crate::config::{self, ConnectionLimits};
use crate::gateway::{GatewayError, build, system_clock};
use crate::server::{EventLoops, descriptors, serve_with_limits, shutdown_signal};

/// Connections the metrics listener serves at once: scrapers, not browsers.
const METRICS_MAX_CONNECTIONS: std::num::NonZeroUsize = match std::num::NonZeroUsize::new(64) {
    Some(n) => n,
    None => std::num::NonZeroUsize::MIN,
};

/// Run the gateway.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The gateway's TOML configuration file.
    #[arg(long, short)]
    pub config: PathBuf,
}

/// The connection cap to serve with: the file descriptor limit raised to the hard limit, the
/// cap checked against it. `None` (with the reason on stderr) when the configured cap does not
/// fit.
fn cap_for_descriptors(limits: &ConnectionLimits) -> Option<std::num::NonZeroUsize> {
    let limit = match descriptors::raise_to_hard_limit() {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(
                "cannot read the file descriptor limit ({e}): serving with server.max_connections unchecked"
            );
            return Some(limits.max_connections_or_default());
        }
    };
    let decision = descriptors::decide(limits, limit.now);
    let line = descriptors::describe(decision, &limit);
    match decision {
        descriptors::CapDecision::Fits(_) => {
            tracing::info!(raised_from = limit.before, "{line}")
        }
        descriptors::CapDecision::Lowered { .. } => tracing::warn!("{line}"),
        descriptors::CapDecision::TooHigh { .. } => eprintln!("error: {line}"),
    }
    decision.cap()
}

pub fn run_serve(args: ServeArgs) -> ExitCode {
    let loaded = match config::load(&args.config) {
        Ok(l) => l,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::FAILURE;
        }
    };
    crate::ops::logging::init(loaded.config.server.log_json);
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let mut limits = loaded.config.server.connections;
    let Some(cap) = cap_for_descriptors(&limits) else {
        return ExitCode::FAILURE;
    };
    limits.max_connections = Some(cap);
    let count = loaded.config.server.event_loop_count();
    let loops = match EventLoops::new(count) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot start the event loops: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = loaded.config.server.listen;
    let public = loaded.config.server.public_url.clone();
    let metrics_addr = loaded.config.server.metrics_listen;
    let redirect_addr = loaded.config.server.redirect_http_listen;
    let redirect_to = public.to_string();
    let tls = loaded.config.server.tls.is_some();
    let config_path = args.config.clone();
    let started = loops.block_on(async move {
        let (router, state) = build(loaded.config, system_clock())?;
        // SIGHUP: read the file again, validate it as `check` does, swap it in.
        let router = crate::gateway::reload::Reloadable::new(router, system_clock());
        router
            .reload_on_sighup(config_path.clone())
            .map_err(GatewayError::Serve)?;
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|source| GatewayError::Listen { addr, source })?;
        if let Some(metrics_addr) = metrics_addr {
            let metrics =
                TcpListener::bind(metrics_addr)
                    .await
                    .map_err(|source| GatewayError::Listen {
                        addr: metrics_addr,
                        source,
                    })?;
            tracing::info!(%metrics_addr, "/metrics served here only");
            let metrics_limits = ConnectionLimits {
                max_connections: Some(METRICS_MAX_CONNECTIONS),
                ..limits
            };
            // Runs on the first event loop once it serves.
            tokio::spawn(async move {
                let router = crate::gateway::metrics_router(state);
                if let Err(e) =
                    serve_with_limits(metrics, router, metrics_limits, shutdown_signal()).await
                {
                    tracing::error!("metrics listener: {e}");
                }
            });
        }
        if let Some(redirect_addr) = redirect_addr {
            let plain =
                TcpListener::bind(redirect_addr)
                    .await
                    .map_err(|source| GatewayError::Listen {
                        addr: redirect_addr,
                        source,
                    })?;
            tracing::info!(%redirect_addr, "plain HTTP here only redirects to {redirect_to}");
            let router = crate::server::tls::redirect::router(&redirect_to);
            // Runs on the first event loop once it serves.
            tokio::spawn(async move {
                if let Err(e) = serve_with_limits(plain, router, limits, shutdown_signal()).await {
                    tracing::error!("redirect listener: {e}");
                }
            });
        }
        Ok::<_, GatewayError>((router, listener))
    });
    let result = started.and_then(|(router, listener)| {
        tracing::info!(
            %addr,
            %public,
            event_loops = count,
            tls,
            max_connections = cap.get(),
            header_read_timeout_s = limits.header_read_timeout.as_secs(),
            keepalive_timeout_s = limits.keepalive_timeout.as_secs(),
            "samlgate listening"
        );
        loops
            .serve_with(listener, router, limits, shutdown_signal())
            .map_err(GatewayError::Serve)
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
