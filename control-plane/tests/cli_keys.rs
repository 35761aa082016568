//! `promptctl keys`, `audit`, `users` and `members` against a real control plane.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;
mod cli_support;

use cli_support::{serve, Cli};
use support::fixtures::{approved_version, new_prompt, team};
use support::{Api, TestDb};

/// The secret a `keys create|rotate` run printed.
fn secret(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("secret (shown once, store it now): "))
        .unwrap_or_else(|| panic!("no secret in {stdout}"))
        .to_owned()
}

#[tokio::test]
async fn keys_create_list_rotate_revoke() {
    let db = TestDb::sqlite().await;
    let api = Api::start(&db).await;
    let t = team(&api, "kk", 1).await;
    let cli = Cli::new(&serve(api.router.clone()).await);
    let admin = Some(t.admin.as_str());

    // Without --user the key is for the caller's own user.
    let out = cli
        .run(
            admin,
            &[
                "keys",
                "create",
                "--name",
                "ci",
                "--role",
                "editor",
                "--expires-in",
                "30",
            ],
        )
        .await;
    let created = out.ok();
    assert!(created.starts_with("created key ci (id "), "{out:?}");
    assert!(created.contains("role editor") && !created.contains("expires -"));
    let ci = secret(created);
    assert!(ci.starts_with("pgk_") && ci.len() == 81, "{ci}");
    cli.run(Some(&ci), &["projects", "show"]).await.ok();

    let listed = cli.run(admin, &["--json", "keys", "list"]).await;
    assert!(!listed.ok().contains(&ci[17..]), "listing shows no secret");
    let row = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "ci")
        .unwrap()
        .clone();
    let members = api
        .ok(
            "GET",
            &format!("/api/v1/projects/{}/members", t.project),
            &t.admin,
            None,
            200,
        )
        .await;
    let admin_user = members
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "admin")
        .map(|m| m["user_id"].clone())
        .collect::<Vec<_>>();
    assert!(admin_user.contains(&row["user_id"]), "{row} {members}");
    let table = cli.run(admin, &["keys", "list"]).await;
    assert!(table.ok().starts_with("ID  NAME"), "{table:?}");

    let id = row["id"].to_string();
    let rotated = cli.run(admin, &["keys", "rotate", &id]).await;
    let fresh = secret(rotated.ok());
    assert!(rotated
        .ok()
        .starts_with(&format!("revoked key {id}\nissued replacement key ci")));
    let old = cli.run(Some(&ci), &["projects", "show"]).await;
    assert!(old.failed().contains("revoked or expired"), "{old:?}");
    cli.run(Some(&fresh), &["projects", "show"]).await.ok();

    let fresh_id = cli.run(admin, &["--json", "keys", "list"]).await.json();
    let fresh_id = fresh_id
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "ci" && k["revoked_at"].is_null())
        .unwrap()["id"]
        .to_string();
    let out = cli.run(admin, &["keys", "revoke", &fresh_id]).await;
    assert!(
        out.ok()
            .starts_with(&format!("revoked key {fresh_id} (ci)")),
        "{out:?}"
    );
    cli.run(Some(&fresh), &["projects", "show"]).await.failed();
    let again = cli.run(admin, &["keys", "revoke", &fresh_id]).await;
    assert!(again.failed().contains("already revoked"), "{again:?}");

    // An org-wide key has no user in the project: it must say which.
    let root = Some(api.admin.as_str());
    let out = cli
        .run(root, &["--project", "kk", "keys", "create", "--name", "x"])
        .await;
    assert!(out.failed().contains("--user"), "{out:?}");
    let out = cli
        .run(
            root,
            &[
                "--project",
                "kk",
                "keys",
                "create",
                "--name",
                "x",
                "--user",
                &t.editor_id.to_string(),
            ],
        )
        .await;
    cli.run(Some(&secret(out.ok())), &["prompts", "list"])
        .await
        .ok();
    let too_high = cli
        .run(
            root,
            &[
                "--project",
                "kk",
                "keys",
                "create",
                "--name",
                "y",
                "--role",
                "admin",
                "--user",
                &t.editor_id.to_string(),
            ],
        )
        .await;
    assert!(too_high.failed().contains("exceeds"), "{too_high:?}");
}

on_both_backends!(audit_list_and_verify);

async fn audit_list_and_verify(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "au", 1).await;
    let prompt = new_prompt(&api, &t, "p").await;
    approved_version(&api, &t, prompt, "x {{ y }}").await;
    let cli = Cli::new(&serve(api.router.clone()).await);
    let root = Some(api.admin.as_str());

    let out = cli.run(root, &["audit", "list", "--limit", "3"]).await;
    let lines: Vec<&str> = out.ok().lines().collect();
    assert_eq!(lines.len(), 4, "{out:?}");
    assert!(lines[0].starts_with("SEQ  AT") && lines[1].starts_with("1 "));
    let page = cli
        .run(
            root,
            &["--json", "audit", "list", "--after", "3", "--limit", "2"],
        )
        .await
        .json();
    assert_eq!(page[0]["seq"], 4);

    let out = cli.run(root, &["audit", "verify"]).await;
    assert!(out.ok().starts_with("audit log OK: "), "{out:?}");
    let head = out.ok().trim().rsplit(' ').next().unwrap().to_owned();
    cli.run(root, &["audit", "verify", "--anchor", &head])
        .await
        .ok();
    let bad_anchor = format!("{}:00", head.split(':').next().unwrap());
    let out = cli
        .run(root, &["audit", "verify", "--anchor", &bad_anchor])
        .await;
    assert_eq!(out.code, 2, "{out:?}");
    let out = cli.run(Some(&t.admin), &["audit", "verify"]).await;
    assert!(out.failed().contains("org-wide admin key"), "{out:?}");

    let store = db.store().await;
    sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3")
        .execute(&store.pool)
        .await
        .unwrap();
    let out = cli.run(root, &["audit", "verify"]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stdout.starts_with("audit log TAMPERED at record 3"),
        "{out:?}"
    );
    let json = cli.run(root, &["--json", "audit", "verify"]).await;
    assert_eq!(json.code, 2);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        (v["ok"].as_bool(), v["seq"].as_i64()),
        (Some(false), Some(3))
    );
    // On the server, with the database at hand, no key is needed.
    let local = cli
        .run(None, &["--database-url", &db.url, "audit", "verify"])
        .await;
    assert_eq!(local.code, 2, "{local:?}");
}

#[tokio::test]
async fn users_and_members() {
    let db = TestDb::sqlite().await;
    let api = Api::start(&db).await;
    let t = team(&api, "mm", 1).await;
    let cli = Cli::new(&serve(api.router.clone()).await);
    let root = Some(api.admin.as_str());

    let out = cli
        .run(
            root,
            &["users", "create", "erin", "--email", "erin@example.com"],
        )
        .await;
    assert!(out.ok().starts_with("created user erin (id "), "{out:?}");
    let users = cli.run(root, &["--json", "users", "list"]).await.json();
    let erin = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "erin")
        .unwrap()["id"]
        .to_string();
    let denied = cli.run(Some(&t.admin), &["users", "list"]).await;
    assert!(denied.failed().contains("HTTP 403"), "{denied:?}");

    let admin = Some(t.admin.as_str());
    let out = cli.run(admin, &["members", "set", &erin, "editor"]).await;
    assert_eq!(
        out.ok(),
        format!("user {erin} is editor in project {}\n", t.project)
    );
    let list = cli.run(admin, &["members", "list"]).await;
    assert!(
        list.ok()
            .lines()
            .any(|l| l.starts_with(&format!("{erin} ")) && l.contains("editor")),
        "{list:?}"
    );
    let bad = cli.run(admin, &["members", "set", &erin, "owner"]).await;
    assert!(bad.failed().contains("HTTP 422"), "{bad:?}");
    let out = cli
        .run(Some(&t.editor), &["members", "remove", &erin])
        .await;
    assert!(out.failed().contains("HTTP 403"), "{out:?}");
    let out = cli.run(admin, &["members", "remove", &erin]).await;
    assert_eq!(
        out.ok(),
        format!("removed user {erin} from project {}\n", t.project)
    );
    let list = cli.run(admin, &["--json", "members", "list"]).await.json();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["user_id"] != serde_json::json!(erin.parse::<i64>().unwrap())));
}
