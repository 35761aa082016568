//! `promptctl`: the promptgate control plane (REST service) and its CLI.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use control_plane::{app, audit, Store};

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
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the audit log's hash chain; exits non-zero when it was tampered with.
    Verify,
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
        Command::Serve { listen } => {
            if let Some(key) = store.bootstrap().await.context("bootstrapping")? {
                // Printed once, to stdout only: it is never stored in clear nor logged.
                println!("bootstrap admin API key (shown once, store it now): {key}");
            }
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            tracing::info!(addr = %listener.local_addr()?, "promptctl listening");
            axum::serve(listener, app(store))
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
                .context("serving")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => match audit::verify(&store.pool).await {
            Ok(n) => {
                println!("audit log OK: {n} records, chain intact");
                Ok(ExitCode::SUCCESS)
            }
            Err(audit::VerifyError::Broken { seq, reason }) => {
                println!("audit log TAMPERED at record {seq}: {reason}");
                Ok(ExitCode::from(2))
            }
            Err(e) => Err(e.into()),
        },
    }
}
