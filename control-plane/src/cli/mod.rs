//! `promptctl`'s client commands: they call a control plane's REST API with an API key and
//! print tables (or the server's JSON with `--json`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::Value;

pub mod audit;
mod config;
mod context;
mod deploy;
mod environments;
mod http;
mod keys;
mod login;
mod output;
mod people;
mod projects;
mod prompt_file;
mod prompts;
mod review;
mod traces;

pub use context::Context;

/// Where the control plane is and who calls it; flags beat environment beat the config file.
#[derive(Args, Debug)]
pub struct ClientArgs {
    /// Control plane URL [default: the saved one, else http://127.0.0.1:7070].
    #[arg(long, env = "PROMPTCTL_URL", global = true)]
    pub url: Option<String>,
    /// API key [default: the one saved by `promptctl login`].
    #[arg(long, env = "PROMPTCTL_API_KEY", global = true, hide_env_values = true)]
    pub api_key: Option<String>,
    /// Project name or id, for project-scoped commands [default: the saved one, else the
    /// only project the key sees].
    #[arg(long, env = "PROMPTCTL_PROJECT", global = true)]
    pub project: Option<String>,
    /// Print the server's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Settings file [default: $XDG_CONFIG_HOME/promptctl/config.toml or
    /// ~/.config/promptctl/config.toml].
    #[arg(long, env = "PROMPTCTL_CONFIG", global = true)]
    pub config: Option<PathBuf>,
}

/// What a client command can fail with; `main` prints it and exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server refused the request; `message` is its error message.
    #[error("{message} (HTTP {status})")]
    Api { status: u16, message: String },
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Local(String),
}

pub type CliResult<T> = Result<T, CliError>;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check an API key against the control plane and save it (with the URL) for later calls.
    /// `--api-key` (else read from stdin), `--url` and `--project` are saved.
    Login,
    /// Projects.
    Projects {
        #[command(subcommand)]
        command: projects::ProjectsCommand,
    },
    /// Prompts and their versions.
    Prompts {
        #[command(subcommand)]
        command: prompts::PromptsCommand,
    },
    /// Submit a draft version for approval.
    Submit(review::VersionRef),
    /// Approve a pending version (admins other than its author).
    Approve {
        #[command(flatten)]
        version: review::VersionRef,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Reject a pending version, saying why.
    Reject {
        #[command(flatten)]
        version: review::VersionRef,
        #[arg(long)]
        comment: String,
    },
    /// Deploy an approved version to an environment, whole or as a canary.
    Deploy(deploy::DeployArgs),
    /// Point an environment back to the prompt's previous approved version.
    Rollback {
        /// Prompt name.
        name: String,
        /// Environment (label) to roll back.
        #[arg(long = "env")]
        environment: String,
    },
    /// Gateway config of the project's environments.
    Env {
        #[command(subcommand)]
        command: environments::EnvCommand,
    },
    /// Routing policy documents of the project.
    Policies {
        #[command(subcommand)]
        command: environments::PoliciesCommand,
    },
    /// API keys of the project.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Request traces sent by managed gateways.
    Traces {
        #[command(subcommand)]
        command: traces::TracesCommand,
    },
    /// Users of the organization (org admins).
    Users {
        #[command(subcommand)]
        command: people::UsersCommand,
    },
    /// Members of the project and their roles.
    Members {
        #[command(subcommand)]
        command: people::MembersCommand,
    },
}

/// Runs one client command; the exit code is 0 unless the command says otherwise.
pub async fn run(args: ClientArgs, command: Command) -> CliResult<ExitCode> {
    let ctx = || Context::new(&args);
    match command {
        Command::Login => login::login(&args).await,
        Command::Projects { command } => projects::run(&ctx()?, command).await,
        Command::Prompts { command } => prompts::run(&ctx()?, command).await,
        Command::Submit(v) => review::submit(&ctx()?, &v).await,
        Command::Approve { version, comment } => {
            review::decide(&ctx()?, &version, comment, review::Decision::Approve).await
        }
        Command::Reject { version, comment } => {
            review::decide(&ctx()?, &version, Some(comment), review::Decision::Reject).await
        }
        Command::Deploy(d) => deploy::deploy(&ctx()?, &d).await,
        Command::Rollback { name, environment } => {
            deploy::rollback(&ctx()?, &name, &environment).await
        }
        Command::Env { command } => environments::env(&ctx()?, command).await,
        Command::Policies { command } => environments::policies(&ctx()?, command).await,
        Command::Keys { command } => keys::run(&ctx()?, command).await,
        Command::Traces { command } => traces::run(&ctx()?, command).await,
        Command::Users { command } => people::users(&ctx()?, command).await,
        Command::Members { command } => people::members(&ctx()?, command).await,
    }?;
    Ok(ExitCode::SUCCESS)
}

/// Prints `answer` as JSON when `--json` was given, else `human(answer)`.
pub(crate) fn print(ctx: &Context, answer: &Value, human: impl FnOnce(&Value) -> String) {
    if ctx.json {
        output::emit(&output::json(answer));
    } else {
        output::emit(&human(answer));
    }
}
