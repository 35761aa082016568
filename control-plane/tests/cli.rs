//! `promptctl` client commands against a real control plane: projects, prompt files, the
//! review workflow, login and its config file, and how failures read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;
mod cli_support;

use std::os::unix::fs::PermissionsExt;

use cli_support::{dead_url, serve, Cli};
use serde_json::json;
use support::fixtures::team;
use support::{Api, TestDb};

on_both_backends!(prompt_lifecycle_through_the_cli);

const GREET_V1: &str =
    "name: greet\nnotes: first\nvariables:\n  who: string\nbody: |\n  Hello {{ who }}.\n";
const GREET_V2: &str = "name: greet\nvariables:\n  who: string\nbody: |\n  Hi {{ who }}!\n";
const SUMMARY_MD: &str =
    "---\nname: summary\nvariables:\n  text: string\n---\n\nSummarise:\n{{ text }}\n";

async fn prompt_lifecycle_through_the_cli(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "shop", 1).await;
    let cli = Cli::new(&serve(api.router.clone()).await);
    let editor = Some(t.editor.as_str());
    let admin = Some(t.admin.as_str());

    // Push creates the prompt, then versions; an unchanged file creates nothing.
    let v1 = cli.file("greet.yaml", GREET_V1);
    let out = cli.run(editor, &["prompts", "push", &v1]).await;
    assert!(out.ok().contains("created prompt greet"), "{out:?}");
    assert!(out.ok().contains("created greet v1"), "{out:?}");
    let again = cli.run(editor, &["prompts", "push", &v1]).await;
    assert!(again.ok().starts_with("unchanged: greet v1"), "{again:?}");
    let v2 = cli.file("greet.yaml", GREET_V2);
    let out = cli.run(editor, &["--json", "prompts", "push", &v2]).await;
    let pushed = out.json();
    assert_eq!(pushed["result"], "created");
    assert_eq!(pushed["version"]["version"], 2);
    let prompt_id = pushed["prompt"]["id"].as_i64().unwrap();
    let versions = api
        .ok(
            "GET",
            &format!("/api/v1/prompts/{prompt_id}/versions"),
            &t.editor,
            None,
            200,
        )
        .await;
    assert_eq!(versions.as_array().unwrap().len(), 2, "{versions}");
    assert_eq!(versions[0]["body"], "Hello {{ who }}.\n");
    assert_eq!(versions[0]["notes"], "first");
    assert_eq!(versions[1]["variables"], json!({"who": "string"}));

    // Markdown with front matter: the body is what follows the closing line.
    let md = cli.file("summary.md", SUMMARY_MD);
    cli.run(editor, &["prompts", "push", &md]).await.ok();
    let listed = cli.run(editor, &["--json", "prompts", "list"]).await.json();
    let summary = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "summary")
        .unwrap()
        .clone();
    let shown = cli
        .run(
            editor,
            &["--json", "prompts", "show", "summary", "--version", "1"],
        )
        .await
        .json();
    assert_eq!(shown["body"], "Summarise:\n{{ text }}\n");
    assert_eq!(shown["prompt_id"], summary["id"]);

    let table = cli.run(editor, &["prompts", "list"]).await;
    let lines: Vec<&str> = table.ok().lines().collect();
    assert_eq!(lines.len(), 3, "{table:?}");
    assert!(lines[0].starts_with("ID  NAME"), "{table:?}");
    assert!(lines[1].contains("greet") && lines[2].contains("summary"));

    let diff = cli
        .run(editor, &["prompts", "diff", "greet", "1", "2"])
        .await;
    assert!(diff.ok().contains("-Hello {{ who }}.") && diff.ok().contains("+Hi {{ who }}!"));

    // Review: submit (editor), approve (another admin), reject with a comment.
    let out = cli
        .run(editor, &["submit", "greet", "--version", "2"])
        .await;
    assert_eq!(out.ok(), "submitted greet v2; status pending\n");
    let denied = cli
        .run(editor, &["approve", "greet", "--version", "2"])
        .await;
    assert!(
        denied.failed().contains("needs the admin role") && denied.stderr.contains("HTTP 403"),
        "{denied:?}"
    );
    let out = cli
        .run(
            admin,
            &["approve", "greet", "--version", "2", "--comment", "lgtm"],
        )
        .await;
    assert_eq!(out.ok(), "approved greet v2; status approved\n");
    cli.run(editor, &["submit", "greet", "--version", "1"])
        .await
        .ok();
    let no_comment = cli.run(admin, &["reject", "greet", "--version", "1"]).await;
    assert!(no_comment.failed().contains("--comment"), "{no_comment:?}");
    let out = cli
        .run(
            admin,
            &["reject", "greet", "--version", "1", "--comment", "too curt"],
        )
        .await;
    assert_eq!(out.ok(), "rejected greet v1; status rejected\n");

    let show = cli.run(viewer(&t), &["prompts", "show", "greet"]).await;
    let text = show.ok();
    assert!(text.contains("VERSION  ID"), "{text}");
    assert!(
        text.contains("approved") && text.contains("rejected"),
        "{text}"
    );
    let v1 = cli
        .run(viewer(&t), &["prompts", "show", "greet", "--version", "1"])
        .await;
    assert!(
        v1.ok().contains("too curt") && v1.ok().contains("Hello {{ who }}."),
        "{v1:?}"
    );
}

fn viewer(t: &support::fixtures::Team) -> Option<&str> {
    Some(t.viewer.as_str())
}

#[tokio::test]
async fn failures_read_clearly_and_exit_non_zero() {
    let db = TestDb::sqlite().await;
    let api = Api::start(&db).await;
    let t = team(&api, "err", 1).await;
    let cli = Cli::new(&serve(api.router.clone()).await);
    let editor = Some(t.editor.as_str());

    let down = Cli::new(&dead_url());
    let out = down.run(editor, &["projects", "list"]).await;
    assert!(
        out.failed().starts_with(&format!(
            "promptctl: cannot reach control plane at {}",
            down.url
        )),
        "{out:?}"
    );

    let out = cli
        .run(Some("pgk_000000000000_nope"), &["projects", "list"])
        .await;
    assert!(
        out.failed().contains("missing or invalid API key") && out.stderr.contains("HTTP 401"),
        "{out:?}"
    );
    let out = cli.run(None, &["projects", "list"]).await;
    assert!(out.failed().contains("promptctl login"), "{out:?}");

    let broken = cli.file("broken.yaml", "name: bad\nbody: \"{{ x \"\n");
    let out = cli.run(editor, &["prompts", "push", &broken]).await;
    assert!(
        out.failed().contains("template does not compile") && out.stderr.contains("HTTP 422"),
        "{out:?}"
    );
    let typo = cli.file("typo.yaml", "name: t\nbody: b\nvariabels: {}\n");
    let out = cli.run(editor, &["prompts", "push", &typo]).await;
    assert!(
        out.failed().contains("typo.yaml") && out.stderr.contains("variabels"),
        "{out:?}"
    );
    let out = cli.run(editor, &["prompts", "show", "nope"]).await;
    assert!(out.failed().contains("no prompt named \"nope\""), "{out:?}");
    let out = cli.run(editor, &["prompts", "show"]).await;
    assert_eq!(out.code, 2, "usage errors come from clap: {out:?}");
    let root = api.admin.clone();
    api.ok(
        "POST",
        "/api/v1/projects",
        &root,
        Some(json!({"name": "err2"})),
        201,
    )
    .await;
    let out = cli.run(Some(&root), &["prompts", "list"]).await;
    assert!(out.failed().contains("several projects"), "{out:?}");
    let out = cli
        .run(
            Some(&api.admin),
            &["--project", "missing", "prompts", "list"],
        )
        .await;
    assert!(
        out.failed().contains("no project named \"missing\""),
        "{out:?}"
    );
}

#[tokio::test]
async fn login_saves_a_private_config_that_later_commands_use() {
    let db = TestDb::sqlite().await;
    let api = Api::start(&db).await;
    let t = team(&api, "home", 1).await;
    let cli = Cli::new(&serve(api.router.clone()).await);

    let out = cli
        .run_with_stdin(None, &["login"], "pgk_000000000000_wrong\n")
        .await;
    assert!(out.failed().contains("rejected this key"), "{out:?}");
    assert!(!cli.config_path().exists());

    let out = cli
        .run_with_stdin(
            None,
            &["login", "--project", "home"],
            &format!("{}\n", api.admin),
        )
        .await;
    assert!(out.ok().starts_with("logged in to http://"), "{out:?}");
    let mode = std::fs::metadata(cli.config_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let saved = std::fs::read_to_string(cli.config_path()).unwrap();
    assert!(saved.contains(&api.admin) && saved.contains("project = \"home\""));

    // URL, key and project all come from the saved config now.
    let elsewhere = Cli {
        url: String::new(),
        dir: tempfile::tempdir().unwrap(),
    };
    let config = cli.config_path().display().to_string();
    let out = elsewhere
        .run(None, &["--config", &config, "projects", "show"])
        .await;
    assert!(
        out.ok()
            .lines()
            .any(|l| l.starts_with("name ") && l.ends_with(" home")),
        "{out:?}"
    );

    let out = cli
        .run(
            None,
            &["projects", "create", "annex", "--required-approvals", "2"],
        )
        .await;
    assert!(
        out.ok().starts_with("created project annex (id "),
        "{out:?}"
    );
    let annex = cli
        .run(None, &["--json", "projects", "show", "annex"])
        .await
        .json();
    assert_eq!(annex["required_approvals"], 2);
    let list = cli.run(None, &["projects", "list"]).await;
    assert!(list.ok().contains("annex") && list.ok().contains("home"));

    // A project key sees one project, so it needs no --project.
    let out = cli
        .run(
            Some(&t.viewer),
            &["--config", "/nonexistent/c.toml", "projects", "show"],
        )
        .await;
    assert!(out.ok().contains("home"), "{out:?}");
}
