//! `promptctl submit|approve|reject NAME --version N`.

use clap::Args;
use serde_json::json;

use super::context::{id_of, Context};
use super::output::cell;
use super::{print, CliResult};

/// A version of a prompt, by the prompt's name and the version's number.
#[derive(Args, Debug)]
pub struct VersionRef {
    /// Prompt name.
    pub name: String,
    /// Version number (as `prompts show` lists it).
    #[arg(long)]
    pub version: i64,
}

#[derive(Debug, Clone, Copy)]
pub enum Decision {
    Approve,
    Reject,
}

pub async fn submit(ctx: &Context, target: &VersionRef) -> CliResult<()> {
    let (_, version) = ctx.version(&target.name, target.version).await?;
    let path = format!(
        "/api/v1/prompt_versions/{}/submit_for_approval",
        id_of(&version)?
    );
    let answer = ctx.api.post(&path, &json!({})).await?;
    print(ctx, &answer, |v| {
        format!(
            "submitted {} v{}; status {}\n",
            target.name,
            target.version,
            cell(&v["status"])
        )
    });
    Ok(())
}

pub async fn decide(
    ctx: &Context,
    target: &VersionRef,
    comment: Option<String>,
    decision: Decision,
) -> CliResult<()> {
    let (_, version) = ctx.version(&target.name, target.version).await?;
    let (action, done) = match decision {
        Decision::Approve => ("approve", "approved"),
        Decision::Reject => ("reject", "rejected"),
    };
    let body = match comment {
        Some(c) => json!({"comment": c}),
        None => json!({}),
    };
    let path = format!("/api/v1/prompt_versions/{}/{action}", id_of(&version)?);
    let answer = ctx.api.post(&path, &body).await?;
    print(ctx, &answer, |v| {
        format!(
            "{done} {} v{}; status {}\n",
            target.name,
            target.version,
            cell(&v["status"])
        )
    });
    Ok(())
}
