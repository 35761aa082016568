//! One store/API suite, run on SQLite and on PostgreSQL (`sqlite::*`, `postgres::*`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{json, Value};
use support::{assert_error_shape, Api, TestDb};

/// Runs each scenario once per backend, each on a fresh database.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                let db = super::TestDb::sqlite().await;
                super::$name(&db).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                let db = super::TestDb::postgres().await;
                super::$name(&db).await;
            })*
        }
    };
}

on_both_backends!(
    lifecycle_happy_path,
    multiple_required_approvals,
    author_cannot_approve_own_version,
    versions_are_immutable,
    rbac_matrix_denies_cross_project_and_underprivileged,
    mass_assignment_is_rejected,
    api_keys_rotate_revoke_and_scope,
    templates_are_validated,
    audit_chain_detects_tampering,
);

/// A project with an editor (author), two admins (reviewers) and a viewer.
struct Team {
    project: i64,
    editor: String,
    admin: String,
    admin2: String,
    viewer: String,
    editor_id: i64,
}

async fn team(api: &Api, name: &str, required_approvals: i64) -> Team {
    let root = api.admin.clone();
    let p = api
        .ok(
            "POST",
            "/api/v1/projects",
            &root,
            Some(
                json!({"name": name, "description": "d", "required_approvals": required_approvals}),
            ),
            201,
        )
        .await;
    let project = p["id"].as_i64().unwrap();
    let editor_id = api.new_user(&format!("{name}-alice")).await;
    let admin_id = api.new_user(&format!("{name}-bob")).await;
    let admin2_id = api.new_user(&format!("{name}-dan")).await;
    let viewer_id = api.new_user(&format!("{name}-carol")).await;
    Team {
        project,
        editor: api.member_key(project, editor_id, "editor").await,
        admin: api.member_key(project, admin_id, "admin").await,
        admin2: api.member_key(project, admin2_id, "admin").await,
        viewer: api.member_key(project, viewer_id, "viewer").await,
        editor_id,
    }
}

async fn new_prompt(api: &Api, t: &Team, name: &str) -> i64 {
    let v = api
        .ok(
            "POST",
            &format!("/api/v1/projects/{}/prompts", t.project),
            &t.editor,
            Some(json!({"name": name})),
            201,
        )
        .await;
    v["id"].as_i64().unwrap()
}

async fn new_version(api: &Api, t: &Team, prompt: i64, body: &str) -> Value {
    api.ok(
        "POST",
        &format!("/api/v1/prompts/{prompt}/versions"),
        &t.editor,
        Some(json!({"body": body, "variables": {"question": "str"}, "notes": "n"})),
        201,
    )
    .await
}

async fn approved_version(api: &Api, t: &Team, prompt: i64, body: &str) -> i64 {
    let v = new_version(api, t, prompt, body).await;
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
            Some(json!({"comment": "lgtm"})),
            200,
        )
        .await;
    assert_eq!(a["status"], "approved");
    id
}

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

    api.ok(
        "POST",
        &format!("/api/v1/prompt_versions/{v2_id}/submit_for_approval"),
        &t.editor,
        None,
        200,
    )
    .await;
    api.ok(
        "POST",
        &format!("/api/v1/prompt_versions/{v2_id}/approve"),
        &t.admin,
        Some(json!({})),
        200,
    )
    .await;
    api.ok(
        "PUT",
        &format!("/api/v1/prompts/{prompt}/labels/prod"),
        &t.admin,
        Some(json!({"version_id": v2_id})),
        200,
    )
    .await;
    // Editors may move unprotected labels, even to drafts.
    let v3 = new_version(&api, &t, prompt, "draft {{ question }}").await;
    api.ok(
        "PUT",
        &format!("/api/v1/prompts/{prompt}/labels/dev"),
        &t.editor,
        Some(json!({"version_id": v3["id"]})),
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
    let n = control_plane::audit::verify(&store.pool).await.unwrap();
    assert_eq!(n as usize, actions.len());

    let doc = api
        .ok("GET", "/api/v1/openapi.json", "none", None, 200)
        .await;
    assert!(doc["paths"]["/api/v1/prompts/{prompt_id}/versions"]["post"].is_object());
    assert!(doc["components"]["schemas"]["CreateVersion"].is_object());
}

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
            Some(json!({"body": "x {{ y }}"})),
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

/// Every (endpoint × role) in project A, and every key of project B against A's objects.
async fn rbac_matrix_denies_cross_project_and_underprivileged(db: &TestDb) {
    let api = Api::start(db).await;
    let a = team(&api, "alpha", 1).await;
    let b = team(&api, "beta", 1).await;
    let prompt = new_prompt(&api, &a, "p").await;
    let draft = new_version(&api, &a, prompt, "d {{ x }}").await["id"]
        .as_i64()
        .unwrap();
    let approved = approved_version(&api, &a, prompt, "a {{ x }}").await;
    let other_user = api.new_user("alpha-erin").await;
    let pa = a.project;

    // (method, path, body, least role allowed). Bodies use fresh names per call.
    type Case = (&'static str, String, Option<Value>, u8);
    let cases = |n: usize| -> Vec<Case> {
        vec![
            ("GET", format!("/api/v1/projects/{pa}"), None, 0),
            ("GET", format!("/api/v1/projects/{pa}/members"), None, 0),
            ("GET", format!("/api/v1/projects/{pa}/prompts"), None, 0),
            ("GET", format!("/api/v1/prompts/{prompt}"), None, 0),
            ("GET", format!("/api/v1/prompts/{prompt}/versions"), None, 0),
            (
                "GET",
                format!("/api/v1/prompts/{prompt}/diff?from=1&to=2"),
                None,
                0,
            ),
            ("GET", format!("/api/v1/prompt_versions/{draft}"), None, 0),
            (
                "POST",
                format!("/api/v1/projects/{pa}/prompts"),
                Some(json!({"name": format!("n{n}")})),
                1,
            ),
            (
                "POST",
                format!("/api/v1/prompts/{prompt}/versions"),
                Some(json!({"body": "b"})),
                1,
            ),
            (
                "POST",
                format!("/api/v1/prompt_versions/{draft}/submit_for_approval"),
                None,
                1,
            ),
            (
                "PUT",
                format!("/api/v1/prompts/{prompt}/labels/dev"),
                Some(json!({"version_id": draft})),
                1,
            ),
            (
                "POST",
                format!("/api/v1/prompt_versions/{draft}/approve"),
                Some(json!({})),
                2,
            ),
            (
                "POST",
                format!("/api/v1/prompt_versions/{draft}/reject"),
                Some(json!({"comment": "c"})),
                2,
            ),
            (
                "PUT",
                format!("/api/v1/prompts/{prompt}/labels/prod"),
                Some(json!({"version_id": approved})),
                2,
            ),
            (
                "POST",
                format!("/api/v1/prompts/{prompt}/labels/prod/rollback"),
                None,
                2,
            ),
            ("GET", format!("/api/v1/projects/{pa}/api_keys"), None, 2),
            (
                "POST",
                format!("/api/v1/projects/{pa}/api_keys"),
                Some(json!({"name": format!("k{n}"), "user_id": a.editor_id, "role": "viewer"})),
                2,
            ),
            (
                "PUT",
                format!("/api/v1/projects/{pa}/members/{other_user}"),
                Some(json!({"role": "viewer"})),
                2,
            ),
            ("GET", "/api/v1/audit".to_owned(), None, 2),
        ]
    };
    let own = [(&a.viewer, 0u8), (&a.editor, 1), (&a.admin, 2)];
    let mut n = 0;
    let mut checked = 0;
    for (key, level) in own {
        for (method, path, body, need) in cases(n) {
            n += 1;
            let (s, e) = api.call(method, &path, Some(key.as_str()), body).await;
            assert_ne!(s.as_u16(), 500, "{method} {path}: {e}");
            if level < need {
                assert_eq!(
                    s.as_u16(),
                    403,
                    "level {level} {method} {path} must be forbidden: {e}"
                );
                assert_error_shape(&e);
            } else {
                assert!(
                    ![401, 403, 404].contains(&s.as_u16()),
                    "level {level} {method} {path} must be allowed: {s} {e}"
                );
            }
            checked += 1;
        }
    }
    // Keys of project B, whatever their role, see nothing of project A (audit is scoped instead).
    for key in [&b.viewer, &b.editor, &b.admin, &b.admin2] {
        for (method, path, body, _) in cases(n) {
            n += 1;
            let (s, e) = api.call(method, &path, Some(key.as_str()), body).await;
            if path == "/api/v1/audit" {
                if s.is_success() {
                    assert!(
                        e.as_array().unwrap().iter().all(|r| r["project_id"] != pa),
                        "audit leak: {e}"
                    );
                }
                continue;
            }
            assert_eq!(
                s.as_u16(),
                404,
                "cross-project {method} {path} must be denied: {s} {e}"
            );
            assert_error_shape(&e);
            checked += 1;
        }
    }
    assert!(checked >= 19 * 3 + 18 * 4);
    // Project keys cannot do org-level things; no or bad keys are 401.
    for key in [&a.admin, &b.admin] {
        api.ok(
            "POST",
            "/api/v1/projects",
            key,
            Some(json!({"name": "x"})),
            403,
        )
        .await;
        api.ok(
            "POST",
            "/api/v1/users",
            key,
            Some(json!({"name": "x"})),
            403,
        )
        .await;
        let listed = api.ok("GET", "/api/v1/projects", key, None, 200).await;
        assert_eq!(listed.as_array().unwrap().len(), 1);
    }
    let (s, e) = api
        .call("GET", &format!("/api/v1/projects/{pa}"), None, None)
        .await;
    assert_eq!(s.as_u16(), 401);
    assert_error_shape(&e);
    let forged = format!("{}0", &a.admin[..a.admin.len() - 1]);
    let forged = if forged == a.admin {
        format!("{}1", &a.admin[..a.admin.len() - 1])
    } else {
        forged
    };
    api.ok("GET", &format!("/api/v1/projects/{pa}"), &forged, None, 401)
        .await;
    api.ok(
        "GET",
        &format!("/api/v1/projects/{pa}"),
        "pgk_nonsense",
        None,
        401,
    )
    .await;
}

async fn mass_assignment_is_rejected(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "mass", 1).await;
    let root = api.admin.clone();
    let prompt = new_prompt(&api, &t, "p").await;
    let attempts = [
        (
            "POST",
            format!("/api/v1/prompts/{prompt}/versions"),
            json!({"body": "b", "status": "approved"}),
        ),
        (
            "POST",
            format!("/api/v1/prompts/{prompt}/versions"),
            json!({"body": "b", "created_by": 1}),
        ),
        (
            "POST",
            format!("/api/v1/prompts/{prompt}/versions"),
            json!({"body": "b", "id": 99, "version": 7}),
        ),
        (
            "POST",
            format!("/api/v1/prompts/{prompt}/versions"),
            json!({"body": "b", "created_at": "2000-01-01T00:00:00Z"}),
        ),
        (
            "POST",
            format!("/api/v1/projects/{}/prompts", t.project),
            json!({"name": "q", "project_id": 42}),
        ),
        (
            "POST",
            format!("/api/v1/projects/{}/api_keys", t.project),
            json!({"name": "k", "user_id": t.editor_id, "role": "viewer", "project_id": 1}),
        ),
        (
            "POST",
            "/api/v1/users".to_owned(),
            json!({"name": "eve", "is_org_admin": true}),
        ),
        (
            "POST",
            "/api/v1/projects".to_owned(),
            json!({"name": "p2", "org_id": 7}),
        ),
    ];
    for (method, path, body) in attempts {
        let key = if path.starts_with("/api/v1/users")
            || path == "/api/v1/projects"
            || path.contains("api_keys")
        {
            &root
        } else {
            &t.editor
        };
        let (s, e) = api
            .call(method, &path, Some(key.as_str()), Some(body.clone()))
            .await;
        assert_eq!(s.as_u16(), 422, "{path} {body}: {e}");
        assert_error_shape(&e);
    }
    let versions = api
        .ok(
            "GET",
            &format!("/api/v1/prompts/{prompt}/versions"),
            &t.viewer,
            None,
            200,
        )
        .await;
    assert!(
        versions.as_array().unwrap().is_empty(),
        "no version may be created: {versions}"
    );
    let users = api.ok("GET", "/api/v1/users", &root, None, 200).await;
    assert!(users.as_array().unwrap().iter().all(|u| u["name"] != "eve"));
    // Bad JSON and bad ids are 400 in the same error shape.
    let (s, e) = api
        .call("GET", "/api/v1/prompts/abc", Some(&root), None)
        .await;
    assert_eq!(s.as_u16(), 400);
    assert_error_shape(&e);
    let (s, _) = api
        .call("POST", "/api/v1/projects", Some(&root), None)
        .await;
    assert_eq!(s.as_u16(), 400);
    // Invalid roles are rejected.
    let (s, _) = api
        .call(
            "PUT",
            &format!("/api/v1/projects/{}/members/{}", t.project, t.editor_id),
            Some(&root),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(s.as_u16(), 422);
}

async fn api_keys_rotate_revoke_and_scope(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "keys", 1).await;
    let pa = t.project;
    let viewer_id = api.new_user("keys-vic").await;
    let vkey = api.member_key(pa, viewer_id, "viewer").await;
    // A key cannot exceed its user's membership.
    api.ok(
        "POST",
        &format!("/api/v1/projects/{pa}/api_keys"),
        &t.admin,
        Some(json!({"name": "up", "user_id": viewer_id, "role": "admin"})),
        422,
    )
    .await;
    let outsider = api.new_user("keys-out").await;
    api.ok(
        "POST",
        &format!("/api/v1/projects/{pa}/api_keys"),
        &t.admin,
        Some(json!({"name": "x", "user_id": outsider, "role": "viewer"})),
        422,
    )
    .await;

    let listed = api
        .ok(
            "GET",
            &format!("/api/v1/projects/{pa}/api_keys"),
            &t.admin,
            None,
            200,
        )
        .await;
    let text = listed.to_string();
    assert!(
        !text.contains(&vkey) && !text.contains(&t.admin),
        "listing must not show secrets"
    );
    let vk = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["user_id"] == viewer_id)
        .unwrap()["id"]
        .as_i64()
        .unwrap();

    let rotated = api
        .ok(
            "POST",
            &format!("/api/v1/api_keys/{vk}/rotate"),
            &t.admin,
            None,
            201,
        )
        .await;
    let new_key = rotated["key"].as_str().unwrap();
    api.ok("GET", &format!("/api/v1/projects/{pa}"), &vkey, None, 401)
        .await;
    api.ok("GET", &format!("/api/v1/projects/{pa}"), new_key, None, 200)
        .await;
    let new_id = rotated["id"].as_i64().unwrap();
    api.ok(
        "POST",
        &format!("/api/v1/api_keys/{new_id}/revoke"),
        &t.admin,
        None,
        200,
    )
    .await;
    api.ok("GET", &format!("/api/v1/projects/{pa}"), new_key, None, 401)
        .await;
    api.ok(
        "POST",
        &format!("/api/v1/api_keys/{new_id}/revoke"),
        &t.admin,
        None,
        409,
    )
    .await;
    // Lowering a membership lowers the key's effective role; removing it disables the key.
    let editor = api.member_key(pa, viewer_id, "editor").await;
    api.ok(
        "POST",
        &format!("/api/v1/projects/{pa}/prompts"),
        &editor,
        Some(json!({"name": "e1"})),
        201,
    )
    .await;
    api.ok(
        "PUT",
        &format!("/api/v1/projects/{pa}/members/{viewer_id}"),
        &t.admin,
        Some(json!({"role": "viewer"})),
        200,
    )
    .await;
    api.ok(
        "POST",
        &format!("/api/v1/projects/{pa}/prompts"),
        &editor,
        Some(json!({"name": "e2"})),
        403,
    )
    .await;
    api.ok(
        "DELETE",
        &format!("/api/v1/projects/{pa}/members/{viewer_id}"),
        &t.admin,
        None,
        204,
    )
    .await;
    api.ok("GET", &format!("/api/v1/projects/{pa}"), &editor, None, 403)
        .await;
    // Secrets never reach the audit log.
    let audit = api
        .ok(
            "GET",
            "/api/v1/audit?limit=1000",
            &api.admin.clone(),
            None,
            200,
        )
        .await
        .to_string();
    for secret in [&vkey, &editor, &new_key.to_owned(), &t.admin] {
        let tail = &secret[secret.len() - 64..];
        assert!(!audit.contains(tail));
    }
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
    new_version(
        &api,
        &t,
        prompt,
        "{% for d in docs %}{{ d }}{% endfor %} {{ question | upper }}",
    )
    .await;
}

async fn audit_chain_detects_tampering(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "aud", 1).await;
    let prompt = new_prompt(&api, &t, "p").await;
    approved_version(&api, &t, prompt, "x {{ y }}").await;
    let store = db.store().await;
    let n = control_plane::audit::verify(&store.pool).await.unwrap();
    assert!(n > 10, "{n}");
    assert_eq!(promptctl_verify(&db.url), Some(0));

    sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3")
        .execute(&store.pool)
        .await
        .unwrap();
    match control_plane::audit::verify(&store.pool).await {
        Err(control_plane::audit::VerifyError::Broken { seq, .. }) => assert_eq!(seq, 3),
        other => panic!("tampering not detected: {other:?}"),
    }
    assert_eq!(promptctl_verify(&db.url), Some(2));
}

/// Runs `promptctl audit verify` against `url` and returns its exit code.
fn promptctl_verify(url: &str) -> Option<i32> {
    std::process::Command::new(env!("CARGO_BIN_EXE_promptctl"))
        .args(["audit", "verify"])
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
        .status
        .code()
}
