//! `promptctl env set|show|list` (the gateway config of an environment) and
//! `promptctl policies push|list|delete` (routing policy documents). The control plane checks
//! both with the gateway's own validation before anything is applied.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::{json, Value};

use super::context::{segment, Context};
use super::output::{cell, items, Table};
use super::{print, CliError, CliResult};

#[derive(Subcommand, Debug)]
pub enum EnvCommand {
    /// Set an environment's gateway config from a YAML file (admins). Rejected whole, with
    /// the gateway's message, when the snapshot it yields would not validate.
    Set {
        /// Environment: dev, staging, prod or a custom one.
        environment: String,
        /// Gateway config YAML (providers, routes, ...; routes may bind prompts).
        file: PathBuf,
    },
    /// An environment's gateway config.
    Show { environment: String },
    /// Environments that have a config.
    List,
}

#[derive(Subcommand, Debug)]
pub enum PoliciesCommand {
    /// Add a routing policy document from a YAML file (editors). Rejected whole, with the
    /// gateway's message, when it does not validate.
    Push {
        /// Document name.
        #[arg(long)]
        name: String,
        file: PathBuf,
    },
    /// Policy documents of the project.
    List,
    /// Delete a policy document.
    Delete { id: i64 },
}

fn read(file: &Path) -> CliResult<String> {
    std::fs::read_to_string(file)
        .map_err(|e| CliError::Local(format!("reading {}: {e}", file.display())))
}

pub async fn env(ctx: &Context, command: EnvCommand) -> CliResult<()> {
    let project = ctx.project_id().await?;
    match command {
        EnvCommand::Set { environment, file } => {
            let yaml = read(&file)?;
            let path = format!(
                "/api/v1/projects/{project}/environments/{}/config",
                segment(&environment)
            );
            let answer = ctx.api.put(&path, &json!({"yaml": yaml})).await?;
            print(ctx, &answer, |c| {
                format!(
                    "set the gateway config of {} (updated {})\n",
                    cell(&c["environment"]),
                    cell(&c["updated_at"])
                )
            });
        }
        EnvCommand::Show { environment } => {
            let path = format!(
                "/api/v1/projects/{project}/environments/{}/config",
                segment(&environment)
            );
            let answer = ctx.api.get(&path).await?;
            print(ctx, &answer, |c| {
                c["yaml"].as_str().unwrap_or_default().to_owned()
            });
        }
        EnvCommand::List => {
            let answer = ctx
                .api
                .get(&format!("/api/v1/projects/{project}/environments"))
                .await?;
            let list = items(&answer)?;
            print(ctx, &answer, |_| {
                Table::of(
                    list,
                    &[("ENVIRONMENT", "environment"), ("UPDATED", "updated_at")],
                )
                .render()
            });
        }
    }
    Ok(())
}

pub async fn policies(ctx: &Context, command: PoliciesCommand) -> CliResult<()> {
    match command {
        PoliciesCommand::Push { name, file } => {
            let project = ctx.project_id().await?;
            let req = json!({"project_id": project, "name": name, "yaml": read(&file)?});
            let answer = ctx.api.post("/api/v1/policies", &req).await?;
            print(ctx, &answer, |p: &Value| {
                format!(
                    "added policy {} (id {})\n",
                    cell(&p["name"]),
                    cell(&p["id"])
                )
            });
        }
        PoliciesCommand::List => {
            let project = ctx.project_id().await?;
            let answer = ctx
                .api
                .get(&format!("/api/v1/projects/{project}/policies"))
                .await?;
            let list = items(&answer)?;
            print(ctx, &answer, |_| {
                Table::of(
                    list,
                    &[("ID", "id"), ("NAME", "name"), ("CREATED", "created_at")],
                )
                .render()
            });
        }
        PoliciesCommand::Delete { id } => {
            let answer = ctx.api.delete(&format!("/api/v1/policies/{id}")).await?;
            print(ctx, &answer, |_| format!("deleted policy {id}\n"));
        }
    }
    Ok(())
}
