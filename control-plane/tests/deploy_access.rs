//! Access control of the deployment endpoints: role × endpoint × other project, gateway keys
//! against every endpoint, and mass assignment; on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use serde_json::{json, Value};
use support::deploy::{configure, gateway_key, policy_doc, snapshot, CONFIG, POLICY};
use support::fixtures::{approved_version, new_prompt, team};
use support::{assert_error_shape, Api, TestDb};

on_both_backends!(
    deploy_matrix_denies_cross_project_and_underprivileged,
    gateway_keys_only_reach_the_gateway_endpoints,
    deploy_mass_assignment_is_rejected
);

type Case = (&'static str, String, Option<Value>, u8);

/// Creates a policy in the project and returns its id.
async fn policy(api: &Api, key: &str, project: i64, name: &str) -> i64 {
    let v = api
        .ok(
            "POST",
            "/api/v1/policies",
            key,
            Some(json!({"project_id": project, "name": name, "yaml": policy_doc(name)})),
            201,
        )
        .await;
    v["id"].as_i64().unwrap()
}

async fn deploy_matrix_denies_cross_project_and_underprivileged(db: &TestDb) {
    let api = Api::start(db).await;
    let a = team(&api, "alpha", 1).await;
    let b = team(&api, "beta", 1).await;
    configure(&api, &a, "prod", CONFIG).await;
    let prompt = new_prompt(&api, &a, "p").await;
    let approved = approved_version(&api, &a, prompt, "a {{ question }}").await;
    let pa = a.project;
    // One deletable policy per role that may delete (editor, admin), one kept for the rest.
    let deletable = [
        policy(&api, &a.editor, pa, "d0").await,
        policy(&api, &a.editor, pa, "d1").await,
        policy(&api, &a.editor, pa, "d2").await,
    ];
    let kept = policy(&api, &a.editor, pa, "kept").await;

    let cases = |n: usize, level: Option<u8>| -> Vec<Case> {
        let pol = level.map_or(kept, |l| deletable[usize::from(l)]);
        vec![
            (
                "GET",
                format!("/api/v1/prompt_versions/{approved}/checks"),
                None,
                0,
            ),
            (
                "GET",
                format!("/api/v1/prompts/{prompt}/deployments"),
                None,
                0,
            ),
            (
                "GET",
                format!("/api/v1/projects/{pa}/environments"),
                None,
                0,
            ),
            (
                "GET",
                format!("/api/v1/projects/{pa}/environments/prod/config"),
                None,
                0,
            ),
            ("GET", format!("/api/v1/projects/{pa}/policies"), None, 0),
            (
                "GET",
                format!("/api/v1/models/providers?project_id={pa}"),
                None,
                0,
            ),
            (
                "GET",
                "/api/v1/gateway/snapshot?project=alpha&environment=prod".into(),
                None,
                0,
            ),
            (
                "POST",
                format!("/api/v1/prompt_versions/{approved}/checks"),
                Some(json!({"name": "eval", "status": "passed"})),
                1,
            ),
            (
                "POST",
                "/api/v1/deployments".into(),
                Some(json!({"prompt_version_id": approved, "environment": "dev"})),
                1,
            ),
            // prod is protected: admins only, as for its label.
            (
                "POST",
                "/api/v1/deployments".into(),
                Some(json!({"prompt_version_id": approved, "environment": "prod"})),
                2,
            ),
            (
                "POST",
                "/api/v1/policies".into(),
                Some(
                    json!({"project_id": pa, "name": format!("n{n}"), "yaml": policy_doc(&format!("n{n}"))}),
                ),
                1,
            ),
            ("DELETE", format!("/api/v1/policies/{pol}"), None, 1),
            (
                "PUT",
                format!("/api/v1/projects/{pa}/environments/prod/config"),
                Some(json!({"yaml": CONFIG})),
                2,
            ),
            (
                "PATCH",
                format!("/api/v1/projects/{pa}"),
                Some(json!({"required_checks": [], "capture_payloads": false})),
                2,
            ),
            (
                "POST",
                format!("/api/v1/projects/{pa}/api_keys"),
                Some(json!({"name": format!("g{n}"), "user_id": a.editor_id, "role": "gateway"})),
                2,
            ),
        ]
    };
    let own = [(&a.viewer, 0u8), (&a.editor, 1), (&a.admin, 2)];
    let (mut n, mut checked) = (0, 0);
    for (key, level) in own {
        for (method, path, body, need) in cases(n, Some(level)) {
            n += 1;
            let (s, e) = api.call(method, &path, Some(key.as_str()), body).await;
            assert_ne!(s.as_u16(), 500, "{method} {path}: {e}");
            if level < need {
                assert_eq!(s.as_u16(), 403, "level {level} {method} {path}: {e}");
                assert_error_shape(&e);
            } else {
                assert!(
                    s.is_success(),
                    "level {level} {method} {path} must be allowed: {s} {e}"
                );
            }
            checked += 1;
        }
    }
    for key in [&b.viewer, &b.editor, &b.admin, &b.admin2] {
        for (method, path, body, _) in cases(n, None) {
            n += 1;
            let (s, e) = api.call(method, &path, Some(key.as_str()), body).await;
            assert_eq!(s.as_u16(), 404, "cross-project {method} {path}: {s} {e}");
            assert_error_shape(&e);
            checked += 1;
        }
    }
    assert_eq!(checked, 15 * 3 + 15 * 4);
    // The kept policy survived every foreign attempt.
    let listed = api
        .ok(
            "GET",
            &format!("/api/v1/projects/{pa}/policies"),
            &a.viewer,
            None,
            200,
        )
        .await;
    assert!(listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == kept));
    // Project B cannot plant a policy or config in A through its own body fields.
    let (s, _) = api
        .call(
            "POST",
            "/api/v1/policies",
            Some(&b.admin),
            Some(json!({"project_id": pa, "name": "evil", "yaml": POLICY})),
        )
        .await;
    assert_eq!(s.as_u16(), 404);
    let (s, _) = api
        .call(
            "POST",
            "/api/v1/deployments",
            Some(&b.admin),
            Some(json!({"prompt_version_id": approved, "environment": "prod"})),
        )
        .await;
    assert_eq!(s.as_u16(), 404);
}

async fn gateway_keys_only_reach_the_gateway_endpoints(db: &TestDb) {
    let api = Api::start(db).await;
    let a = team(&api, "alpha", 1).await;
    let b = team(&api, "beta", 1).await;
    configure(&api, &a, "prod", CONFIG).await;
    configure(&api, &b, "prod", CONFIG).await;
    let prompt = new_prompt(&api, &a, "p").await;
    let v = approved_version(&api, &a, prompt, "a {{ question }}").await;
    let pol = policy(&api, &a.editor, a.project, "routing").await;
    let gw = gateway_key(&api, &a).await;
    let pa = a.project;

    // Only admins issue gateway keys, and gateway is no membership role.
    let (s, _) = api
        .call(
            "POST",
            &format!("/api/v1/projects/{pa}/api_keys"),
            Some(&a.editor),
            Some(json!({"name": "gw2", "user_id": a.editor_id, "role": "gateway"})),
        )
        .await;
    assert_eq!(s.as_u16(), 403);
    let (s, _) = api
        .call(
            "PUT",
            &format!("/api/v1/projects/{pa}/members/{}", a.editor_id),
            Some(&api.admin.clone()),
            Some(json!({"role": "gateway"})),
        )
        .await;
    assert_eq!(s.as_u16(), 422);

    let every: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "/api/v1/projects".into(), None),
        (
            "POST",
            "/api/v1/projects".into(),
            Some(json!({"name": "x"})),
        ),
        ("GET", format!("/api/v1/projects/{pa}"), None),
        (
            "PATCH",
            format!("/api/v1/projects/{pa}"),
            Some(json!({"description": "x"})),
        ),
        ("GET", "/api/v1/users".into(), None),
        ("POST", "/api/v1/users".into(), Some(json!({"name": "x"}))),
        ("GET", format!("/api/v1/projects/{pa}/members"), None),
        (
            "PUT",
            format!("/api/v1/projects/{pa}/members/{}", a.editor_id),
            Some(json!({"role": "admin"})),
        ),
        (
            "DELETE",
            format!("/api/v1/projects/{pa}/members/{}", a.editor_id),
            None,
        ),
        ("GET", format!("/api/v1/projects/{pa}/api_keys"), None),
        (
            "POST",
            format!("/api/v1/projects/{pa}/api_keys"),
            Some(json!({"name": "k", "user_id": a.editor_id, "role": "admin"})),
        ),
        ("POST", "/api/v1/api_keys/1/revoke".into(), None),
        ("POST", "/api/v1/api_keys/1/rotate".into(), None),
        ("GET", format!("/api/v1/projects/{pa}/prompts"), None),
        (
            "POST",
            format!("/api/v1/projects/{pa}/prompts"),
            Some(json!({"name": "q"})),
        ),
        ("GET", format!("/api/v1/prompts/{prompt}"), None),
        ("GET", format!("/api/v1/prompts/{prompt}/versions"), None),
        (
            "POST",
            format!("/api/v1/prompts/{prompt}/versions"),
            Some(json!({"body": "b"})),
        ),
        (
            "GET",
            format!("/api/v1/prompts/{prompt}/diff?from=1&to=1"),
            None,
        ),
        ("GET", format!("/api/v1/prompt_versions/{v}"), None),
        (
            "POST",
            format!("/api/v1/prompt_versions/{v}/submit_for_approval"),
            None,
        ),
        (
            "POST",
            format!("/api/v1/prompt_versions/{v}/approve"),
            Some(json!({})),
        ),
        (
            "POST",
            format!("/api/v1/prompt_versions/{v}/reject"),
            Some(json!({"comment": "c"})),
        ),
        (
            "PUT",
            format!("/api/v1/prompts/{prompt}/labels/prod"),
            Some(json!({"version_id": v})),
        ),
        (
            "POST",
            format!("/api/v1/prompts/{prompt}/labels/prod/rollback"),
            None,
        ),
        ("GET", "/api/v1/audit".into(), None),
        ("GET", format!("/api/v1/prompt_versions/{v}/checks"), None),
        (
            "POST",
            format!("/api/v1/prompt_versions/{v}/checks"),
            Some(json!({"name": "e", "status": "passed"})),
        ),
        (
            "POST",
            "/api/v1/deployments".into(),
            Some(json!({"prompt_version_id": v, "environment": "prod"})),
        ),
        ("GET", format!("/api/v1/prompts/{prompt}/deployments"), None),
        ("GET", format!("/api/v1/projects/{pa}/environments"), None),
        (
            "GET",
            format!("/api/v1/projects/{pa}/environments/prod/config"),
            None,
        ),
        (
            "PUT",
            format!("/api/v1/projects/{pa}/environments/prod/config"),
            Some(json!({"yaml": CONFIG})),
        ),
        (
            "POST",
            "/api/v1/policies".into(),
            Some(json!({"project_id": pa, "name": "z", "yaml": POLICY})),
        ),
        ("GET", format!("/api/v1/projects/{pa}/policies"), None),
        ("DELETE", format!("/api/v1/policies/{pol}"), None),
        (
            "GET",
            format!("/api/v1/models/providers?project_id={pa}"),
            None,
        ),
    ];
    for (method, path, body) in every {
        let (s, e) = api.call(method, &path, Some(gw.as_str()), body).await;
        assert_eq!(s.as_u16(), 403, "gateway key on {method} {path}: {e}");
        assert_error_shape(&e);
    }
    // Nothing changed: no deployment, the policy is still there.
    let history = api
        .ok(
            "GET",
            &format!("/api/v1/prompts/{prompt}/deployments"),
            &a.viewer,
            None,
            200,
        )
        .await;
    assert!(history["data"].as_array().unwrap().is_empty());
    let listed = api
        .ok(
            "GET",
            &format!("/api/v1/projects/{pa}/policies"),
            &a.viewer,
            None,
            200,
        )
        .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    // Its own snapshot: yes (by name or id); the other project's: no.
    assert_eq!(snapshot(&api, &gw, "alpha", "prod", None, 0).await.0, 200);
    assert_eq!(
        snapshot(&api, &gw, &pa.to_string(), "prod", None, 0)
            .await
            .0,
        200
    );
    assert_eq!(snapshot(&api, &gw, "beta", "prod", None, 0).await.0, 404);
    assert_eq!(
        snapshot(&api, &gw, &b.project.to_string(), "prod", None, 0)
            .await
            .0,
        404
    );
    // A revoked gateway key is refused.
    let keys = api
        .ok(
            "GET",
            &format!("/api/v1/projects/{pa}/api_keys"),
            &a.admin,
            None,
            200,
        )
        .await;
    let gw_id = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["role"] == "gateway")
        .unwrap()["id"]
        .clone();
    api.ok(
        "POST",
        &format!("/api/v1/api_keys/{gw_id}/revoke"),
        &a.admin,
        None,
        200,
    )
    .await;
    assert_eq!(snapshot(&api, &gw, "alpha", "prod", None, 0).await.0, 401);
}

async fn deploy_mass_assignment_is_rejected(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "mass", 1).await;
    let prompt = new_prompt(&api, &t, "p").await;
    let v = approved_version(&api, &t, prompt, "a {{ question }}").await;
    let pa = t.project;
    let attempts = [
        (
            "POST",
            "/api/v1/deployments".to_owned(),
            json!({"prompt_version_id": v, "environment": "dev", "kind": "rollback"}),
        ),
        (
            "POST",
            "/api/v1/deployments".to_owned(),
            json!({"prompt_version_id": v, "environment": "dev", "created_by": 1}),
        ),
        (
            "POST",
            "/api/v1/deployments".to_owned(),
            json!({"prompt_version_id": v, "environment": "dev", "prompt_id": 99}),
        ),
        (
            "POST",
            format!("/api/v1/prompt_versions/{v}/checks"),
            json!({"name": "e", "status": "passed", "version_id": 1}),
        ),
        (
            "POST",
            format!("/api/v1/prompt_versions/{v}/checks"),
            json!({"name": "e", "status": "passed", "created_by": 1}),
        ),
        (
            "POST",
            format!("/api/v1/prompt_versions/{v}/checks"),
            json!({"name": "e", "status": "skipped"}),
        ),
        (
            "POST",
            "/api/v1/policies".to_owned(),
            json!({"project_id": pa, "name": "x", "yaml": POLICY, "id": 5}),
        ),
        (
            "PUT",
            format!("/api/v1/projects/{pa}/environments/prod/config"),
            json!({"yaml": CONFIG, "environment": "dev"}),
        ),
        (
            "PATCH",
            format!("/api/v1/projects/{pa}"),
            json!({"required_checks": ["ok"], "org_id": 9}),
        ),
        (
            "PATCH",
            format!("/api/v1/projects/{pa}"),
            json!({"required_checks": ["not ok!"]}),
        ),
        (
            "PATCH",
            format!("/api/v1/projects/{pa}"),
            json!({"capture_payloads": "yes"}),
        ),
        (
            "POST",
            format!("/api/v1/prompts/{prompt}/versions"),
            json!({"body": "b", "status": "approved", "role": "user"}),
        ),
    ];
    for (method, path, body) in attempts {
        let (s, e) = api
            .call(method, &path, Some(t.admin.as_str()), Some(body.clone()))
            .await;
        assert_eq!(s.as_u16(), 422, "{method} {path} {body}: {e}");
        assert_error_shape(&e);
    }
    let history = api
        .ok(
            "GET",
            &format!("/api/v1/prompts/{prompt}/deployments"),
            &t.viewer,
            None,
            200,
        )
        .await;
    assert!(history["data"].as_array().unwrap().is_empty());
    let checks = api
        .ok(
            "GET",
            &format!("/api/v1/prompt_versions/{v}/checks"),
            &t.viewer,
            None,
            200,
        )
        .await;
    assert!(checks["data"].as_array().unwrap().is_empty());
    let project = api
        .ok(
            "GET",
            &format!("/api/v1/projects/{pa}"),
            &t.viewer,
            None,
            200,
        )
        .await;
    assert_eq!(project["required_checks"], json!([]));
    assert_eq!(project["capture_payloads"], false);
    let envs = api
        .ok(
            "GET",
            &format!("/api/v1/projects/{pa}/environments"),
            &t.viewer,
            None,
            200,
        )
        .await;
    assert!(envs["data"].as_array().unwrap().is_empty());
}
