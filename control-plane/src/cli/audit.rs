//! `promptctl audit list|verify`. `verify` follows the whole hash chain, read through the
//! API (org admin key) or, on the server, straight from `DATABASE_URL` (see `main`).

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;

use control_plane::audit::{verify_records, Head, Record, VerifyError};

use super::context::Context;
use super::http::query;
use super::output::{emit, items, json, Table};
use super::{print, CliError, CliResult};

/// Records fetched per request while verifying (the server's maximum page).
const PAGE: u32 = 1000;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Audit records, oldest first (org admins see all, project admins their project's).
    List {
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Only records after this sequence number.
        #[arg(long)]
        after: Option<i64>,
    },
    /// Check the audit log's hash chain; exits 2 when it was tampered with. Prints the head
    /// (`SEQ:HASH`); keep it elsewhere and pass it back with `--anchor` to detect truncation.
    /// Reads the database when DATABASE_URL (or --database-url) is set, else asks the control
    /// plane with an org-wide admin key.
    Verify {
        /// A head printed by an earlier run, `SEQ:HASH`.
        #[arg(long)]
        anchor: Option<String>,
    },
}

pub fn parse_anchor(s: &str) -> CliResult<(i64, &str)> {
    s.split_once(':')
        .and_then(|(seq, hash)| Some((seq.parse().ok()?, hash)))
        .ok_or_else(|| CliError::Usage("--anchor must be SEQ:HASH".into()))
}

pub async fn list(ctx: &Context, limit: u32, after: Option<i64>) -> CliResult<()> {
    let q = query(&[
        ("after", after.map(|a| a.to_string())),
        ("limit", Some(limit.to_string())),
    ]);
    let answer = ctx.api.get(&format!("/api/v1/audit{q}")).await?;
    let list = items(&answer)?;
    print(ctx, &answer, |_| {
        Table::of(
            list,
            &[
                ("seq", "seq"),
                ("at", "created_at"),
                ("actor", "actor"),
                ("project", "project_id"),
                ("action", "action"),
                ("entity", "entity"),
            ],
        )
        .render()
    });
    Ok(())
}

/// Reads the whole log through the API and checks it.
pub async fn verify_remote(ctx: &Context, anchor: Option<&str>) -> CliResult<ExitCode> {
    let anchor = anchor.map(parse_anchor).transpose()?;
    match ctx.api.get("/api/v1/users").await {
        Err(CliError::Api { status: 403, .. }) => {
            return Err(CliError::Usage(
                "audit verify needs an org-wide admin key: a project key sees only its project's \
                 records, so the chain cannot be followed (or run it on the server with DATABASE_URL)"
                    .into(),
            ))
        }
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    let mut records: Vec<Record> = Vec::new();
    loop {
        let after = records.last().map_or(0, |r| r.seq);
        let q = query(&[
            ("after", Some(after.to_string())),
            ("limit", Some(PAGE.to_string())),
        ]);
        let answer = ctx.api.get(&format!("/api/v1/audit{q}")).await?;
        let page: Vec<Record> = serde_json::from_value(items(&answer)?.to_vec().into())
            .map_err(|e| CliError::Local(format!("unexpected audit record: {e}")))?;
        match page.last() {
            None => break,
            Some(last) if last.seq <= after => {
                return Err(CliError::Local(
                    "the audit listing did not move forward".into(),
                ))
            }
            Some(_) => records.extend(page),
        }
    }
    Ok(report(ctx.json, verify_records(&records, anchor)))
}

/// Prints a verification result; exit code 0 intact, 2 tampered, 1 could not check.
pub fn report(as_json: bool, result: Result<Head, VerifyError>) -> ExitCode {
    let (value, text, code) = match result {
        Ok(head) => (
            json!({"ok": true, "records": head.records, "seq": head.seq, "hash": head.hash}),
            format!(
                "audit log OK: {} records, chain intact, head {}:{}",
                head.records, head.seq, head.hash
            ),
            ExitCode::SUCCESS,
        ),
        Err(VerifyError::Broken { seq, reason }) => (
            json!({"ok": false, "seq": seq, "reason": reason}),
            format!("audit log TAMPERED at record {seq}: {reason}"),
            ExitCode::from(2),
        ),
        Err(e) => {
            eprintln!("promptctl: {e}");
            return ExitCode::FAILURE;
        }
    };
    if as_json {
        emit(&json(&value));
    } else {
        emit(&format!("{text}\n"));
    }
    code
}
