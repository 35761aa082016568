//! Deployments: the gate (approval by non-authors, required checks), stable, canary, clear,
//! rollback, labels recorded as deployments, version role/mode; on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use serde_json::json;
use support::deploy::{configure, deploy, snapshot, CONFIG};
use support::fixtures::{approved_version, new_prompt, new_version, submit_and_approve, team};
use support::{assert_error_shape, Api, TestDb};

on_both_backends!(
    gate_blocks_unapproved_author_only_and_failed_checks,
    canary_clear_stable_and_rollback,
    versions_carry_role_and_mode_and_are_compiled
);

fn message(v: &serde_json::Value) -> String {
    v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn gate_blocks_unapproved_author_only_and_failed_checks(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "gate", 1).await;
    let prompt = new_prompt(&api, &t, "p").await;
    let p = api
        .ok(
            "PATCH",
            &format!("/api/v1/projects/{}", t.project),
            &t.admin,
            Some(json!({"required_checks": ["eval", "eval"]})),
            200,
        )
        .await;
    assert_eq!(p["required_checks"], json!(["eval"]));

    // A draft is not deployable.
    let draft = new_version(&api, &t, prompt, "d {{ question }}").await["id"]
        .as_i64()
        .unwrap();
    let (s, e) = deploy(&api, &t, draft, "prod", None).await;
    assert_eq!(s, 409, "{e}");
    assert_error_shape(&e);
    assert!(message(&e).contains("draft, not approved"), "{e}");

    // Approved, but the required check has no result, then fails.
    let v1 = approved_version(&api, &t, prompt, "v1 {{ question }}").await;
    let (s, e) = deploy(&api, &t, v1, "prod", None).await;
    assert_eq!(s, 409);
    assert!(message(&e).contains("`eval` has no result"), "{e}");
    let checks = format!("/api/v1/prompt_versions/{v1}/checks");
    let c = api
        .ok(
            "POST",
            &checks,
            &t.editor,
            Some(json!({"name": "eval", "status": "failed", "details": {"score": 0.2}})),
            201,
        )
        .await;
    assert_eq!(c["version_id"], v1);
    assert_eq!(c["details"]["score"], 0.2);
    let (s, e) = deploy(&api, &t, v1, "prod", None).await;
    assert_eq!(s, 409);
    assert!(message(&e).contains("`eval` failed"), "{e}");
    // The latest result counts.
    api.ok(
        "POST",
        &checks,
        &t.editor,
        Some(json!({"name": "eval", "status": "passed"})),
        201,
    )
    .await;
    let listed = api.ok("GET", &checks, &t.viewer, None, 200).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    let (s, d) = deploy(&api, &t, v1, "prod", None).await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["kind"], "stable");
    assert_eq!(d["version"], 2, "version 1 is the draft");
    assert_eq!(d["environment"], "prod");
    assert_eq!(d["prompt_id"], prompt);
    assert!(d["canary_percent"].is_null());
    let later = approved_version(&api, &t, prompt, "v2 {{ question }}").await;
    api.ok(
        "POST",
        &format!("/api/v1/prompt_versions/{later}/checks"),
        &t.editor,
        Some(json!({"name": "eval", "status": "failed"})),
        201,
    )
    .await;
    api.ok(
        "POST",
        &format!("/api/v1/prompt_versions/{later}/checks"),
        &t.editor,
        Some(json!({"name": "eval", "status": "passed"})),
        201,
    )
    .await;

    // Approvals by the author do not count, whatever the status says.
    let own = new_version(&api, &t, prompt, "own {{ question }}").await["id"]
        .as_i64()
        .unwrap();
    let raw = db.store().await;
    sqlx::query(
        "INSERT INTO approvals (version_id, reviewer_id, decision, comment, created_at) \
         VALUES ($1, $2, 'approve', '', '2026-01-01T00:00:00.000Z')",
    )
    .bind(own)
    .bind(t.editor_id)
    .execute(&raw.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE prompt_versions SET status = 'approved' WHERE id = $1")
        .bind(own)
        .execute(&raw.pool)
        .await
        .unwrap();
    api.ok(
        "POST",
        &format!("/api/v1/prompt_versions/{own}/checks"),
        &t.editor,
        Some(json!({"name": "eval", "status": "passed"})),
        201,
    )
    .await;
    let (s, e) = deploy(&api, &t, own, "prod", None).await;
    assert_eq!(s, 409);
    assert!(
        message(&e).contains("0 of 1 required approvals by reviewers other than its author"),
        "{e}"
    );
    // The label endpoint obeys the same gate.
    let (s, _) = api
        .call(
            "PUT",
            &format!("/api/v1/prompts/{prompt}/labels/prod"),
            Some(&t.admin),
            Some(json!({"version_id": own})),
        )
        .await;
    assert_eq!(s.as_u16(), 409);

    // Raising the approval count blocks versions approved under the old count.
    api.ok(
        "PATCH",
        &format!("/api/v1/projects/{}", t.project),
        &t.admin,
        Some(json!({"required_approvals": 2})),
        200,
    )
    .await;
    let (s, e) = deploy(&api, &t, later, "prod", None).await;
    assert_eq!(s, 409);
    assert!(message(&e).contains("1 of 2 required approvals"), "{e}");
    api.ok(
        "PATCH",
        &format!("/api/v1/projects/{}", t.project),
        &t.admin,
        Some(json!({"required_approvals": 1})),
        200,
    )
    .await;
    // PUT labels records a deployment too.
    let label = api
        .ok(
            "PUT",
            &format!("/api/v1/prompts/{prompt}/labels/prod"),
            &t.admin,
            Some(json!({"version_id": later})),
            200,
        )
        .await;
    assert_eq!(label["version"], 3);
    let history = api
        .ok(
            "GET",
            &format!("/api/v1/prompts/{prompt}/deployments"),
            &t.viewer,
            None,
            200,
        )
        .await;
    let kinds: Vec<_> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["kind"].as_str().unwrap(), d["version"].as_i64().unwrap()))
        .collect();
    assert_eq!(kinds, [("stable", 3), ("stable", 2)], "newest first");
}

async fn canary_clear_stable_and_rollback(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "canary", 1).await;
    configure(&api, &t, "prod", CONFIG).await;
    let prompt = new_prompt(&api, &t, "support").await;
    let v1 = approved_version(&api, &t, prompt, "one {{ question }}").await;
    let v2 = approved_version(&api, &t, prompt, "two {{ question }}").await;

    // A canary needs a stable version under it.
    let (s, e) = deploy(&api, &t, v2, "prod", Some(30)).await;
    assert_eq!(s, 409, "{e}");
    assert!(message(&e).contains("no stable version"), "{e}");
    assert_eq!(deploy(&api, &t, v1, "prod", None).await.0, 201);
    let (s, e) = deploy(&api, &t, v1, "prod", Some(30)).await;
    assert_eq!(s, 409, "the stable version cannot be its own canary: {e}");
    for (bad, env) in [(Some(101), "prod"), (Some(-1), "prod"), (None, "Prod")] {
        let (s, e) = deploy(&api, &t, v2, env, bad).await;
        assert_eq!(s, 422, "{bad:?} {env}: {e}");
        assert_error_shape(&e);
    }

    let (s, d) = deploy(&api, &t, v2, "prod", Some(30)).await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["kind"], "canary");
    assert_eq!(d["canary_percent"], 30);
    assert_eq!(d["version"], 2);
    let (s, _, snap) = snapshot(&api, &t.viewer, "canary", "prod", None, 0).await;
    assert_eq!(s, 200, "{snap}");
    let release = &snap["prompts"]["support"]["prod"];
    assert_eq!(release["version"], 1, "{snap}");
    assert_eq!(release["template"]["body"], "one {{ question }}");
    assert_eq!(release["canary"]["version"], 2);
    assert_eq!(release["canary"]["percent"], 30);
    assert_eq!(release["canary"]["template"]["body"], "two {{ question }}");

    // 0 clears the canary; clearing twice is a conflict.
    let (s, d) = deploy(&api, &t, v2, "prod", Some(0)).await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["kind"], "canary_cleared");
    let (_, _, snap) = snapshot(&api, &t.viewer, "canary", "prod", None, 0).await;
    assert!(
        snap["prompts"]["support"]["prod"].get("canary").is_none(),
        "{snap}"
    );
    assert_eq!(deploy(&api, &t, v2, "prod", Some(0)).await.0, 409);

    // A stable deployment of the canary version promotes it and clears the canary.
    assert_eq!(deploy(&api, &t, v2, "prod", Some(10)).await.0, 201);
    let (s, d) = deploy(&api, &t, v2, "prod", Some(100)).await;
    assert_eq!(s, 201);
    assert_eq!(d["kind"], "stable");
    let (_, _, snap) = snapshot(&api, &t.viewer, "canary", "prod", None, 0).await;
    assert_eq!(snap["prompts"]["support"]["prod"]["version"], 2);
    assert!(snap["prompts"]["support"]["prod"].get("canary").is_none());

    // Rollback re-points to v1, clears a canary and is recorded.
    let v3 = approved_version(&api, &t, prompt, "three {{ question }}").await;
    assert_eq!(deploy(&api, &t, v3, "prod", Some(50)).await.0, 201);
    let r = api
        .ok(
            "POST",
            &format!("/api/v1/prompts/{prompt}/labels/prod/rollback"),
            &t.admin,
            None,
            200,
        )
        .await;
    assert_eq!(r["version"], 1);
    let (_, _, snap) = snapshot(&api, &t.viewer, "canary", "prod", None, 0).await;
    assert_eq!(snap["prompts"]["support"]["prod"]["version"], 1);
    assert!(snap["prompts"]["support"]["prod"].get("canary").is_none());
    let history = api
        .ok(
            "GET",
            &format!("/api/v1/prompts/{prompt}/deployments"),
            &t.viewer,
            None,
            200,
        )
        .await;
    let newest = &history["data"][0];
    assert_eq!(newest["kind"], "rollback");
    assert_eq!(newest["version"], 1);
    assert_eq!(newest["environment"], "prod");
    assert_eq!(history["data"].as_array().unwrap().len(), 7);

    // Every deployment was audited.
    let audit = api
        .ok(
            "GET",
            "/api/v1/audit?limit=1000",
            &api.admin.clone(),
            None,
            200,
        )
        .await;
    let actions: Vec<_> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect();
    let count = |a: &str| actions.iter().filter(|x| *x == a).count();
    assert_eq!(count("deployment.create"), 7);
    assert_eq!(count("canary.set"), 3);
    assert_eq!(count("canary.clear"), 1);
    assert_eq!(count("environment_config.put"), 1);
    assert_eq!(count("label.rollback"), 1);

    // The new endpoints are in the generated OpenAPI document.
    let doc = api
        .ok("GET", "/api/v1/openapi.json", "none", None, 200)
        .await;
    for (path, method) in [
        ("/api/v1/deployments", "post"),
        ("/api/v1/prompts/{prompt_id}/deployments", "get"),
        ("/api/v1/prompt_versions/{version_id}/checks", "post"),
        ("/api/v1/prompt_versions/{version_id}/checks", "get"),
        (
            "/api/v1/projects/{project_id}/environments/{env}/config",
            "put",
        ),
        (
            "/api/v1/projects/{project_id}/environments/{env}/config",
            "get",
        ),
        ("/api/v1/projects/{project_id}/environments", "get"),
        ("/api/v1/policies", "post"),
        ("/api/v1/policies/{policy_id}", "delete"),
        ("/api/v1/projects/{project_id}/policies", "get"),
        ("/api/v1/models/providers", "get"),
        ("/api/v1/gateway/snapshot", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    for schema in [
        "Deployment",
        "CreateDeployment",
        "CheckResult",
        "Policy",
        "EnvironmentConfig",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}

async fn versions_carry_role_and_mode_and_are_compiled(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "tmpl", 1).await;
    let prompt = new_prompt(&api, &t, "p").await;
    let path = format!("/api/v1/prompts/{prompt}/versions");
    let v = api
        .ok(
            "POST",
            &path,
            &t.editor,
            Some(
                json!({"body": "Answer {{ q }} in {{ lang }}", "role": "developer",
                        "mode": "replace",
                        "variables": {"q": "string", "lang": {"type": "string", "default": "en"}}}),
            ),
            201,
        )
        .await;
    assert_eq!(v["role"], "developer");
    assert_eq!(v["mode"], "replace");
    let plain = new_version(&api, &t, prompt, "hi {{ question }}").await;
    assert_eq!(plain["role"], "system");
    assert_eq!(plain["mode"], "prefix");
    let got = api
        .ok(
            "GET",
            &format!("/api/v1/prompt_versions/{}", v["id"]),
            &t.viewer,
            None,
            200,
        )
        .await;
    assert_eq!(got["role"], "developer");
    let listed = api.ok("GET", &path, &t.viewer, None, 200).await;
    assert_eq!(listed[0]["mode"], "replace");

    // (body, variables, role, mode) → param of the 422.
    let bad = [
        (json!("{{ missing }}"), json!({}), None, "variables.missing"),
        (
            json!("{{ q }}"),
            json!({"q": "colour"}),
            None,
            "variables.q",
        ),
        (
            json!("{{ q }}"),
            json!({"q": {"type": "integer", "default": "x"}}),
            None,
            "variables.q",
        ),
        (json!("{{ q"), json!({"q": "string"}), None, "body"),
        (json!("hi"), json!({}), Some(("role", "assistant")), ""),
        (json!("hi"), json!({}), Some(("mode", "append")), ""),
    ];
    for (body, variables, extra, param) in bad {
        let mut req = json!({"body": body, "variables": variables});
        if let Some((k, val)) = extra {
            req[k] = json!(val);
        }
        let (s, e) = api
            .call("POST", &path, Some(&t.editor), Some(req.clone()))
            .await;
        assert_eq!(s.as_u16(), 422, "{req}: {e}");
        assert_error_shape(&e);
        if !param.is_empty() {
            assert_eq!(e["error"]["param"], param, "{req}: {e}");
        }
    }
    let listed = api.ok("GET", &path, &t.viewer, None, 200).await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        2,
        "nothing invalid was stored"
    );

    // role and mode are immutable like the rest of a version.
    let raw = db.store().await;
    let changed = sqlx::query("UPDATE prompt_versions SET mode = 'prefix' WHERE id = $1")
        .bind(v["id"].as_i64().unwrap())
        .execute(&raw.pool)
        .await;
    assert!(changed.is_err(), "the immutability trigger covers mode");

    // And they reach the snapshot.
    configure(&api, &t, "dev", CONFIG).await;
    let id = v["id"].as_i64().unwrap();
    submit_and_approve(&api, &t, id).await;
    assert_eq!(deploy(&api, &t, id, "dev", None).await.0, 201);
    let (_, _, snap) = snapshot(&api, &t.viewer, "tmpl", "dev", None, 0).await;
    let template = &snap["prompts"]["p"]["dev"]["template"];
    assert_eq!(template["role"], "developer", "{snap}");
    assert_eq!(template["mode"], "replace");
    assert_eq!(template["variables"]["lang"]["default"], "en");
}
