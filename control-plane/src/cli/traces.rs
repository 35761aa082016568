//! `promptctl traces show|list`: request traces that managed gateways sent.

use clap::{Args, Subcommand};
use serde_json::Value;

use super::context::{segment, Context};
use super::http::query;
use super::output::{cell, fields, items, json, Table};
use super::{print, CliResult};

#[derive(Subcommand, Debug)]
pub enum TracesCommand {
    /// One trace in full.
    Show { trace_id: String },
    /// The project's traces, newest first.
    List(TraceFilter),
}

#[derive(Args, Debug)]
pub struct TraceFilter {
    #[arg(long = "env")]
    pub environment: Option<String>,
    #[arg(long)]
    pub route: Option<String>,
    #[arg(long)]
    pub prompt: Option<String>,
    #[arg(long)]
    pub prompt_version: Option<i64>,
    /// ok, error or cancelled.
    #[arg(long)]
    pub status: Option<String>,
    /// RFC 3339 time, inclusive.
    #[arg(long)]
    pub since: Option<String>,
    /// RFC 3339 time, exclusive.
    #[arg(long)]
    pub until: Option<String>,
    /// At most this many (server maximum 500) [server default: 50].
    #[arg(long)]
    pub limit: Option<u32>,
    /// Cursor printed by the previous page.
    #[arg(long)]
    pub before: Option<String>,
}

/// Fields printed as JSON blocks below the scalar ones.
const NESTED: &[&str] = &["decoding", "request", "response"];

pub async fn run(ctx: &Context, command: TracesCommand) -> CliResult<()> {
    match command {
        TracesCommand::Show { trace_id } => {
            let answer = ctx
                .api
                .get(&format!("/api/v1/traces/{}", segment(&trace_id)))
                .await?;
            print(ctx, &answer, show);
        }
        TracesCommand::List(f) => {
            let project = ctx.project_id().await?;
            let q = query(&[
                ("environment", f.environment),
                ("route", f.route),
                ("prompt", f.prompt),
                ("prompt_version", f.prompt_version.map(|v| v.to_string())),
                ("status", f.status),
                ("since", f.since),
                ("until", f.until),
                ("limit", f.limit.map(|v| v.to_string())),
                ("before", f.before),
            ]);
            let answer = ctx
                .api
                .get(&format!("/api/v1/projects/{project}/traces{q}"))
                .await?;
            let list = items(&answer)?;
            print(ctx, &answer, |a| {
                let mut out = Table::of(
                    list,
                    &[
                        ("trace", "trace_id"),
                        ("started", "started_at"),
                        ("env", "environment"),
                        ("route", "route"),
                        ("prompt", "prompt"),
                        ("version", "prompt_version"),
                        ("model", "model"),
                        ("status", "status"),
                        ("latency_ms", "latency_ms"),
                        ("cost_usd", "cost_usd"),
                        ("cache", "cache"),
                    ],
                )
                .render();
                if !a["next_before"].is_null() {
                    out.push_str(&format!("more: --before {}\n", cell(&a["next_before"])));
                }
                out
            });
        }
    }
    Ok(())
}

fn show(trace: &Value) -> String {
    let mut out = fields(trace, NESTED);
    for key in NESTED {
        let value = &trace[*key];
        if !value.is_null() {
            out.push_str(&format!("\n{key}:\n{}", json(value)));
        }
    }
    out
}
