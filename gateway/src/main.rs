//! `promptgate`: the gateway binary. Static bootstrap settings come from flags and the
//! environment; routes, providers and prices come from the `--config` file (reloaded live)
//! or, on a managed gateway (`--control-plane`), from the control plane's snapshots.

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
use promptgate::config::load::parse_yaml;
use promptgate::config::load_file;
use promptgate::config::snapshot::{compile, Snapshot};
use promptgate::config::watch::ConfigWatcher;
use promptgate::managed::control::ControlPlane;
use promptgate::managed::traces::{ShipperIdentity, TraceShipper, TraceSink};
use promptgate::managed::watch::{restore, ManagedSettings, SnapshotWatcher};
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
    #[arg(
        long,
        env = "PROMPTGATE_CONFIG",
        conflicts_with = "control_plane",
        required_unless_present = "control_plane"
    )]
    config: Option<PathBuf>,
    /// Managed mode: the control plane's URL; the config comes from its snapshots. The key
    /// is read from PROMPTGATE_CONTROL_PLANE_KEY.
    #[arg(long, requires_all = ["project", "environment"])]
    control_plane: Option<String>,
    /// Managed mode: the project (name or id) whose snapshot to serve.
    #[arg(long, requires = "control_plane")]
    project: Option<String>,
    /// Managed mode: the environment (`dev`, `staging`, `prod`, ...).
    #[arg(long, requires = "control_plane")]
    environment: Option<String>,
    /// Managed mode: where the last good snapshot is kept.
    #[arg(long, default_value = ".promptgate-state")]
    state_dir: PathBuf,
    /// Managed mode: trace records queued for shipping before new ones are dropped.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    trace_queue: u32,
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
    let managed = managed_setup(&cli, &clients)?;
    let gateway = match (&managed, &cli.config) {
        (Some(m), _) => {
            let restored = restore(&m.settings, &clients);
            let configured = restored.is_some();
            let snapshot = match restored {
                Some(snapshot) => {
                    tracing::info!(version = %snapshot.version, "serving the persisted snapshot until the control plane answers");
                    snapshot
                }
                None => empty_snapshot(&clients)?,
            };
            let gateway = Gateway::new(snapshot, clients).context("creating metrics")?;
            gateway.set_configured(configured);
            gateway
        }
        (None, Some(path)) => {
            let snapshot = load_file(path, &clients)?;
            tracing::info!(version = %snapshot.version, config = %path.display(), "config loaded");
            Gateway::new(snapshot, clients).context("creating metrics")?
        }
        (None, None) => anyhow::bail!("either --config or --control-plane is required"),
    };
    let gateway = Arc::new(gateway);

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
    server.add_service(api);
    server.add_service(admin);
    match (managed, &cli.config) {
        (Some(m), _) => {
            let (sink, queue) = TraceSink::channel(m.trace_queue);
            if gateway.traces.set(sink).is_err() {
                anyhow::bail!("trace shipping was set up twice");
            }
            let identity = ShipperIdentity {
                project: m.settings.project.clone(),
                environment: m.settings.environment.clone(),
                gateway: gateway_instance_id(),
            };
            let shipper = TraceShipper::new(gateway.clone(), m.control.clone(), identity, queue);
            server.add_service(background_service("trace-shipper", shipper));
            let watcher = SnapshotWatcher {
                gateway,
                control: m.control,
                settings: m.settings,
            };
            server.add_service(background_service("snapshot-watch", watcher));
        }
        (None, Some(path)) => {
            let watcher = ConfigWatcher::new(
                gateway,
                path.clone(),
                Duration::from_millis(cli.config_poll_ms.max(50)),
            );
            server.add_service(background_service("config-watch", watcher));
        }
        (None, None) => {}
    }
    tracing::info!(listen = %cli.listen, admin = %cli.admin_listen, "promptgate starting");
    server.run_forever();
}

/// What a managed gateway needs besides the gateway itself.
struct Managed {
    control: Arc<ControlPlane>,
    settings: ManagedSettings,
    trace_queue: usize,
}

/// How long one snapshot long-poll waits for a change.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(30);

fn managed_setup(cli: &Cli, clients: &ClientFactory) -> anyhow::Result<Option<Managed>> {
    let Some(url) = &cli.control_plane else {
        return Ok(None);
    };
    let (Some(project), Some(environment)) = (&cli.project, &cli.environment) else {
        anyhow::bail!("--control-plane needs --project and --environment");
    };
    let key = std::env::var("PROMPTGATE_CONTROL_PLANE_KEY")
        .ok()
        .filter(|k| !k.is_empty())
        .context("--control-plane needs the gateway key in PROMPTGATE_CONTROL_PLANE_KEY")?;
    let control = ControlPlane::new(url, &key, clients).map_err(anyhow::Error::msg)?;
    Ok(Some(Managed {
        control: Arc::new(control),
        settings: ManagedSettings {
            project: project.clone(),
            environment: environment.clone(),
            state_dir: cli.state_dir.clone(),
            wait: SNAPSHOT_WAIT,
        },
        trace_queue: cli.trace_queue as usize,
    }))
}

/// What a managed gateway serves before it has any snapshot: no routes (and not ready).
fn empty_snapshot(clients: &ClientFactory) -> anyhow::Result<Snapshot> {
    let raw = parse_yaml("providers: {}").map_err(anyhow::Error::msg)?;
    compile(raw, String::new(), clients, |_| None).map_err(anyhow::Error::msg)
}

/// This process among the project's gateways, for the control plane's records.
fn gateway_instance_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "promptgate".to_owned());
    format!("{host}-{}", std::process::id())
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
