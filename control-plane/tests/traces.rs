//! Trace ingestion, reading, listing and dashboard metrics, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use serde_json::{json, Value};
use support::fixtures::team;
use support::{assert_error_shape, Api, TestDb};

on_both_backends!(
    ingestion_is_idempotent_and_readable,
    ingestion_rejects_bad_batches,
    list_filters_and_pages,
    metrics_per_route_and_version,
    trace_endpoints_deny_other_projects_and_low_roles,
    a_gateway_key_ships_traces_of_its_own_project_only,
);

#[allow(clippy::too_many_arguments)]
fn record(
    id: &str,
    route: &str,
    version: Option<i64>,
    status: &str,
    latency_ms: f64,
    cost_usd: f64,
    cache: &str,
    started_at: &str,
) -> Value {
    json!({
        "trace_id": id, "started_at": started_at, "route": route,
        "endpoint": "/v1/chat/completions", "prompt": version.map(|_| "greeter"),
        "prompt_version": version, "prompt_label": version.map(|_| "prod"),
        "variant": "stable", "provider": "openai", "model": "gpt-4o-mini",
        "decoding": {"temperature": 0.2}, "stream": false, "prompt_tokens": 10,
        "completion_tokens": 5, "cached_tokens": 0, "reasoning_tokens": 0,
        "cost_usd": cost_usd, "latency_ms": latency_ms, "ttft_ms": null, "cache": cache,
        "status": status, "http_status": if status == "ok" { 200 } else { 502 },
        "request": {"messages": [{"role": "user", "content": "hi"}]},
        "response": {"choices": []}
    })
}

fn simple(id: &str) -> Value {
    record(
        id,
        "chat",
        Some(1),
        "ok",
        10.0,
        0.001,
        "miss",
        "2026-03-01T10:00:00Z",
    )
}

fn batch(project: &str, environment: &str, records: Vec<Value>) -> Value {
    json!({"project": project, "environment": environment, "gateway": "gw-1", "records": records})
}

async fn ingestion_is_idempotent_and_readable(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "shop", 1).await;
    let first = batch(
        "shop",
        "prod",
        vec![simple("t-1"), simple("t-2"), simple("t-2")],
    );
    let v = api
        .ok("POST", "/api/v1/traces", &t.editor, Some(first), 202)
        .await;
    assert_eq!(v, json!({"accepted": 2, "duplicates": 1}));
    // A retry of the same records plus one new: only the new one is stored. The project may
    // also be named by its id.
    let retry = batch(
        &t.project.to_string(),
        "prod",
        vec![simple("t-1"), simple("t-2"), simple("t-3")],
    );
    let v = api
        .ok("POST", "/api/v1/traces", &t.admin, Some(retry), 202)
        .await;
    assert_eq!(v, json!({"accepted": 1, "duplicates": 2}));

    let got = api
        .ok("GET", "/api/v1/traces/t-1", &t.viewer, None, 200)
        .await;
    assert_eq!(got["trace_id"], "t-1");
    assert_eq!(got["project_id"], t.project);
    assert_eq!(got["environment"], "prod");
    assert_eq!(got["gateway"], "gw-1");
    assert_eq!(got["started_at"], "2026-03-01T10:00:00Z");
    assert_eq!(got["prompt_version"], 1);
    assert_eq!(got["decoding"]["temperature"], 0.2);
    assert_eq!(got["request"]["messages"][0]["content"], "hi");
    assert!(got["received_at"].as_str().unwrap().ends_with('Z'));
    let (s, e) = api
        .call("GET", "/api/v1/traces/nope", Some(&t.viewer), None)
        .await;
    assert_eq!(s.as_u16(), 404);
    assert_error_shape(&e);

    // The same trace id in another project is another trace; each project sees its own.
    let o = team(&api, "other", 1).await;
    let mut theirs = simple("t-1");
    theirs["route"] = json!("theirs");
    api.ok(
        "POST",
        "/api/v1/traces",
        &o.editor,
        Some(batch("other", "dev", vec![theirs])),
        202,
    )
    .await;
    let mine = api
        .ok("GET", "/api/v1/traces/t-1", &t.viewer, None, 200)
        .await;
    assert_eq!(mine["route"], "chat");
    let other = api
        .ok("GET", "/api/v1/traces/t-1", &o.viewer, None, 200)
        .await;
    assert_eq!(other["route"], "theirs");
    assert_eq!(other["project_id"], o.project);
}

async fn ingestion_rejects_bad_batches(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "shop", 1).await;
    let post = |body: Value| {
        let key = t.editor.clone();
        let api = &api;
        async move {
            api.call("POST", "/api/v1/traces", Some(&key), Some(body))
                .await
        }
    };
    // Too many records, too large a body.
    let many: Vec<Value> = (0..1001).map(|i| simple(&format!("m-{i}"))).collect();
    let (s, e) = post(batch("shop", "prod", many)).await;
    assert_eq!(s.as_u16(), 413, "{e}");
    assert_error_shape(&e);
    let mut huge = simple("huge");
    huge["request"] = json!({"blob": "x".repeat(9 * 1024 * 1024)});
    let (s, e) = post(batch("shop", "prod", vec![huge])).await;
    assert_eq!(s.as_u16(), 413, "{e}");
    assert_error_shape(&e);
    // Exactly 1000 records pass.
    let max: Vec<Value> = (0..1000).map(|i| simple(&format!("k-{i}"))).collect();
    let (s, e) = post(batch("shop", "prod", max)).await;
    assert_eq!(s.as_u16(), 202, "{e}");
    assert_eq!(e["accepted"], 1000);

    // Bad records answer 422 naming the field, and nothing of the batch is stored.
    let cases = [
        ("status", json!("great"), "records[1].status"),
        ("started_at", json!("yesterday"), "records[1].started_at"),
        ("trace_id", json!(""), "records[1].trace_id"),
        ("trace_id", json!("x".repeat(129)), "records[1].trace_id"),
        ("cache", json!("maybe"), "records[1].cache"),
        ("cost_usd", json!(-0.5), "records[1].cost_usd"),
        ("api_key", json!("pgk_leak"), "records[1]"),
    ];
    for (field, value, param) in cases {
        let mut bad = simple("bad");
        bad[field] = value;
        let (s, e) = post(batch("shop", "prod", vec![simple("good"), bad])).await;
        assert_eq!(s.as_u16(), 422, "{field}: {e}");
        assert_error_shape(&e);
        assert_eq!(e["error"]["param"], param, "{e}");
    }
    let (s, _) = api
        .call("GET", "/api/v1/traces/good", Some(&t.viewer), None)
        .await;
    assert_eq!(s.as_u16(), 404, "a rejected batch stores nothing");
    let (s, e) = post(batch("shop", "Prod!", vec![simple("e")])).await;
    assert_eq!(s.as_u16(), 422);
    assert_eq!(e["error"]["param"], "environment");
    let (s, _) = post(json!({"project": "shop", "environment": "prod", "records": []})).await;
    assert_eq!(s.as_u16(), 422, "gateway is required");
    let (s, _) = post(
        json!({"project": "shop", "environment": "prod", "gateway": "g",
        "records": [], "project_id": 1}),
    )
    .await;
    assert_eq!(s.as_u16(), 422, "unknown fields are refused");
    let (s, e) = api
        .call("POST", "/api/v1/traces", Some(&t.editor), None)
        .await;
    assert_eq!(s.as_u16(), 400, "{e}");
    // Unknown project, another org's view of it, and roles.
    let (s, e) = post(batch("nowhere", "prod", vec![simple("n")])).await;
    assert_eq!(s.as_u16(), 404);
    assert_error_shape(&e);
    let (s, e) = api
        .call(
            "POST",
            "/api/v1/traces",
            Some(&t.viewer),
            Some(batch("shop", "prod", vec![simple("v")])),
        )
        .await;
    assert_eq!(s.as_u16(), 403, "viewers cannot ingest: {e}");
    let (s, _) = api
        .call(
            "POST",
            "/api/v1/traces",
            None,
            Some(batch("shop", "prod", vec![simple("v")])),
        )
        .await;
    assert_eq!(s.as_u16(), 401);
}

async fn list_filters_and_pages(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "shop", 1).await;
    let records = vec![
        record(
            "a",
            "chat",
            Some(1),
            "ok",
            10.0,
            0.01,
            "hit",
            "2026-03-01T10:00:00Z",
        ),
        record(
            "b",
            "chat",
            Some(2),
            "error",
            20.0,
            0.02,
            "miss",
            "2026-03-01T11:00:00Z",
        ),
        record(
            "c",
            "embed",
            None,
            "ok",
            30.0,
            0.03,
            "off",
            "2026-03-01T12:30:00+01:00",
        ),
        record(
            "d",
            "chat",
            Some(2),
            "ok",
            40.0,
            0.04,
            "miss",
            "2026-03-01T13:00:00Z",
        ),
        record(
            "e",
            "chat",
            Some(2),
            "cancelled",
            50.0,
            0.05,
            "miss",
            "2026-03-01T14:00:00Z",
        ),
    ];
    api.ok(
        "POST",
        "/api/v1/traces",
        &t.editor,
        Some(batch("shop", "prod", records)),
        202,
    )
    .await;
    api.ok(
        "POST",
        "/api/v1/traces",
        &t.editor,
        Some(batch(
            "shop",
            "staging",
            vec![record(
                "s",
                "chat",
                Some(1),
                "ok",
                1.0,
                0.0,
                "off",
                "2026-03-01T15:00:00Z",
            )],
        )),
        202,
    )
    .await;
    let base = format!("/api/v1/projects/{}/traces", t.project);
    let ids = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["trace_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = api.ok("GET", &base, &t.viewer, None, 200).await;
    // Newest first by start time ("c" started 11:30 UTC).
    assert_eq!(ids(&all), ["s", "e", "d", "c", "b", "a"]);
    assert!(all["next_before"].is_null());
    assert!(
        all["data"][0].get("request").is_none(),
        "lists leave payloads out"
    );
    assert_eq!(all["data"][0]["environment"], "staging");

    let cases = [
        ("?environment=prod", vec!["e", "d", "c", "b", "a"]),
        ("?route=embed", vec!["c"]),
        ("?prompt=greeter&prompt_version=2", vec!["e", "d", "b"]),
        ("?status=error", vec!["b"]),
        ("?status=cancelled", vec!["e"]),
        (
            "?since=2026-03-01T11:00:00Z&until=2026-03-01T13:00:00Z",
            vec!["c", "b"],
        ),
        ("?since=2026-03-01T12:30:00%2B00:00", vec!["s", "e", "d"]),
    ];
    for (query, want) in cases {
        let v = api
            .ok("GET", &format!("{base}{query}"), &t.viewer, None, 200)
            .await;
        assert_eq!(ids(&v), want, "{query}");
    }
    // Pages of two follow the cursor to the end.
    let mut seen = Vec::new();
    let mut url = format!("{base}?environment=prod&limit=2");
    loop {
        let page = api.ok("GET", &url, &t.viewer, None, 200).await;
        seen.extend(ids(&page));
        match page["next_before"].as_str() {
            Some(cursor) => {
                url = format!("{base}?environment=prod&limit=2&before={cursor}");
            }
            None => break,
        }
        assert!(seen.len() <= 5, "paging must end: {seen:?}");
    }
    assert_eq!(seen, ["e", "d", "c", "b", "a"]);
    for bad in [
        "?limit=501",
        "?limit=0",
        "?status=fine",
        "?since=yesterday",
        "?before=nonsense",
    ] {
        let (s, e) = api
            .call("GET", &format!("{base}{bad}"), Some(&t.viewer), None)
            .await;
        assert_eq!(s.as_u16(), 422, "{bad}: {e}");
        assert_error_shape(&e);
    }
    let (s, _) = api
        .call("GET", &format!("{base}?colour=red"), Some(&t.viewer), None)
        .await;
    assert_eq!(s.as_u16(), 400);
}

async fn metrics_per_route_and_version(db: &TestDb) {
    let api = Api::start(db).await;
    let t = team(&api, "shop", 1).await;
    let mut records = Vec::new();
    // chat v2: 20 calls, latencies 1..=20 ms, 2 errors, 0.01 USD each, 5 hits of 10 lookups.
    for i in 1..=20 {
        let status = if i <= 2 { "error" } else { "ok" };
        let cache = match i {
            1..=5 => "hit",
            6..=10 => "miss",
            _ => "off",
        };
        records.push(record(
            &format!("v2-{i}"),
            "chat",
            Some(2),
            status,
            f64::from(i),
            0.01,
            cache,
            "2026-03-02T10:00:00Z",
        ));
    }
    records.push(record(
        "v1",
        "chat",
        Some(1),
        "ok",
        100.0,
        0.5,
        "off",
        "2026-03-02T10:00:00Z",
    ));
    records.push(record(
        "old",
        "chat",
        Some(1),
        "ok",
        900.0,
        9.0,
        "off",
        "2026-02-01T10:00:00Z",
    ));
    api.ok(
        "POST",
        "/api/v1/traces",
        &t.editor,
        Some(batch("shop", "prod", records)),
        202,
    )
    .await;
    api.ok(
        "POST",
        "/api/v1/traces",
        &t.editor,
        Some(batch(
            "shop",
            "dev",
            vec![record(
                "dev",
                "chat",
                Some(2),
                "ok",
                5000.0,
                1.0,
                "off",
                "2026-03-02T10:00:00Z",
            )],
        )),
        202,
    )
    .await;
    let url = format!(
        "/api/v1/dashboards/metrics?project_id={}&environment=prod&since=2026-03-01T00:00:00Z",
        t.project
    );
    let m = api.ok("GET", &url, &t.viewer, None, 200).await;
    assert_eq!(m["truncated"], false);
    assert_eq!(m["scanned_rows"], 21);
    let rows = m["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{m}");
    let v1 = &rows[0];
    assert_eq!(
        (v1["route"].as_str(), v1["prompt_version"].as_i64()),
        (Some("chat"), Some(1))
    );
    assert_eq!(v1["requests"], 1);
    assert_eq!(v1["p95_latency_ms"], 100.0);
    let v2 = &rows[1];
    assert_eq!(v2["prompt"], "greeter");
    assert_eq!(v2["prompt_version"], 2);
    assert_eq!(v2["requests"], 20);
    assert_eq!(v2["success_rate"], 0.9);
    assert_eq!(v2["p50_latency_ms"], 10.0);
    assert_eq!(v2["p95_latency_ms"], 19.0);
    assert!((v2["total_cost_usd"].as_f64().unwrap() - 0.2).abs() < 1e-9);
    assert!((v2["cost_per_call_usd"].as_f64().unwrap() - 0.01).abs() < 1e-9);
    assert_eq!(v2["cache_hit_rate"], 0.5);
    // Without filters every environment and time counts.
    let all = api
        .ok(
            "GET",
            &format!("/api/v1/dashboards/metrics?project_id={}", t.project),
            &t.viewer,
            None,
            200,
        )
        .await;
    assert_eq!(all["scanned_rows"], 23);
    let (s, e) = api
        .call("GET", "/api/v1/dashboards/metrics", Some(&t.viewer), None)
        .await;
    assert_eq!(s.as_u16(), 400, "project_id is required: {e}");
    let (s, e) = api
        .call("GET", &format!("{url}&until=later"), Some(&t.viewer), None)
        .await;
    assert_eq!(s.as_u16(), 422);
    assert_eq!(e["error"]["param"], "until");
}

/// Role × endpoint for the trace endpoints, and every key of another project (100 % denied).
async fn trace_endpoints_deny_other_projects_and_low_roles(db: &TestDb) {
    let api = Api::start(db).await;
    let a = team(&api, "alpha", 1).await;
    let b = team(&api, "beta", 1).await;
    api.ok(
        "POST",
        "/api/v1/traces",
        &a.editor,
        Some(batch("alpha", "prod", vec![simple("secret-a")])),
        202,
    )
    .await;
    let pa = a.project;
    // (method, path, body, least role: 0 viewer, 1 editor).
    let cases = |n: usize| -> Vec<(&'static str, String, Option<Value>, u8)> {
        vec![
            ("GET", "/api/v1/traces/secret-a".into(), None, 0),
            ("GET", format!("/api/v1/projects/{pa}/traces"), None, 0),
            (
                "GET",
                format!("/api/v1/dashboards/metrics?project_id={pa}"),
                None,
                0,
            ),
            (
                "POST",
                "/api/v1/traces".into(),
                Some(batch("alpha", "prod", vec![simple(&format!("n-{n}"))])),
                1,
            ),
            (
                "POST",
                "/api/v1/traces".into(),
                Some(batch(
                    &pa.to_string(),
                    "prod",
                    vec![simple(&format!("i-{n}"))],
                )),
                1,
            ),
        ]
    };
    let mut n = 0;
    let mut checked = 0;
    for (key, level) in [(&a.viewer, 0u8), (&a.editor, 1), (&a.admin, 2)] {
        for (method, path, body, need) in cases(n) {
            n += 1;
            let (s, e) = api.call(method, &path, Some(key.as_str()), body).await;
            if level < need {
                assert_eq!(s.as_u16(), 403, "{method} {path} level {level}: {e}");
                assert_error_shape(&e);
            } else {
                assert!(s.is_success(), "{method} {path} level {level}: {s} {e}");
            }
            checked += 1;
        }
    }
    for key in [&b.viewer, &b.editor, &b.admin, &b.admin2] {
        for (method, path, body, _) in cases(n) {
            n += 1;
            let (s, e) = api.call(method, &path, Some(key.as_str()), body).await;
            assert_eq!(s.as_u16(), 404, "cross-project {method} {path}: {s} {e}");
            assert_error_shape(&e);
            checked += 1;
        }
    }
    assert_eq!(checked, 5 * 3 + 5 * 4);
    // Nothing of B's attempts landed in A, and B's own list does not show A's traces.
    let list = api
        .ok(
            "GET",
            &format!("/api/v1/projects/{}/traces", b.project),
            &b.admin,
            None,
            200,
        )
        .await;
    assert!(list["data"].as_array().unwrap().is_empty());
    let list = api
        .ok(
            "GET",
            &format!("/api/v1/projects/{pa}/traces?limit=500"),
            &a.viewer,
            None,
            200,
        )
        .await;
    assert!(list["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["project_id"] == pa));
    // The org admin reads everything.
    let root = api.admin.clone();
    api.ok("GET", "/api/v1/traces/secret-a", &root, None, 200)
        .await;
}

#[test]
fn openapi_documents_the_trace_and_token_endpoints() {
    let doc = serde_json::to_value(control_plane::openapi::document()).unwrap();
    for (path, method) in [
        ("/api/v1/traces", "post"),
        ("/api/v1/traces/{trace_id}", "get"),
        ("/api/v1/projects/{project_id}/traces", "get"),
        ("/api/v1/dashboards/metrics", "get"),
        ("/api/v1/auth/token", "post"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    let get = &doc["paths"]["/api/v1/traces/{trace_id}"]["get"];
    assert_eq!(get["parameters"][0]["schema"]["type"], "string");
    assert!(doc["paths"]["/api/v1/auth/token"]["post"]["security"].is_null());
    assert!(doc["paths"]["/api/v1/traces"]["post"]["security"].is_array());
    for schema in [
        "TraceBatch",
        "TraceRecord",
        "Trace",
        "TracePage",
        "IngestResult",
        "Metrics",
        "TokenRequest",
        "TokenResponse",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}

async fn a_gateway_key_ships_traces_of_its_own_project_only(db: &TestDb) {
    let api = Api::start(db).await;
    let shop = team(&api, "shop", 1).await;
    let other = team(&api, "other", 1).await;
    let key = support::deploy::gateway_key(&api, &shop).await;
    let v = api
        .ok(
            "POST",
            "/api/v1/traces",
            &key,
            Some(batch("shop", "prod", vec![simple("g-1")])),
            202,
        )
        .await;
    assert_eq!(v, json!({"accepted": 1, "duplicates": 0}));
    // Another project's name resolves to "not found" for this key: nothing is stored there.
    let (s, e) = api
        .call(
            "POST",
            "/api/v1/traces",
            Some(&key),
            Some(batch("other", "prod", vec![simple("g-2")])),
        )
        .await;
    assert_eq!(s.as_u16(), 404, "{e}");
    assert_error_shape(&e);
    let (s, _) = api
        .call("GET", "/api/v1/traces/g-2", Some(&other.admin), None)
        .await;
    assert_eq!(s.as_u16(), 404);
    // A gateway key reads nothing back: reading traces is for members.
    let (s, e) = api
        .call("GET", "/api/v1/traces/g-1", Some(&key), None)
        .await;
    assert_eq!(s.as_u16(), 403, "{e}");
    let got = api
        .ok("GET", "/api/v1/traces/g-1", &shop.viewer, None, 200)
        .await;
    assert_eq!(got["trace_id"], "g-1");
}
