//! Fixtures shared by the suites: a project team with keys for every role, prompts, versions.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};

use super::Api;

/// Runs each scenario once per backend, each on a fresh database: `sqlite::NAME` and
/// `postgres::NAME`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                let db = $crate::support::TestDb::sqlite().await;
                super::$name(&db).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                let db = $crate::support::TestDb::postgres().await;
                super::$name(&db).await;
            })*
        }
    };
}

/// A project with an editor (author), two admins (reviewers) and a viewer.
pub struct Team {
    pub project: i64,
    pub editor: String,
    pub admin: String,
    pub admin2: String,
    pub viewer: String,
    pub editor_id: i64,
}

pub async fn team(api: &Api, name: &str, required_approvals: i64) -> Team {
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

pub async fn new_prompt(api: &Api, t: &Team, name: &str) -> i64 {
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

/// Declarations for a fixture body: `question` (string) and every `{{ name ...` it prints
/// (any type), so templates compile under the gateway's declared-variables rule.
pub fn declared_for(body: &str) -> Value {
    let mut vars = serde_json::Map::new();
    vars.insert("question".into(), json!("str"));
    for part in body.split("{{").skip(1) {
        let name: String = part
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && name != "question" {
            vars.insert(name, json!("any"));
        }
    }
    Value::Object(vars)
}

pub async fn new_version(api: &Api, t: &Team, prompt: i64, body: &str) -> Value {
    api.ok(
        "POST",
        &format!("/api/v1/prompts/{prompt}/versions"),
        &t.editor,
        Some(json!({"body": body, "variables": declared_for(body), "notes": "n"})),
        201,
    )
    .await
}

/// The editor submits version `id`, the admin approves it; returns the approval response.
pub async fn submit_and_approve(api: &Api, t: &Team, id: i64) -> Value {
    api.ok(
        "POST",
        &format!("/api/v1/prompt_versions/{id}/submit_for_approval"),
        &t.editor,
        None,
        200,
    )
    .await;
    api.ok(
        "POST",
        &format!("/api/v1/prompt_versions/{id}/approve"),
        &t.admin,
        Some(json!({"comment": "lgtm"})),
        200,
    )
    .await
}

pub async fn approved_version(api: &Api, t: &Team, prompt: i64, body: &str) -> i64 {
    let v = new_version(api, t, prompt, body).await;
    let id = v["id"].as_i64().unwrap();
    let a = submit_and_approve(api, t, id).await;
    assert_eq!(a["status"], "approved");
    id
}
