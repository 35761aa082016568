//! Approvals, immutability and template validation, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use serde_json::json;
use support::fixtures::{approved_version, new_prompt, new_version, team};
use support::{assert_error_shape, Api, TestDb};

on_both_backends!(
    concurrent_versions_get_distinct_numbers,
    multiple_required_approvals,
    author_cannot_approve_own_version,
    versions_are_immutable,
    templates_are_validated
);

async fn multiple_required_approvals(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "bank", 2).await;
    let prompt = new_prompt(&api, &t, "kyc").await;
    let v = new_version(&api, &t, prompt, "Hello {{ name }}").await;
    let id = v["id"].as_i64().unwrap();
    api.ok(
        "POST",
        &format!("/api/v1/prompt_versions/{id}/submit_for_approval"),
        &t.editor,
        None,
        200,
    )
    .await;
    let a = api
        .ok(
            "POST",
            &format!("/api/v1/prompt_versions/{id}/approve"),
            &t.admin,
            Some(json!({})),
            200,
        )
        .await;
    assert_eq!(a["status"], "pending", "one of two approvals");
    // The same reviewer cannot count twice.
    api.ok(
        "POST",
        &format!("/api/v1/prompt_versions/{id}/approve"),
        &t.admin,
        Some(json!({})),
        409,
    )
    .await;
    let (s, _) = api
        .call(
            "PUT",
            &format!("/api/v1/prompts/{prompt}/labels/staging"),
            Some(&t.admin),
            Some(json!({"version_id": id})),
        )
        .await;
    assert_eq!(s.as_u16(), 409);
    let b = api
        .ok(
            "POST",
            &format!("/api/v1/prompt_versions/{id}/approve"),
            &t.admin2,
            Some(json!({})),
            200,
        )
        .await;
    assert_eq!(b["status"], "approved");
    api.ok(
        "PUT",
        &format!("/api/v1/prompts/{prompt}/labels/staging"),
        &t.admin2,
        Some(json!({"version_id": id})),
        200,
    )
    .await;

    // Lowering the requirement to 1 (admins only) lets the next single approval suffice.
    let pp = format!("/api/v1/projects/{}", t.project);
    api.ok(
        "PATCH",
        &pp,
        &t.editor,
        Some(json!({"required_approvals": 1})),
        403,
    )
    .await;
    api.ok(
        "PATCH",
        &pp,
        &t.admin,
        Some(json!({"required_approvals": 0})),
        422,
    )
    .await;
    api.ok("PATCH", &pp, &t.admin, Some(json!({"id": 5})), 422)
        .await;
    let p = api
        .ok(
            "PATCH",
            &pp,
            &t.admin,
            Some(json!({"required_approvals": 1})),
            200,
        )
        .await;
    assert_eq!(p["required_approvals"], 1);
    assert_eq!(p["description"], "d");
    let v2 = new_version(&api, &t, prompt, "Hi {{ name }}").await["id"]
        .as_i64()
        .unwrap();
    let submit = format!("/api/v1/prompt_versions/{v2}/submit_for_approval");
    api.ok("POST", &submit, &t.editor, None, 200).await;
    let approve = format!("/api/v1/prompt_versions/{v2}/approve");
    let a = api
        .ok("POST", &approve, &t.admin, Some(json!({})), 200)
        .await;
    assert_eq!(a["status"], "approved");
}

async fn author_cannot_approve_own_version(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "solo", 1).await;
    let prompt = new_prompt(&api, &t, "p").await;
    // The admin authors a version and cannot approve it; another admin can.
    let v = api
        .ok(
            "POST",
            &format!("/api/v1/prompts/{prompt}/versions"),
            &t.admin,
            Some(json!({"body": "x {{ y }}", "variables": {"y": "string"}})),
            201,
        )
        .await;
    let id = v["id"].as_i64().unwrap();
    api.ok(
        "POST",
        &format!("/api/v1/prompt_versions/{id}/submit_for_approval"),
        &t.admin,
        None,
        200,
    )
    .await;
    let (s, e) = api
        .call(
            "POST",
            &format!("/api/v1/prompt_versions/{id}/approve"),
            Some(&t.admin),
            Some(json!({})),
        )
        .await;
    assert_eq!(s.as_u16(), 403, "{e}");
    assert_error_shape(&e);
    assert_eq!(e["error"]["type"], "permission_error");
    api.ok(
        "POST",
        &format!("/api/v1/prompt_versions/{id}/reject"),
        &t.admin,
        Some(json!({"comment": "x"})),
        403,
    )
    .await;
    // Editors cannot approve at all.
    api.ok(
        "POST",
        &format!("/api/v1/prompt_versions/{id}/approve"),
        &t.editor,
        Some(json!({})),
        403,
    )
    .await;
    let ok = api
        .ok(
            "POST",
            &format!("/api/v1/prompt_versions/{id}/approve"),
            &t.admin2,
            Some(json!({})),
            200,
        )
        .await;
    assert_eq!(ok["status"], "approved");
}

async fn versions_are_immutable(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "imm", 1).await;
    let prompt = new_prompt(&api, &t, "p").await;
    let id = approved_version(&api, &t, prompt, "original {{ q }}").await;
    for method in ["PUT", "PATCH", "DELETE"] {
        let (s, e) = api
            .call(
                method,
                &format!("/api/v1/prompt_versions/{id}"),
                Some(&api.admin),
                Some(json!({"body": "changed"})),
            )
            .await;
        assert_eq!(s.as_u16(), 405, "{method}: {e}");
        assert_error_shape(&e);
    }
    // New content means a new version; the old one is untouched.
    new_version(&api, &t, prompt, "changed {{ q }}").await;
    let v = api
        .ok(
            "GET",
            &format!("/api/v1/prompt_versions/{id}"),
            &t.viewer,
            None,
            200,
        )
        .await;
    assert_eq!(v["body"], "original {{ q }}");
    assert_eq!(v["version"], 1);
    // Even with direct database access, content cannot change and versions cannot be deleted.
    let store = db.store().await;
    let upd = sqlx::query("UPDATE prompt_versions SET body = 'tampered' WHERE id = $1")
        .bind(id)
        .execute(&store.pool)
        .await;
    assert!(upd.is_err(), "trigger must reject content updates");
    let del = sqlx::query("DELETE FROM prompt_versions WHERE id = $1")
        .bind(id)
        .execute(&store.pool)
        .await;
    assert!(del.is_err(), "trigger must reject deletes");
    let v = api
        .ok(
            "GET",
            &format!("/api/v1/prompt_versions/{id}"),
            &t.viewer,
            None,
            200,
        )
        .await;
    assert_eq!(v["body"], "original {{ q }}");
}

async fn templates_are_validated(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "tpl", 1).await;
    let prompt = new_prompt(&api, &t, "p").await;
    for bad in ["Hello {{ name ", "{% if x %}no end", "{{ x | }}"] {
        let (s, e) = api
            .call(
                "POST",
                &format!("/api/v1/prompts/{prompt}/versions"),
                Some(&t.editor),
                Some(json!({"body": bad})),
            )
            .await;
        assert_eq!(s.as_u16(), 422, "{bad}: {e}");
        assert_error_shape(&e);
        assert_eq!(e["error"]["param"], "body");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("template does not compile"),
            "{e}"
        );
    }
    let (s, _) = api
        .call(
            "POST",
            &format!("/api/v1/prompts/{prompt}/versions"),
            Some(&t.editor),
            Some(json!({"body": "ok", "variables": [1]})),
        )
        .await;
    assert_eq!(s.as_u16(), 422);
    api.ok(
        "POST",
        &format!("/api/v1/prompts/{prompt}/versions"),
        &t.editor,
        Some(
            json!({"body": "{% for d in docs %}{{ d }}{% endfor %} {{ question | upper }}",
                    "variables": {"docs": "array", "question": "string"}}),
        ),
        201,
    )
    .await;
}

async fn concurrent_versions_get_distinct_numbers(db: &TestDb) {
    let api = std::sync::Arc::new(Api::start(db).await);
    let t = team(&api, "race", 1).await;
    let prompt = new_prompt(&api, &t, "p").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let (api, key) = (api.clone(), t.editor.clone());
        tasks.spawn(async move {
            let body = json!({"body": format!("v{i} {{{{ q }}}}"), "variables": {"q": "string"}});
            let path = format!("/api/v1/prompts/{prompt}/versions");
            api.call("POST", &path, Some(key.as_str()), Some(body))
                .await
        });
    }
    let mut numbers = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (status, v) = joined.unwrap();
        assert_eq!(status.as_u16(), 201, "{v}");
        numbers.push(v["version"].as_i64().unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=12).collect::<Vec<_>>());
    let store = db.store().await;
    control_plane::audit::verify(&store.pool).await.unwrap();
}
