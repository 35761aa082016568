//! `promptctl users list|create` (org admins) and `promptctl members list|set|remove`.

use clap::Subcommand;
use serde_json::json;

use super::context::Context;
use super::output::{cell, items, Table};
use super::{print, CliResult};

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Users of the organization.
    List,
    /// Add a user (then make them a member of projects).
    Create {
        name: String,
        #[arg(long)]
        email: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum MembersCommand {
    /// Members of the project.
    List,
    /// Make a user a member with a role, or change their role.
    Set {
        /// User id (see `promptctl users list`).
        user: i64,
        /// viewer, editor or admin.
        role: String,
    },
    /// Remove a user from the project; their keys of the project stop working.
    Remove { user: i64 },
}

pub async fn users(ctx: &Context, command: UsersCommand) -> CliResult<()> {
    match command {
        UsersCommand::List => {
            let answer = ctx.api.get("/api/v1/users").await?;
            let list = items(&answer)?;
            print(ctx, &answer, |_| {
                Table::of(
                    list,
                    &[
                        ("id", "id"),
                        ("name", "name"),
                        ("email", "email"),
                        ("org_admin", "is_org_admin"),
                        ("created", "created_at"),
                    ],
                )
                .render()
            });
        }
        UsersCommand::Create { name, email } => {
            let mut req = json!({"name": name});
            if let Some(e) = email {
                req["email"] = json!(e);
            }
            let answer = ctx.api.post("/api/v1/users", &req).await?;
            print(ctx, &answer, |u| {
                format!(
                    "created user {} (id {})\n",
                    cell(&u["name"]),
                    cell(&u["id"])
                )
            });
        }
    }
    Ok(())
}

pub async fn members(ctx: &Context, command: MembersCommand) -> CliResult<()> {
    let project = ctx.project_id().await?;
    let base = format!("/api/v1/projects/{project}/members");
    match command {
        MembersCommand::List => {
            let answer = ctx.api.get(&base).await?;
            let list = items(&answer)?;
            print(ctx, &answer, |_| {
                Table::of(
                    list,
                    &[
                        ("user", "user_id"),
                        ("role", "role"),
                        ("since", "created_at"),
                    ],
                )
                .render()
            });
        }
        MembersCommand::Set { user, role } => {
            let answer = ctx
                .api
                .put(&format!("{base}/{user}"), &json!({"role": role}))
                .await?;
            print(ctx, &answer, |m| {
                format!("user {user} is {} in project {project}\n", cell(&m["role"]))
            });
        }
        MembersCommand::Remove { user } => {
            let answer = ctx.api.delete(&format!("{base}/{user}")).await?;
            print(ctx, &answer, |_| {
                format!("removed user {user} from project {project}\n")
            });
        }
    }
    Ok(())
}
