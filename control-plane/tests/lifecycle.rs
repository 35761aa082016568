//! Prompt lifecycle end to end, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use serde_json::json;
use support::fixtures::{new_prompt, new_version, submit_and_approve, team};
use support::{assert_error_shape, Api, TestDb};

on_both_backends!(lifecycle_happy_path);

async fn lifecycle_happy_path(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "shop", 1).await;
    let prompt = new_prompt(&api, &t, "support-bot").await;

    let v1 = new_version(&api, &t, prompt, "You are helpful.\nQ: {{ question }}\nA:").await;
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["status"], "draft");
    assert_eq!(v1["created_by"], t.editor_id);
    let v1_id = v1["id"].as_i64().unwrap();

    // Drafts cannot be approved or deployed to prod.
    let (s, e) = api
        .call(
            "POST",
            &format!("/api/v1/prompt_versions/{v1_id}/approve"),
            Some(&t.admin),
            Some(json!({})),
        )
        .await;
    assert_eq!(s.as_u16(), 409, "{e}");
    assert_error_shape(&e);
    let (s, _) = api
        .call(
            "PUT",
            &format!("/api/v1/prompts/{prompt}/labels/prod"),
            Some(&t.admin),
            Some(json!({"version_id": v1_id})),
        )
        .await;
    assert_eq!(s.as_u16(), 409);

    let s1 = api
        .ok(
            "POST",
            &format!("/api/v1/prompt_versions/{v1_id}/submit_for_approval"),
            &t.editor,
            None,
            200,
        )
        .await;
    assert_eq!(s1["status"], "pending");
    let a1 = api
        .ok(
            "POST",
            &format!("/api/v1/prompt_versions/{v1_id}/approve"),
            &t.admin,
            Some(json!({"comment": "ok"})),
            200,
        )
        .await;
    assert_eq!(a1["status"], "approved");
    let l = api
        .ok(
            "PUT",
            &format!("/api/v1/prompts/{prompt}/labels/prod"),
            &t.admin,
            Some(json!({"version_id": v1_id})),
            200,
        )
        .await;
    assert_eq!(l["version"], 1);

    let v2 = new_version(&api, &t, prompt, "You are concise.\nQ: {{ question }}\nA:").await;
    assert_eq!(v2["version"], 2);
    let v2_id = v2["id"].as_i64().unwrap();
    let d = api
        .ok(
            "GET",
            &format!("/api/v1/prompts/{prompt}/diff?from=1&to=2"),
            &t.viewer,
            None,
            200,
        )
        .await;
    let diff = d["diff"].as_str().unwrap();
    assert!(
        diff.contains("-You are helpful.") && diff.contains("+You are concise."),
        "{diff}"
    );
    assert!(diff.contains("--- v1") && diff.contains("+++ v2"), "{diff}");

    submit_and_approve(&api, &t, v2_id).await;
    api.ok(
        "PUT",
        &format!("/api/v1/prompts/{prompt}/labels/prod"),
        &t.admin,
        Some(json!({"version_id": v2_id})),
        200,
    )
    .await;
    // Editors may move unprotected labels, but every label obeys the deployment gate.
    let v3 = new_version(&api, &t, prompt, "draft {{ question }}").await;
    api.ok(
        "PUT",
        &format!("/api/v1/prompts/{prompt}/labels/dev"),
        &t.editor,
        Some(json!({"version_id": v3["id"]})),
        409,
    )
    .await;
    api.ok(
        "PUT",
        &format!("/api/v1/prompts/{prompt}/labels/dev"),
        &t.editor,
        Some(json!({"version_id": v2_id})),
        200,
    )
    .await;

    let p = api
        .ok(
            "GET",
            &format!("/api/v1/prompts/{prompt}"),
            &t.viewer,
            None,
            200,
        )
        .await;
    let prod = p["labels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "prod")
        .unwrap();
    assert_eq!(prod["version"], 2);

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
    assert_eq!(r["version_id"], v1_id);
    let (s, _) = api
        .call(
            "POST",
            &format!("/api/v1/prompts/{prompt}/labels/prod/rollback"),
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(s.as_u16(), 409, "nothing older than v1 to roll back to");

    let versions = api
        .ok(
            "GET",
            &format!("/api/v1/prompts/{prompt}/versions"),
            &t.viewer,
            None,
            200,
        )
        .await;
    assert_eq!(versions.as_array().unwrap().len(), 3);
    let detail = api
        .ok(
            "GET",
            &format!("/api/v1/prompt_versions/{v1_id}"),
            &t.viewer,
            None,
            200,
        )
        .await;
    assert_eq!(detail["approvals"][0]["decision"], "approve");
    assert_eq!(detail["approvals"][0]["comment"], "ok");

    // Rejection needs a comment and ends the review.
    let v4 = new_version(&api, &t, prompt, "bad {{ question }}").await;
    let v4_id = v4["id"].as_i64().unwrap();
    api.ok(
        "POST",
        &format!("/api/v1/prompt_versions/{v4_id}/submit_for_approval"),
        &t.editor,
        None,
        200,
    )
    .await;
    api.ok(
        "POST",
        &format!("/api/v1/prompt_versions/{v4_id}/reject"),
        &t.admin,
        Some(json!({})),
        422,
    )
    .await;
    let rj = api
        .ok(
            "POST",
            &format!("/api/v1/prompt_versions/{v4_id}/reject"),
            &t.admin,
            Some(json!({"comment": "too terse"})),
            200,
        )
        .await;
    assert_eq!(rj["status"], "rejected");

    let audit = api
        .ok(
            "GET",
            "/api/v1/audit?limit=1000",
            &api.admin.clone(),
            None,
            200,
        )
        .await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for want in [
        "bootstrap",
        "project.create",
        "prompt_version.create",
        "prompt_version.approve",
        "label.set",
        "label.rollback",
        "prompt_version.reject",
    ] {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
    // A project admin sees only its project's records.
    let scoped = api
        .ok("GET", "/api/v1/audit?limit=1000", &t.admin, None, 200)
        .await;
    assert!(scoped
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["project_id"] == t.project));
    api.ok("GET", "/api/v1/audit", &t.editor, None, 403).await;

    let store = db.store().await;
    let n = control_plane::audit::verify(&store.pool)
        .await
        .unwrap()
        .records;
    assert_eq!(n as usize, actions.len());

    let doc = api
        .ok("GET", "/api/v1/openapi.json", "none", None, 200)
        .await;
    assert!(doc["paths"]["/api/v1/prompts/{prompt_id}/versions"]["post"].is_object());
    assert!(doc["components"]["schemas"]["CreateVersion"].is_object());
    let params = &doc["paths"]["/api/v1/prompts/{prompt_id}/labels/{label}"]["put"]["parameters"];
    assert_eq!(params[0]["name"], "prompt_id");
    assert_eq!(params[1]["name"], "label");
    assert_eq!(params[1]["in"], "path");
}
