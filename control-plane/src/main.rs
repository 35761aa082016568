//! `promptctl`: the promptgate control plane (REST service) and its CLI.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use control_plane::oidc::{OidcConfig, OidcVerifier};
use control_plane::{app_with, audit, AppState, Store};

mod cli;

use cli::audit::AuditCommand;

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
    #[command(flatten)]
    client: cli::ClientArgs,
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
    /// Audit log: list records, verify the hash chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    #[command(flatten)]
    Client(cli::Command),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let matches = Cli::command().get_matches();
    let database_given = !matches!(
        matches.value_source("database_url"),
        None | Some(ValueSource::DefaultValue)
    );
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
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
    match runtime.block_on(run(cli, database_given)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("promptctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `database_given`: DATABASE_URL or `--database-url` was set, not just defaulted.
async fn run(cli: Cli, database_given: bool) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve {
            listen,
            oidc_issuer,
            oidc_audience,
        } => {
            let store = open_store(&cli.database_url).await?;
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
        } if database_given => {
            let anchor = anchor
                .as_deref()
                .map(cli::audit::parse_anchor)
                .transpose()?;
            let store = open_store(&cli.database_url).await?;
            let result = audit::verify_with_anchor(&store.pool, anchor).await;
            Ok(cli::audit::report(cli.client.json, result))
        }
        Command::Audit {
            command: AuditCommand::Verify { anchor },
        } => {
            let ctx = cli::Context::new(&cli.client)?;
            Ok(cli::audit::verify_remote(&ctx, anchor.as_deref()).await?)
        }
        Command::Audit {
            command: AuditCommand::List { limit, after },
        } => {
            let ctx = cli::Context::new(&cli.client)?;
            cli::audit::list(&ctx, limit, after).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Client(command) => Ok(cli::run(cli.client, command).await?),
    }
}

async fn open_store(url: &str) -> anyhow::Result<Store> {
    Store::connect(url).await.context("opening the database")
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
