//! Access control: role × endpoint × project matrix and mass assignment, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use serde_json::{json, Value};
use support::fixtures::{approved_version, new_prompt, new_version, team};
use support::{assert_error_shape, Api, TestDb};

on_both_backends!(
    rbac_matrix_denies_cross_project_and_underprivileged,
    mass_assignment_is_rejected
);

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
            (
                "PATCH",
                format!("/api/v1/projects/{pa}"),
                Some(json!({"description": format!("d{n}")})),
                2,
            ),
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
    assert_eq!(checked, 20 * 3 + 19 * 4);
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
