//! `promptctl prompts push|list|show|diff`.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::{json, Value};

use super::context::{id_of, Context};
use super::http::query;
use super::output::{cell, emit, fields, items, Table};
use super::prompt_file::PromptFile;
use super::{print, CliResult};

#[derive(Subcommand, Debug)]
pub enum PromptsCommand {
    /// Create a new version from a YAML or front-matter markdown file (and the prompt when it
    /// is new); does nothing when the latest version already holds the same content.
    /// `--json` prints `{"result": "created"|"unchanged", "prompt", "version"}`.
    Push { file: PathBuf },
    /// Prompts of the project with their labels.
    List,
    /// A prompt and its versions, or one version in full.
    Show {
        name: String,
        #[arg(long)]
        version: Option<i64>,
    },
    /// Unified diff of two versions' bodies.
    Diff { name: String, from: i64, to: i64 },
}

pub async fn run(ctx: &Context, command: PromptsCommand) -> CliResult<()> {
    match command {
        PromptsCommand::Push { file } => push(ctx, &PromptFile::read(&file)?).await,
        PromptsCommand::List => {
            let project = ctx.project_id().await?;
            let answer = ctx
                .api
                .get(&format!("/api/v1/projects/{project}/prompts"))
                .await?;
            let mut table = Table::new(&["id", "name", "labels", "created"]);
            for p in items(&answer)? {
                table.push(vec![
                    cell(&p["id"]),
                    cell(&p["name"]),
                    labels(p),
                    cell(&p["created_at"]),
                ]);
            }
            print(ctx, &answer, |_| table.render());
            Ok(())
        }
        PromptsCommand::Show {
            name,
            version: Some(number),
        } => {
            let (_, version) = ctx.version(&name, number).await?;
            let answer = ctx
                .api
                .get(&format!("/api/v1/prompt_versions/{}", id_of(&version)?))
                .await?;
            print(ctx, &answer, show_version);
            Ok(())
        }
        PromptsCommand::Show {
            name,
            version: None,
        } => {
            let prompt = ctx.prompt(&name).await?;
            let versions = ctx.versions(id_of(&prompt)?).await?;
            let answer = json!({"prompt": prompt, "versions": versions});
            print(ctx, &answer, |_| {
                let list = Table::of(
                    &versions,
                    &[
                        ("version", "version"),
                        ("id", "id"),
                        ("status", "status"),
                        ("author", "created_by"),
                        ("created", "created_at"),
                        ("notes", "notes"),
                    ],
                )
                .render();
                format!(
                    "{}labels  {}\n\n{list}",
                    fields(&prompt, &["labels"]),
                    labels(&prompt)
                )
            });
            Ok(())
        }
        PromptsCommand::Diff { name, from, to } => {
            let prompt = ctx.prompt(&name).await?;
            let q = query(&[
                ("from", Some(from.to_string())),
                ("to", Some(to.to_string())),
            ]);
            let answer = ctx
                .api
                .get(&format!("/api/v1/prompts/{}/diff{q}", id_of(&prompt)?))
                .await?;
            print(ctx, &answer, |d| match d["diff"].as_str() {
                Some("") | None => format!("v{from} and v{to} have the same body\n"),
                Some(text) => text.to_owned(),
            });
            Ok(())
        }
    }
}

async fn push(ctx: &Context, file: &PromptFile) -> CliResult<()> {
    let project = ctx.project_id().await?;
    let prompts_path = format!("/api/v1/projects/{project}/prompts");
    let existing = ctx.api.get(&prompts_path).await?;
    let found = items(&existing)?
        .iter()
        .find(|p| p["name"] == file.name.as_str())
        .cloned();
    let (prompt, is_new) = match found {
        Some(p) => (p, false),
        None => {
            let created = ctx
                .api
                .post(&prompts_path, &json!({"name": file.name}))
                .await?;
            if !ctx.json {
                emit(&format!(
                    "created prompt {} (id {})\n",
                    file.name,
                    cell(&created["id"])
                ));
            }
            (created, true)
        }
    };
    let prompt_id = id_of(&prompt)?;
    if !is_new {
        let versions = ctx.versions(prompt_id).await?;
        let latest = versions.iter().max_by_key(|v| v["version"].as_i64());
        if let Some(latest) = latest.filter(|v| file.matches(v)) {
            let answer = json!({"result": "unchanged", "prompt": prompt, "version": latest});
            print(ctx, &answer, |_| {
                format!(
                    "unchanged: {} v{} already holds this content\n",
                    file.name,
                    cell(&latest["version"])
                )
            });
            return Ok(());
        }
    }
    let version = ctx
        .api
        .post(
            &format!("/api/v1/prompts/{prompt_id}/versions"),
            &file.version_request(),
        )
        .await?;
    let answer = json!({"result": "created", "prompt": prompt, "version": version});
    print(ctx, &answer, |_| {
        format!(
            "created {} v{} (version id {}, {})\n",
            file.name,
            cell(&version["version"]),
            cell(&version["id"]),
            cell(&version["status"])
        )
    });
    Ok(())
}

/// `dev=v3,prod=v2` from a prompt's labels.
fn labels(prompt: &Value) -> String {
    let Some(list) = prompt["labels"].as_array().filter(|l| !l.is_empty()) else {
        return "-".to_owned();
    };
    list.iter()
        .map(|l| format!("{}=v{}", cell(&l["name"]), cell(&l["version"])))
        .collect::<Vec<_>>()
        .join(",")
}

/// A version in full: its fields, declared variables, body and reviews.
fn show_version(v: &Value) -> String {
    let mut out = fields(v, &["body", "variables", "approvals"]);
    out.push_str(&format!(
        "variables  {}\n\n{}",
        v["variables"],
        v["body"].as_str().unwrap_or_default()
    ));
    if !out.ends_with('\n') {
        out.push('\n');
    }
    if let Some(reviews) = v["approvals"].as_array().filter(|a| !a.is_empty()) {
        out.push('\n');
        out.push_str(
            &Table::of(
                reviews,
                &[
                    ("reviewer", "reviewer_id"),
                    ("decision", "decision"),
                    ("comment", "comment"),
                    ("at", "created_at"),
                ],
            )
            .render(),
        );
    }
    out
}
