//! `promptgate`: the gateway binary. Static bootstrap settings come from flags and the
//! environment; routes, providers and prices come from the `--config` file (reloaded live).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use pingora::apps::http_app::HttpServer;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::{ExecutionPhase, Server};
use pingora::services::background::background_service;
use pingora::services::listening::Service;

use promptgate::admin::AdminApp;
use promptgate::config::load_file;
use promptgate::config::watch::ConfigWatcher;
use promptgate::pipeline::Gateway;
use promptgate::server::GatewayProxy;
use promptgate::upstream::client::ClientFactory;

/// mimalloc: allocation is a visible share of per-request CPU, and glibc's malloc is slower
/// for the small, short-lived allocations of a proxy (measured with loadtests/).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An OpenAI-compatible LLM gateway: point any OpenAI SDK's base_url at it.
#[derive(Debug, Parser)]
#[command(name = "promptgate", version)]
struct Cli {
    /// The YAML config: providers, routes, prices. Reloaded on change and on SIGHUP.
    #[arg(long, env = "PROMPTGATE_CONFIG")]
    config: PathBuf,
    /// Address for the OpenAI-compatible API.
    #[arg(long, env = "PROMPTGATE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Address for /healthz, /readyz, /metrics and /config.
    #[arg(
        long,
        env = "PROMPTGATE_ADMIN_LISTEN",
        default_value = "127.0.0.1:9090"
    )]
    admin_listen: String,
    /// PEM certificate chain: serve the API over TLS (rustls).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Worker threads for the API listener.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seconds in-flight requests (streams included) get to finish after SIGTERM.
    #[arg(long, default_value_t = 30)]
    shutdown_timeout_secs: u64,
    /// Take over the listening sockets of a running promptgate (graceful upgrade; send the old
    /// one SIGQUIT).
    #[arg(long)]
    upgrade: bool,
    /// The socket that old and new processes use to hand over listeners on --upgrade.
    #[arg(long, default_value = "/tmp/promptgate_upgrade.sock")]
    upgrade_sock: String,
    /// Write the process id here.
    #[arg(long, default_value = "/tmp/promptgate.pid")]
    pid_file: String,
    /// How often the config file is checked for changes, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    config_poll_ms: u64,
}

fn main() {
    if let Err(err) = run() {
        eprintln!("promptgate: {err:#}");
        std::process::exit(2);
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let _ = rustls::crypto::ring::default_provider().install_default();

    let clients = ClientFactory::new();
    let snapshot = load_file(&cli.config, &clients)?;
    tracing::info!(version = %snapshot.version, config = %cli.config.display(), "config loaded");
    let gateway = Arc::new(Gateway::new(snapshot, clients).context("creating metrics")?);

    let opt = Opt {
        upgrade: cli.upgrade,
        daemon: false,
        nocapture: false,
        test: false,
        conf: None,
    };
    let conf = ServerConf {
        threads: cli.threads.max(1),
        // One current-thread runtime per worker thread: no work-stealing bookkeeping on the
        // hot path (measured with loadtests/); each connection stays on the thread that
        // accepted it.
        work_stealing: false,
        upgrade_sock: cli.upgrade_sock.clone(),
        pid_file: cli.pid_file.clone(),
        // Pingora waits this long after SIGTERM before stopping its runtimes; the drain
        // watcher below exits as soon as the last in-flight request has finished.
        grace_period_seconds: Some(cli.shutdown_timeout_secs),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(opt, conf);
    server.bootstrap();
    spawn_drain_watcher(&server, gateway.clone());

    let mut api = pingora::proxy::http_proxy_service_with_name(
        &server.configuration,
        GatewayProxy {
            gateway: gateway.clone(),
        },
        "promptgate-api",
    );
    match (&cli.tls_cert, &cli.tls_key) {
        (Some(cert), Some(key)) => api
            .add_tls(&cli.listen, &cert.to_string_lossy(), &key.to_string_lossy())
            .context("setting up TLS")?,
        _ => api.add_tcp(&cli.listen),
    }
    let mut admin = Service::new(
        "promptgate-admin".to_owned(),
        HttpServer::new_app(AdminApp {
            gateway: gateway.clone(),
        }),
    );
    admin.add_tcp(&cli.admin_listen);
    let watcher = background_service(
        "config-watch",
        ConfigWatcher::new(
            gateway,
            cli.config.clone(),
            Duration::from_millis(cli.config_poll_ms.max(50)),
        ),
    );
    server.add_service(api);
    server.add_service(admin);
    server.add_service(watcher);
    tracing::info!(listen = %cli.listen, admin = %cli.admin_listen, "promptgate starting");
    server.run_forever();
}

/// After SIGTERM (or the hand-over of a graceful upgrade) Pingora stops accepting
/// connections; this exits the process once every in-flight request, streams included, has
/// finished, instead of always waiting out the whole grace period.
fn spawn_drain_watcher(server: &Server, gateway: Arc<Gateway>) {
    let mut phases = server.watch_execution_phase();
    std::thread::spawn(move || {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match phases.blocking_recv() {
                Ok(
                    ExecutionPhase::GracefulTerminate
                    | ExecutionPhase::GracefulUpgradeTransferringFds,
                ) => {
                    gateway.set_ready(false);
                }
                Ok(ExecutionPhase::ShutdownGracePeriod) => break,
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
        gateway.set_ready(false);
        while gateway.metrics.inflight.get() > 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::info!("all in-flight requests finished; exiting");
        std::process::exit(0);
    });
}
