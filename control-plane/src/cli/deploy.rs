//! `promptctl deploy` (`POST /api/v1/deployments`) and `promptctl rollback`.

use clap::Args;
use hyper::Method;
use serde_json::{json, Value};

use super::context::{id_of, segment, Context};
use super::output::cell;
use super::{print, CliResult};

#[derive(Args, Debug)]
pub struct DeployArgs {
    /// Prompt name.
    pub name: String,
    /// Version number to deploy.
    #[arg(long)]
    pub version: i64,
    /// Environment: dev, staging, prod or a custom one.
    #[arg(long = "env")]
    pub environment: String,
    /// Send only this percentage of the environment's traffic to the version (1..=99);
    /// 0 clears the canary, 100 (or absent) deploys it whole.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub canary: Option<u8>,
}

pub async fn deploy(ctx: &Context, args: &DeployArgs) -> CliResult<()> {
    let (_, version) = ctx.version(&args.name, args.version).await?;
    let mut req = json!({"prompt_version_id": id_of(&version)?, "environment": args.environment});
    if let Some(percent) = args.canary {
        req["canary_percent"] = json!(percent);
    }
    let answer = ctx.api.post("/api/v1/deployments", &req).await?;
    print(ctx, &answer, |d| describe(&args.name, d));
    Ok(())
}

fn describe(name: &str, d: &Value) -> String {
    let (version, env) = (cell(&d["version"]), cell(&d["environment"]));
    match d["kind"].as_str() {
        Some("canary") => format!(
            "canary: {name} v{version} takes {}% of {env} traffic (deployment {})\n",
            cell(&d["canary_percent"]),
            cell(&d["id"])
        ),
        Some("canary_cleared") => format!(
            "cleared the canary of {name} in {env} (deployment {})\n",
            cell(&d["id"])
        ),
        _ => format!(
            "deployed {name} v{version} to {env} (deployment {})\n",
            cell(&d["id"])
        ),
    }
}

pub async fn rollback(ctx: &Context, name: &str, environment: &str) -> CliResult<()> {
    let prompt = ctx.prompt(name).await?;
    let path = format!(
        "/api/v1/prompts/{}/labels/{}/rollback",
        id_of(&prompt)?,
        segment(environment)
    );
    let answer = ctx.api.call(Method::POST, &path, None).await?;
    print(ctx, &answer, |l| {
        format!(
            "rolled back {name} in {environment} to v{}\n",
            cell(&l["version"])
        )
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_reads_as_a_sentence() {
        let d = json!({"id": 4, "version": 3, "environment": "prod", "kind": "canary", "canary_percent": 10});
        assert_eq!(
            describe("bot", &d),
            "canary: bot v3 takes 10% of prod traffic (deployment 4)\n"
        );
        let d = json!({"id": 5, "version": 3, "environment": "prod", "kind": "stable"});
        assert_eq!(
            describe("bot", &d),
            "deployed bot v3 to prod (deployment 5)\n"
        );
    }
}
