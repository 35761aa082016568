//! Helpers for deployments, environment configs and gateway snapshots.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};

use super::fixtures::Team;
use super::Api;

/// A gateway config every test environment can run (no network, no keys).
pub const CONFIG: &str = "
providers:
  mock: {type: mock}
routes:
  - model: chat
    targets: [{provider: mock, model: m}]
";

/// A valid routing policy document over `CONFIG`'s provider.
pub const POLICY: &str = "
policies:
  - name: cheap
    objective: min_cost
    candidates: [{provider: mock, model: m}]
";

/// A valid policy document defining one policy called `name` (names are unique per project).
pub fn policy_doc(name: &str) -> String {
    POLICY.replace("name: cheap", &format!("name: {name}"))
}

/// Sets `env`'s config (as the project admin), asserting 200.
pub async fn configure(api: &Api, t: &Team, env: &str, yaml: &str) -> Value {
    api.ok(
        "PUT",
        &format!("/api/v1/projects/{}/environments/{env}/config", t.project),
        &t.admin,
        Some(json!({"yaml": yaml})),
        200,
    )
    .await
}

/// `POST /api/v1/deployments` as the least role that may: the editor, or the admin for the
/// protected `prod` and `staging`; `percent` None deploys stable.
pub async fn deploy(
    api: &Api,
    t: &Team,
    version_id: i64,
    env: &str,
    percent: Option<i64>,
) -> (u16, Value) {
    let mut body = json!({"prompt_version_id": version_id, "environment": env});
    if let Some(p) = percent {
        body["canary_percent"] = json!(p);
    }
    let key = if matches!(env, "prod" | "staging") {
        &t.admin
    } else {
        &t.editor
    };
    let (s, v) = api
        .call("POST", "/api/v1/deployments", Some(key), Some(body))
        .await;
    (s.as_u16(), v)
}

/// A gateway key of the team's project (made by the bootstrap admin for the editor user).
pub async fn gateway_key(api: &Api, t: &Team) -> String {
    let admin = api.admin.clone();
    let v = api
        .ok(
            "POST",
            &format!("/api/v1/projects/{}/api_keys", t.project),
            &admin,
            Some(json!({"name": "gw", "user_id": t.editor_id, "role": "gateway"})),
            201,
        )
        .await;
    assert_eq!(v["role"], "gateway");
    v["key"].as_str().unwrap().to_owned()
}

/// `GET /api/v1/gateway/snapshot`: (status, ETag value without quotes, body).
pub async fn snapshot(
    api: &Api,
    key: &str,
    project: &str,
    env: &str,
    if_none_match: Option<&str>,
    wait: u64,
) -> (u16, Option<String>, Value) {
    let tag = if_none_match.map(|v| format!("\"{v}\""));
    let headers: Vec<(&str, &str)> = tag
        .as_deref()
        .map(|t| vec![("if-none-match", t)])
        .unwrap_or_default();
    let (s, h, v) = api
        .call_full(
            "GET",
            &format!("/api/v1/gateway/snapshot?project={project}&environment={env}&wait={wait}"),
            Some(key),
            &headers,
            None,
        )
        .await;
    let etag = h
        .get("etag")
        .map(|e| e.to_str().unwrap().trim_matches('"').to_owned());
    (s.as_u16(), etag, v)
}
