//! `samlgate serve --config FILE`: validate, build the gateway, raise the descriptor limit for
//! the connection cap, listen, and serve on the event loops until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use tokio::net::TcpListener;

use crate::config::{self, Config, ConnectionLimits, SessionStoreKind};
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
    #[arg(long, short, env = "SAMLGATE_CONFIG", default_value = crate::cli::DEFAULT_CONFIG)]
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

/// The one line that says what this gateway is: version, configuration file, IdPs, backend,
/// session store, listeners. A Redis URL is shown without its credentials.
pub fn start_line(config: &Config, path: &std::path::Path) -> String {
    let idps: Vec<String> = config
        .idps
        .iter()
        .map(|i| format!("{} ({})", i.name, i.policy.entity_id))
        .collect();
    let store = match &config.session.store {
        SessionStoreKind::Memory => "memory".to_string(),
        SessionStoreKind::Redis(settings) => match url::Url::parse(&settings.url) {
            Ok(mut url) => {
                let _ = url.set_password(None);
                let _ = url.set_username("");
                format!("redis {url}")
            }
            Err(_) => "redis".to_string(),
        },
    };
    let metrics = match config.server.metrics_listen {
        Some(addr) => format!("; /metrics on {addr}"),
        None => String::new(),
    };
    format!(
        "samlgate {} listening on {} for {}; config {}; IdPs: {}; backend {}; sessions in {}{metrics}",
        crate::cli::version::LONG,
        config.server.listen,
        config.server.public_url,
        path.display(),
        idps.join(", "),
        config.backend.url,
        store,
    )
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
    let started_line = start_line(&loaded.config, &args.config);
    let addr = loaded.config.server.listen;
    let metrics_addr = loaded.config.server.metrics_listen;
    let redirect_addr = loaded.config.server.redirect_http_listen;
    let redirect_to = loaded.config.server.public_url.to_string();
    let tls = loaded.config.server.tls.is_some();
    let config_path = args.config.clone();
    let started = loops.block_on(async move {
        // Listened for from here on, on the loop that serves until it completes: a SIGTERM
        // between the listener's bind (or the start line) and the first poll of a lazy future
        // would meet the default action and kill the process instead of stopping it.
        let shutdown = crate::server::shutdown_signal_registered();
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
        Ok::<_, GatewayError>((router, listener, shutdown))
    });
    let result = started.and_then(|(router, listener, shutdown)| {
        tracing::info!(
            event_loops = count,
            tls,
            max_connections = cap.get(),
            header_read_timeout_s = limits.header_read_timeout.as_secs(),
            keepalive_timeout_s = limits.keepalive_timeout.as_secs(),
            "{started_line}"
        );
        loops
            .serve_with(listener, router, limits, shutdown)
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
