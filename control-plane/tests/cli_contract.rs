//! `promptctl deploy`, `rollback` and `traces` against a stand-in control plane that records
//! each request and answers in the real endpoints' shapes (`Deployment`, `Label`, trace
//! records): these tests pin exactly what the CLI sends (methods, paths, query filters,
//! bodies) and how it reads the answers, including error paths the real service reaches only
//! with more setup. The CLI against the real service is in `cli.rs` and the e2e lifecycle.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use cli_support::{serve, Cli};
use serde_json::{json, Value};

const KEY: &str = "pgk_0123456789ab_standin";

/// One request as the stand-in saw it.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    body: Value,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": "conflict"}});
    (status, Json(body)).into_response()
}

fn trace(id: &str) -> Value {
    json!({"trace_id": id, "started_at": "2026-12-01T10:00:00Z", "route": "chat", "endpoint": "/v1/chat/completions",
           "prompt": "greet", "prompt_version": 2, "prompt_label": "prod", "provider": "openai", "model": "gpt-4o-mini",
           "decoding": {"temperature": 0.2}, "stream": false, "prompt_tokens": 12, "completion_tokens": 30,
           "cached_tokens": 0, "reasoning_tokens": 0, "cost_usd": 0.00021, "latency_ms": 812.5, "ttft_ms": 120.0,
           "cache": "miss", "status": "ok", "http_status": 200,
           "request": {"messages": [{"role": "user", "content": "hi"}]},
           "project_id": 7, "environment": "prod", "gateway": "gw-1", "received_at": "2026-12-01T10:00:01Z"})
}

async fn stand_in(
    State(log): State<Log>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {KEY}"))
    {
        return error(StatusCode::UNAUTHORIZED, "missing or invalid API key");
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let seen = Seen {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        body: body.clone(),
    };
    log.lock().unwrap().push(seen);
    match (method.as_str(), uri.path()) {
        ("GET", "/api/v1/projects") => {
            Json(json!({"data": [{"id": 7, "name": "shop"}]})).into_response()
        }
        ("GET", "/api/v1/projects/7/prompts") => {
            Json(json!({"data": [{"id": 3, "project_id": 7, "name": "greet", "labels": []}]}))
                .into_response()
        }
        ("GET", "/api/v1/prompts/3/versions") => Json(json!({"data": [
            {"id": 30, "prompt_id": 3, "version": 1, "status": "approved"},
            {"id": 31, "prompt_id": 3, "version": 2, "status": "approved"}]}))
        .into_response(),
        ("POST", "/api/v1/deployments") => deployment(&body),
        // The real endpoint answers the moved label.
        ("POST", "/api/v1/prompts/3/labels/prod/rollback") => Json(json!({
            "name": "prod", "version_id": 30, "version": 1, "updated_by": 1,
            "updated_at": "2026-12-01T10:00:00Z"}))
        .into_response(),
        ("GET", "/api/v1/traces/tr-1") => Json(trace("tr-1")).into_response(),
        ("GET", "/api/v1/projects/7/traces") => {
            Json(json!({"data": [trace("tr-2"), trace("tr-1")], "next_before": "cursor-1"}))
                .into_response()
        }
        _ => error(StatusCode::NOT_FOUND, "no such endpoint"),
    }
}

/// `POST /api/v1/deployments`: the gate answers 409 for the `blocked` environment.
fn deployment(req: &Value) -> Response {
    if req["environment"] == "blocked" {
        return error(
            StatusCode::CONFLICT,
            "version 2 cannot be deployed: required check eval has no passed result",
        );
    }
    let (kind, percent) = match req["canary_percent"].as_i64() {
        None | Some(100) => ("stable", Value::Null),
        Some(0) => ("canary_cleared", json!(0)),
        Some(p) => ("canary", json!(p)),
    };
    let answer = json!({"id": 11, "prompt_id": 3, "prompt_version_id": req["prompt_version_id"], "version": 2,
        "environment": req["environment"], "kind": kind, "canary_percent": percent, "created_by": 1,
        "created_at": "2026-12-01T10:00:00Z"});
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn start() -> (Cli, Log) {
    let log: Log = Arc::default();
    let router = Router::new().fallback(stand_in).with_state(log.clone());
    (Cli::new(&serve(router).await), log)
}

fn last(log: &Log) -> Seen {
    log.lock().unwrap().last().cloned().unwrap()
}

#[tokio::test]
async fn deploy_sends_the_contract_request_for_each_kind() {
    let (cli, log) = start().await;
    let key = Some(KEY);

    let out = cli
        .run(key, &["deploy", "greet", "--version", "2", "--env", "prod"])
        .await;
    assert_eq!(out.ok(), "deployed greet v2 to prod (deployment 11)\n");
    let seen = last(&log);
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("POST", "/api/v1/deployments")
    );
    assert_eq!(
        seen.body,
        json!({"prompt_version_id": 31, "environment": "prod"})
    );

    let out = cli
        .run(
            key,
            &[
                "deploy",
                "greet",
                "--version",
                "2",
                "--env",
                "prod",
                "--canary",
                "10",
            ],
        )
        .await;
    assert_eq!(
        out.ok(),
        "canary: greet v2 takes 10% of prod traffic (deployment 11)\n"
    );
    assert_eq!(
        last(&log).body,
        json!({"prompt_version_id": 31, "environment": "prod", "canary_percent": 10})
    );

    let out = cli
        .run(
            key,
            &[
                "--json",
                "deploy",
                "greet",
                "--version",
                "2",
                "--env",
                "staging",
                "--canary",
                "0",
            ],
        )
        .await;
    let answer = out.json();
    assert_eq!(answer["kind"], "canary_cleared");
    assert_eq!(answer["environment"], "staging");
    assert_eq!(last(&log).body["canary_percent"], 0);

    let before = log.lock().unwrap().len();
    let out = cli
        .run(
            key,
            &[
                "deploy",
                "greet",
                "--version",
                "2",
                "--env",
                "prod",
                "--canary",
                "101",
            ],
        )
        .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(
        log.lock().unwrap().len(),
        before,
        "a bad percentage sends nothing"
    );

    let out = cli
        .run(
            key,
            &["deploy", "greet", "--version", "2", "--env", "blocked"],
        )
        .await;
    assert_eq!(
        out.failed(),
        "promptctl: version 2 cannot be deployed: required check eval has no passed result (HTTP 409)\n"
    );
    let out = cli
        .run(key, &["deploy", "greet", "--version", "9", "--env", "prod"])
        .await;
    assert!(out.failed().contains("has no version 9"), "{out:?}");
}

#[tokio::test]
async fn rollback_posts_to_the_label() {
    let (cli, log) = start().await;
    let out = cli
        .run(Some(KEY), &["rollback", "greet", "--env", "prod"])
        .await;
    assert_eq!(out.ok(), "rolled back greet in prod to v1\n");
    let seen = last(&log);
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str(), &seen.body),
        (
            "POST",
            "/api/v1/prompts/3/labels/prod/rollback",
            &Value::Null
        )
    );
}

#[tokio::test]
async fn traces_show_and_list_with_filters() {
    let (cli, log) = start().await;
    let key = Some(KEY);

    let out = cli.run(key, &["traces", "show", "tr-1"]).await;
    let text = out.ok();
    for expected in [
        "trace_id",
        "tr-1",
        "gpt-4o-mini",
        "environment",
        "received_at",
        "\"temperature\": 0.2",
        "request:\n{",
    ] {
        assert!(text.contains(expected), "{expected} missing in\n{text}");
    }
    assert_eq!(last(&log).path, "/api/v1/traces/tr-1");
    let json = cli
        .run(key, &["--json", "traces", "show", "tr-1"])
        .await
        .json();
    assert_eq!(json, trace("tr-1"));
    let missing = cli.run(key, &["traces", "show", "nope"]).await;
    assert!(missing.failed().contains("HTTP 404"), "{missing:?}");

    let out = cli
        .run(
            key,
            &[
                "traces",
                "list",
                "--env",
                "prod",
                "--status",
                "error",
                "--prompt-version",
                "2",
                "--limit",
                "2",
                "--since",
                "2026-12-01T00:00:00+01:00",
                "--route",
                "chat",
            ],
        )
        .await;
    let seen = last(&log);
    assert_eq!(seen.path, "/api/v1/projects/7/traces");
    assert_eq!(
        seen.query.as_deref(),
        Some("environment=prod&route=chat&prompt_version=2&status=error&since=2026-12-01T00%3A00%3A00%2B01%3A00&limit=2")
    );
    let lines: Vec<&str> = out.ok().lines().collect();
    assert_eq!(lines.len(), 4, "{out:?}");
    assert!(lines[0].starts_with("TRACE  STARTED"), "{out:?}");
    assert!(lines[1].starts_with("tr-2") && lines[1].contains("gpt-4o-mini"));
    assert_eq!(lines[3], "more: --before cursor-1");

    cli.run(key, &["traces", "list", "--before", "cursor-1"])
        .await
        .ok();
    assert_eq!(last(&log).query.as_deref(), Some("before=cursor-1"));
}
