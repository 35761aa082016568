//! Virtual keys, rate limits and budgets through the pipeline, with the `mock` provider;
//! the shared-limit tests use the Redis at 127.0.0.1:6379.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use promptgate::pipeline::downstream::BufferedDownstream;
use promptgate::pipeline::Gateway;
use promptgate::providers::Endpoint;
use promptgate::tenants::sha256_hex;
use promptgate::tenants::window::Windows;
use support::*;

const CHAT: &str = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
const OTHER: &str = r#"{"model":"other","messages":[{"role":"user","content":"hi"}]}"#;

/// A config with routes `m` and `other` on the mock provider and the given keys.
fn config(keys: &[(&str, &str, &str)], extra: &str) -> String {
    let mut out = String::from(
        "providers:\n  mock: { type: mock }\n\
routes:\n  - model: m\n    targets: [ { provider: mock } ]\n  - model: other\n    targets: [ { provider: mock } ]\n\
prices:\n  m: { input_per_million: 1000.0, output_per_million: 1000.0 }\n",
    );
    out.push_str(extra);
    out.push_str("virtual_keys:\n");
    for (name, secret, opts) in keys {
        out.push_str(&format!(
            "  - {{ name: {name}, key_sha256: {}{opts} }}\n",
            sha256_hex(secret)
        ));
    }
    out
}

async fn chat(gw: &Gateway, key: Option<&str>, body: &str) -> BufferedDownstream {
    let down = BufferedDownstream::default();
    call_as(gw, Endpoint::ChatCompletions, body.to_owned(), key, down)
        .await
        .0
}

fn error_of(down: &BufferedDownstream) -> serde_json::Value {
    let body: serde_json::Value = serde_json::from_slice(&down.body()).unwrap();
    body["error"].clone()
}

/// Waits out the end of a minute so that a test's requests share one rpm window.
async fn away_from_minute_edge() {
    let left = Windows::at(Windows::now()).minute_left;
    if left < 5 {
        tokio::time::sleep(Duration::from_secs(left + 1)).await;
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{:016x}", fastrand::u64(..))
}

#[tokio::test]
async fn missing_or_wrong_keys_get_401_and_valid_keys_200() {
    let gw = gateway(&config(&[("team-a", "sk-a", "")], ""));
    for key in [None, Some("sk-wrong")] {
        let down = chat(&gw, key, CHAT).await;
        assert_eq!(status(&down), 401, "{key:?}");
        let err = error_of(&down);
        assert_eq!(err["code"], "invalid_api_key");
        assert_eq!(err["type"], "invalid_request_error");
    }
    let down = chat(&gw, Some("sk-a"), CHAT).await;
    assert_eq!(
        status(&down),
        200,
        "{}",
        String::from_utf8_lossy(&down.body())
    );
}

#[tokio::test]
async fn without_keys_the_gateway_stays_open_unless_auth_is_required() {
    let open = gateway(&config(&[], ""));
    assert_eq!(status(&chat(&open, None, CHAT).await), 200);
    let closed = gateway(&config(&[], "auth: { required: true }\n"));
    assert_eq!(status(&chat(&closed, None, CHAT).await), 401);
}

#[tokio::test]
async fn models_outside_the_allow_list_get_403() {
    let gw = gateway(&config(&[("team-b", "sk-b", ", allowed_models: [m]")], ""));
    assert_eq!(status(&chat(&gw, Some("sk-b"), CHAT).await), 200);
    let down = chat(&gw, Some("sk-b"), OTHER).await;
    assert_eq!(status(&down), 403);
    let err = error_of(&down);
    assert_eq!(err["type"], "permission_error");
    assert_eq!(err["code"], "model_not_allowed");
    // Unknown routes get the same answer: the allow list is checked before routing.
    let unknown = r#"{"model":"nope","messages":[{"role":"user","content":"hi"}]}"#;
    assert_eq!(status(&chat(&gw, Some("sk-b"), unknown).await), 403);
}

#[tokio::test]
async fn the_request_over_rpm_gets_429_with_retry_after() {
    let gw = gateway(&config(&[("team-c", "sk-c", ", rpm: 3")], ""));
    away_from_minute_edge().await;
    for _ in 0..3 {
        assert_eq!(status(&chat(&gw, Some("sk-c"), CHAT).await), 200);
    }
    let down = chat(&gw, Some("sk-c"), CHAT).await;
    assert_eq!(status(&down), 429);
    let err = error_of(&down);
    assert_eq!(err["type"], "rate_limit_error");
    assert_eq!(err["code"], "rate_limit_exceeded");
    let retry: u64 = down.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let metrics = String::from_utf8(gw.metrics.render()).unwrap();
    assert!(
        metrics.contains(r#"promptgate_ratelimited_total{key="team-c",reason="rpm"} 1"#),
        "{metrics}"
    );
    assert!(!metrics.contains("sk-c"));
}

#[tokio::test]
async fn a_spent_budget_gets_429_insufficient_quota() {
    let gw = gateway(&config(
        &[("team-d", "sk-d", ", budget_usd_per_day: 0.000001")],
        "",
    ));
    let down = chat(&gw, Some("sk-d"), CHAT).await;
    assert_eq!(status(&down), 200);
    assert!(down.header("x-promptgate-cost-usd").is_some());
    let down = chat(&gw, Some("sk-d"), CHAT).await;
    assert_eq!(status(&down), 429);
    let err = error_of(&down);
    assert_eq!(err["type"], "insufficient_quota");
    assert_eq!(err["code"], "insufficient_quota");
}

#[tokio::test]
async fn tpm_counts_the_tokens_of_earlier_requests() {
    let gw = gateway(&config(&[("team-e", "sk-e", ", tpm: 1")], ""));
    away_from_minute_edge().await;
    assert_eq!(status(&chat(&gw, Some("sk-e"), CHAT).await), 200);
    let down = chat(&gw, Some("sk-e"), CHAT).await;
    assert_eq!(status(&down), 429);
    assert_eq!(error_of(&down)["code"], "rate_limit_exceeded");
}

#[tokio::test]
async fn two_gateways_share_one_rpm_limit_through_redis() {
    let name = unique("shared");
    let yaml = config(
        &[(&name, "sk-shared", ", rpm: 4")],
        "redis_url: redis://127.0.0.1:6379\n",
    );
    let (a, b) = (gateway(&yaml), gateway(&yaml));
    away_from_minute_edge().await;
    for gw in [&a, &b, &a, &b] {
        let down = chat(gw, Some("sk-shared"), CHAT).await;
        assert_eq!(
            status(&down),
            200,
            "{}",
            String::from_utf8_lossy(&down.body())
        );
    }
    for gw in [&a, &b] {
        let down = chat(gw, Some("sk-shared"), CHAT).await;
        assert_eq!(status(&down), 429);
        assert!(down.header("retry-after").is_some());
    }
    let metrics = String::from_utf8(a.metrics.render()).unwrap();
    assert!(
        metrics.contains(r#"promptgate_ratelimit_backend{backend="redis"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("promptgate_ratelimit_redis_errors_total 0"));
}

#[tokio::test]
async fn two_gateways_share_one_budget_through_redis() {
    let name = unique("budget");
    let yaml = config(
        &[(&name, "sk-budget", ", budget_usd_per_month: 0.000001")],
        "redis_url: redis://127.0.0.1:6379\n",
    );
    let (a, b) = (gateway(&yaml), gateway(&yaml));
    assert_eq!(status(&chat(&a, Some("sk-budget"), CHAT).await), 200);
    let down = chat(&b, Some("sk-budget"), CHAT).await;
    assert_eq!(status(&down), 429);
    assert_eq!(error_of(&down)["code"], "insufficient_quota");
}

#[tokio::test]
async fn unreachable_redis_falls_back_to_local_limits_quickly() {
    let gw = gateway(&config(
        &[("team-f", "sk-f", ", rpm: 2")],
        "redis_url: redis://127.0.0.1:1\n",
    ));
    away_from_minute_edge().await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        statuses.push(status(&chat(&gw, Some("sk-f"), CHAT).await));
        let took = started.elapsed();
        assert!(took < Duration::from_millis(500), "{took:?}");
    }
    assert_eq!(statuses, [200, 200, 429]);
    let metrics = String::from_utf8(gw.metrics.render()).unwrap();
    assert!(
        metrics.contains(r#"promptgate_ratelimit_backend{backend="local"} 1"#),
        "{metrics}"
    );
    assert!(!metrics.contains("promptgate_ratelimit_redis_errors_total 0"));
}
