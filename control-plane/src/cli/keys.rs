//! `promptctl keys create|list|revoke|rotate`. A new secret is printed once and never again.

use clap::Subcommand;
use serde_json::{json, Value};

use super::context::Context;
use super::output::{cell, items, Table};
use super::{print, CliError, CliResult};

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Issue a key in the project (admins); its secret is shown once.
    Create {
        #[arg(long)]
        name: String,
        /// viewer, editor, admin (or gateway, for managed gateways).
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Days until the key expires [default: never].
        #[arg(long = "expires-in", value_name = "DAYS")]
        expires_in: Option<i64>,
        /// User the key acts as [default: the caller's own user].
        #[arg(long = "user", value_name = "ID")]
        user: Option<i64>,
    },
    /// Keys of the project (never their secrets).
    List,
    /// Revoke a key at once.
    Revoke { id: i64 },
    /// Revoke a key and issue a replacement with the same settings; the new secret is shown once.
    Rotate { id: i64 },
}

pub async fn run(ctx: &Context, command: KeysCommand) -> CliResult<()> {
    match command {
        KeysCommand::Create {
            name,
            role,
            expires_in,
            user,
        } => {
            let project = ctx.project_id().await?;
            let user = match user {
                Some(u) => u,
                None => ctx.own_user(project).await?.ok_or_else(|| {
                    CliError::Usage(
                        "pass --user ID: this key is not a key of the project, so it has no user there"
                            .into(),
                    )
                })?,
            };
            let mut req = json!({"name": name, "user_id": user, "role": role});
            if let Some(days) = expires_in {
                req["expires_in_days"] = json!(days);
            }
            let answer = ctx
                .api
                .post(&format!("/api/v1/projects/{project}/api_keys"), &req)
                .await?;
            print(ctx, &answer, |k| issued("created", k));
        }
        KeysCommand::List => {
            let project = ctx.project_id().await?;
            let answer = ctx
                .api
                .get(&format!("/api/v1/projects/{project}/api_keys"))
                .await?;
            let list = items(&answer)?;
            print(ctx, &answer, |_| {
                Table::of(
                    list,
                    &[
                        ("id", "id"),
                        ("name", "name"),
                        ("prefix", "prefix"),
                        ("user", "user_id"),
                        ("role", "role"),
                        ("created", "created_at"),
                        ("expires", "expires_at"),
                        ("revoked", "revoked_at"),
                    ],
                )
                .render()
            });
        }
        KeysCommand::Revoke { id } => {
            let answer = ctx
                .api
                .post(&format!("/api/v1/api_keys/{id}/revoke"), &json!({}))
                .await?;
            print(ctx, &answer, |k| {
                format!(
                    "revoked key {} ({}) at {}\n",
                    cell(&k["id"]),
                    cell(&k["name"]),
                    cell(&k["revoked_at"])
                )
            });
        }
        KeysCommand::Rotate { id } => {
            let answer = ctx
                .api
                .post(&format!("/api/v1/api_keys/{id}/rotate"), &json!({}))
                .await?;
            print(ctx, &answer, |k| {
                format!("revoked key {id}\n{}", issued("issued replacement", k))
            });
        }
    }
    Ok(())
}

fn issued(what: &str, k: &Value) -> String {
    format!(
        "{what} key {} (id {}, role {}, user {}, expires {})\nsecret (shown once, store it now): {}\n",
        cell(&k["name"]),
        cell(&k["id"]),
        cell(&k["role"]),
        cell(&k["user_id"]),
        cell(&k["expires_at"]),
        // Whole, never cut like a table cell.
        k["key"].as_str().unwrap_or("-")
    )
}
