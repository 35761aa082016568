//! `promptctl`: the promptgate control plane (REST service) and its CLI.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use control_plane::oidc::{OidcConfig, OidcVerifier};
use control_plane::{app_with, audit, AppState, Store};

#[derive(Parser)]
#[command(name = "promptctl", version, about = "promptgate control plane")]
struct Cli {
    /// SQLite (default, file in the working directory) or PostgreSQL URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://promptctl.db?mode=rwc",
        global = true,
        hide_env_values = true
    )]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the REST service (`/api/v1/...`).
    Serve {
        #[arg(long, default_value = "127.0.0.1:7070")]
        listen: String,
        /// Accept OIDC bearer tokens from this issuer (users are matched by email).
        #[arg(long, env = "PROMPTCTL_OIDC_ISSUER", requires = "oidc_audience")]
        oidc_issuer: Option<String>,
        /// The `aud` OIDC tokens must carry.
        #[arg(long, env = "PROMPTCTL_OIDC_AUDIENCE", requires = "oidc_issuer")]
        oidc_audience: Option<String>,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the audit log's hash chain; exits 2 when it was tampered with. Prints the head
    /// (`SEQ:HASH`); keep it elsewhere and pass it back with `--anchor` to detect truncation.
    Verify {
        /// A head printed by an earlier run, `SEQ:HASH`.
        #[arg(long)]
        anchor: Option<String>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("promptctl: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("promptctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let store = Store::connect(&cli.database_url)
        .await
        .context("opening the database")?;
    match cli.command {
        Command::Serve {
            listen,
            oidc_issuer,
            oidc_audience,
        } => {
            if let Some(key) = store.bootstrap().await.context("bootstrapping")? {
                // Printed once, to stdout only: it is never stored in clear nor logged.
                println!("bootstrap admin API key (shown once, store it now): {key}");
            }
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            tracing::info!(addr = %listener.local_addr()?, "promptctl listening");
            let mut state = AppState::new(store);
            if let (Some(issuer), Some(audience)) = (oidc_issuer, oidc_audience) {
                tracing::info!(%issuer, %audience, "accepting OIDC bearer tokens");
                let verifier = OidcVerifier::new(OidcConfig { issuer, audience })
                    .map_err(|e| anyhow::anyhow!("setting up OIDC: {e}"))?;
                state = state.with_oidc(verifier);
            }
            axum::serve(listener, app_with(state))
                .with_graceful_shutdown(shutdown_signal())
                .await
                .context("serving")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify { anchor },
        } => {
            let anchor = match anchor.as_deref().map(parse_anchor) {
                Some(None) => anyhow::bail!("--anchor must be SEQ:HASH"),
                Some(Some(a)) => Some(a),
                None => None,
            };
            verify(&store, anchor).await
        }
    }
}

fn parse_anchor(s: &str) -> Option<(i64, &str)> {
    let (seq, hash) = s.split_once(':')?;
    Some((seq.parse().ok()?, hash))
}

async fn verify(store: &Store, anchor: Option<(i64, &str)>) -> anyhow::Result<ExitCode> {
    match audit::verify_with_anchor(&store.pool, anchor).await {
        Ok(head) => {
            println!(
                "audit log OK: {} records, chain intact, head {}:{}",
                head.records, head.seq, head.hash
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(audit::VerifyError::Broken { seq, reason }) => {
            println!("audit log TAMPERED at record {seq}: {reason}");
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
