//! `promptctl projects list|create|show`.

use clap::Subcommand;
use serde_json::json;

use super::context::Context;
use super::output::{cell, fields, items, Table};
use super::{print, CliResult};

#[derive(Subcommand, Debug)]
pub enum ProjectsCommand {
    /// Projects the key can see.
    List,
    /// Create a project (org admins).
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// Approvals (by non-authors) a version needs, 1..=10 [server default: 1].
        #[arg(long)]
        required_approvals: Option<i64>,
    },
    /// One project's settings [default: --project].
    Show { project: Option<String> },
}

pub async fn run(ctx: &Context, command: ProjectsCommand) -> CliResult<()> {
    match command {
        ProjectsCommand::List => {
            let answer = ctx.api.get("/api/v1/projects").await?;
            let list = items(&answer)?;
            print(ctx, &answer, |_| {
                Table::of(
                    list,
                    &[
                        ("id", "id"),
                        ("name", "name"),
                        ("approvals", "required_approvals"),
                        ("description", "description"),
                        ("created", "created_at"),
                    ],
                )
                .render()
            });
        }
        ProjectsCommand::Create {
            name,
            description,
            required_approvals,
        } => {
            let mut req = json!({"name": name});
            if let Some(d) = description {
                req["description"] = json!(d);
            }
            if let Some(r) = required_approvals {
                req["required_approvals"] = json!(r);
            }
            let answer = ctx.api.post("/api/v1/projects", &req).await?;
            print(ctx, &answer, |p| {
                format!("created project {} (id {})\n", cell(&p["name"]), p["id"])
            });
        }
        ProjectsCommand::Show { project } => {
            let id = match project {
                Some(p) => ctx.resolve_project(Some(&p)).await?,
                None => ctx.project_id().await?,
            };
            let answer = ctx.api.get(&format!("/api/v1/projects/{id}")).await?;
            print(ctx, &answer, |p| fields(p, &[]));
        }
    }
    Ok(())
}
