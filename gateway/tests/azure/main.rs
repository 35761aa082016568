//! The Azure OpenAI provider through the pipeline, against an in-process fake Azure resource
//! serving recorded-shape fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod fake;

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{json, Value};

use crate::support::Upstream;
use fake::gateway;
use promptgate::providers::Endpoint;
use support::{call, status, Reply};

const CHAT: &str = include_str!("../../src/providers/azure/fixtures/chat.json");
const STREAM: &str = include_str!("../../src/providers/azure/fixtures/chat_stream.sse");
const STREAM_FILTERED: &str =
    include_str!("../../src/providers/azure/fixtures/chat_stream_filtered.sse");
const CONTENT_FILTER: &str =
    include_str!("../../src/providers/azure/fixtures/error_content_filter.json");
const RATE_LIMIT: &str = include_str!("../../src/providers/azure/fixtures/error_rate_limit.json");
const NO_DEPLOYMENT: &str =
    include_str!("../../src/providers/azure/fixtures/error_deployment_not_found.json");
const BAD_TOKEN: &str =
    include_str!("../../src/providers/azure/fixtures/error_unauthorized_token.json");

/// One Azure resource behind route `gpt-4o`, deployed as `prod-4o`.
fn one_resource(azure: &Upstream, extra: &str) -> String {
    format!(
        "providers:\n  az: {{ type: azure, base_url: '{}', api_key_env: AZ_KEY, api_version: 2024-10-21, deployments: {{ gpt-4o: prod-4o }} }}\n\
routes:\n  - model: gpt-4o\n    targets: [ {{ provider: az }} ]\n\
prices:\n  gpt-4o: {{ input_per_million: 2.5, output_per_million: 10.0 }}\n{extra}",
        azure.origin()
    )
}

/// Route `gpt-4o` over two resources: `a` first, then `b`.
fn two_resources(a: &Upstream, b: &Upstream) -> String {
    format!(
        "providers:\n  a: {{ type: azure, base_url: '{}', api_key_env: AZ_KEY, api_version: 2024-10-21 }}\n  b: {{ type: azure, base_url: '{}', api_key_env: AZ_KEY, api_version: 2024-10-21 }}\n\
routes:\n  - model: gpt-4o\n    targets: [ {{ provider: a }}, {{ provider: b }} ]\n",
        a.origin(),
        b.origin()
    )
}

fn sse(body: &str) -> Reply {
    Reply::sse(vec![(
        Duration::ZERO,
        Bytes::copy_from_slice(body.as_bytes()),
    )])
}

fn body_json(down: &promptgate::pipeline::downstream::BufferedDownstream) -> Value {
    serde_json::from_slice(&down.body()).unwrap()
}

const CHAT_REQUEST: &str =
    r#"{"model":"gpt-4o","messages":[{"role":"user","content":"Hello"}],"temperature":0}"#;

#[tokio::test]
async fn whole_chat_goes_to_the_deployment_and_comes_back_untouched() {
    let azure = Upstream::start(|_, _| Reply::json(200, CHAT)).await;
    let gw = gateway(&one_resource(&azure, ""));
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, CHAT_REQUEST).await;
    assert_eq!(status(&down), 200);
    assert_eq!(
        down.body(),
        CHAT.as_bytes(),
        "content-filter fields relayed as they came"
    );
    let seen = &azure.requests()[0];
    assert_eq!(
        seen.path_and_query,
        "/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(seen.header("api-key"), Some("test-azure-key"));
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert!(seen.header("traceparent").is_some());
    assert_eq!(
        seen.body,
        CHAT_REQUEST.as_bytes(),
        "the body is sent byte for byte"
    );
    let usage = rec.usage.unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (12, 7));
    assert_eq!(rec.provider_kind, Some("azure"));
    let cost: f64 = down
        .header("x-promptgate-cost-usd")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (cost - (12.0 * 2.5 + 7.0 * 10.0) / 1e6).abs() < 1e-12,
        "{cost}"
    );
}

#[tokio::test]
async fn streams_relay_azure_chunks_and_strip_only_the_injected_usage() {
    let azure = Upstream::start(|_, _| sse(STREAM)).await;
    let gw = gateway(&one_resource(&azure, ""));
    let without_usage =
        r#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Hello"}]}"#;
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, without_usage).await;
    assert_eq!(status(&down), 200);
    let expected: String = STREAM
        .split_inclusive("\n\n")
        .filter(|event| !event.contains("\"usage\":{"))
        .map(|event| event.replace(",\"usage\":null", ""))
        .collect();
    let got = String::from_utf8(down.body()).unwrap();
    assert_eq!(got, expected);
    assert!(
        got.starts_with("data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":"),
        "Azure's prompt-filter chunk reaches the client: {got}"
    );
    let usage = rec.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.estimated
        ),
        (12, 7, false)
    );
    assert!((rec.cost_usd.unwrap() - 100.0 / 1e6).abs() < 1e-12);
    let seen = &azure.requests()[0];
    assert_eq!(seen.header("accept"), Some("text/event-stream"));
    assert_eq!(seen.json()["stream_options"]["include_usage"], true);

    let with_usage =
        r#"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#;
    let (down, _) = call(&gw, Endpoint::ChatCompletions, with_usage).await;
    assert_eq!(String::from_utf8(down.body()).unwrap(), STREAM);
}

#[tokio::test]
async fn a_filtered_stream_ends_with_finish_reason_content_filter() {
    let azure = Upstream::start(|_, _| sse(STREAM_FILTERED)).await;
    let gw = gateway(&one_resource(&azure, ""));
    let body =
        r#"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#;
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, body).await;
    assert_eq!(String::from_utf8(down.body()).unwrap(), STREAM_FILTERED);
    let finish: Vec<Value> = STREAM_FILTERED
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| c["choices"][0].get("finish_reason").cloned())
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, vec![json!("content_filter")]);
    assert_eq!(rec.usage.unwrap().completion_tokens, 7);
}

#[tokio::test]
async fn a_content_filter_refusal_is_an_openai_error_and_is_not_retried() {
    let a = Upstream::start(|_, _| Reply::json(400, CONTENT_FILTER)).await;
    let b = Upstream::start(|_, _| Reply::json(200, CHAT)).await;
    let gw = gateway(&two_resources(&a, &b));
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, CHAT_REQUEST).await;
    assert_eq!(status(&down), 400);
    let error = &body_json(&down)["error"];
    assert_eq!(error["code"], "content_filter");
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(error["param"], "prompt");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("content management policy"));
    assert_eq!(
        error["innererror"]["content_filter_result"]["violence"]["filtered"],
        true
    );
    assert_eq!(
        (a.requests().len(), b.requests().len(), rec.attempts),
        (1, 0, 1)
    );
}

#[tokio::test]
async fn a_rate_limited_resource_falls_back_to_the_next() {
    let a = Upstream::start(|_, _| {
        let mut reply = Reply::json(429, RATE_LIMIT);
        reply.headers.push(("retry-after", "1".into()));
        reply
    })
    .await;
    let b = Upstream::start(|_, _| Reply::json(200, CHAT)).await;
    let gw = gateway(&two_resources(&a, &b));
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, CHAT_REQUEST).await;
    assert_eq!(status(&down), 200);
    assert_eq!(down.body(), CHAT.as_bytes());
    assert_eq!(rec.attempts, 2);
    assert_eq!(
        b.requests()[0].path_and_query,
        "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
        "without a mapping the model is the deployment"
    );
}

#[tokio::test]
async fn retry_after_ms_is_honoured_and_the_last_429_is_mapped() {
    let azure = Upstream::start(|n, _| {
        let mut reply = Reply::json(429, RATE_LIMIT);
        reply.headers.push(("retry-after-ms", "300".into()));
        reply.headers.push(("retry-after", "1".into()));
        if n == 1 {
            reply = Reply::json(200, CHAT);
        }
        reply
    })
    .await;
    let gw = gateway(&one_resource(&azure, "retry: { max_attempts: 2 }\n"));
    let started = Instant::now();
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, CHAT_REQUEST).await;
    let waited = started.elapsed();
    assert_eq!((status(&down), rec.attempts), (200, 2));
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_millis(1000),
        "retry-after-ms wins over retry-after: {waited:?}"
    );

    let (down, _) = call(&gw, Endpoint::ChatCompletions, CHAT_REQUEST).await;
    assert_eq!(
        status(&down),
        429,
        "later attempts only get 429s; the last reaches the client"
    );
    let error = &body_json(&down)["error"];
    assert_eq!(
        (error["type"].as_str(), error["code"].as_str()),
        (Some("rate_limit_error"), Some("rate_limit_exceeded"))
    );
    assert_eq!(down.header("retry-after"), Some("1"));
}

#[tokio::test]
async fn a_missing_deployment_is_a_404_with_azure_code() {
    let azure = Upstream::start(|_, _| Reply::json(404, NO_DEPLOYMENT)).await;
    let gw = gateway(&one_resource(&azure, "retry: { max_attempts: 3 }\n"));
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, CHAT_REQUEST).await;
    assert_eq!((status(&down), rec.attempts), (404, 1));
    let error = &body_json(&down)["error"];
    assert_eq!(error["code"], "DeploymentNotFound");
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(error["param"], Value::Null);
}

#[tokio::test]
async fn an_entra_token_goes_as_bearer_and_a_rejected_one_is_a_401() {
    let azure = Upstream::start(|_, _| Reply::json(401, BAD_TOKEN)).await;
    let yaml = format!(
        "providers:\n  az: {{ type: azure, base_url: '{}', bearer_token_env: AZ_TOKEN, api_version: 2024-10-21 }}\n\
default_route:\n  targets: [ {{ provider: az }} ]\n",
        azure.origin()
    );
    let gw = gateway(&yaml);
    let (down, _) = call(&gw, Endpoint::ChatCompletions, CHAT_REQUEST).await;
    assert_eq!(status(&down), 401);
    let error = &body_json(&down)["error"];
    assert_eq!(error["type"], "authentication_error");
    assert_eq!(error["code"], "invalid_api_key");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .starts_with("Unauthorized. Access token"));
    let seen = &azure.requests()[0];
    assert_eq!(seen.header("authorization"), Some("Bearer entra-token"));
    assert_eq!(seen.header("api-key"), None);
}

#[tokio::test]
async fn responses_use_the_v1_surface_with_the_deployment_as_model() {
    let response = r#"{"id":"resp_67cb32528d6881909eb2859a55e18a85","object":"response","created_at":1741369938,"status":"completed","model":"gpt-4o-2024-11-20","output":[{"type":"message","id":"msg_67cb3252cfac8190865744873aada798","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi!","annotations":[]}]}],"usage":{"input_tokens":9,"input_tokens_details":{"cached_tokens":0},"output_tokens":3,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":12}}"#;
    let azure = Upstream::start(move |_, _| Reply::json(200, response)).await;
    let gw = gateway(&one_resource(&azure, ""));
    let (down, rec) = call(
        &gw,
        Endpoint::Responses,
        r#"{"model":"gpt-4o","input":"Hello"}"#,
    )
    .await;
    assert_eq!(status(&down), 200);
    assert_eq!(down.body(), response.as_bytes());
    assert_eq!(rec.usage.unwrap().prompt_tokens, 9);
    let seen = &azure.requests()[0];
    assert_eq!(seen.path_and_query, "/openai/v1/responses");
    assert_eq!(
        seen.body,
        r#"{"model":"prod-4o","input":"Hello"}"#.as_bytes()
    );
    assert_eq!(seen.header("api-key"), Some("test-azure-key"));
}

#[tokio::test]
async fn embeddings_go_to_the_deployment_and_bad_names_are_refused() {
    let embedding = r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0023064255,-0.009327292]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":2,"total_tokens":2}}"#;
    let azure = Upstream::start(move |_, _| Reply::json(200, embedding)).await;
    let yaml = format!(
        "providers:\n  az: {{ type: azure, base_url: '{}/', api_key_env: AZ_KEY, api_version: 2025-04-01-preview }}\n\
default_route:\n  targets: [ {{ provider: az }} ]\n",
        azure.origin()
    );
    let gw = gateway(&yaml);
    let (down, _) = call(
        &gw,
        Endpoint::Embeddings,
        r#"{"model":"text-embedding-3-small","input":"hi"}"#,
    )
    .await;
    assert_eq!(down.body(), embedding.as_bytes());
    assert_eq!(
        azure.requests()[0].path_and_query,
        "/openai/deployments/text-embedding-3-small/embeddings?api-version=2025-04-01-preview"
    );

    let (down, rec) = call(
        &gw,
        Endpoint::Embeddings,
        r#"{"model":"../admin?x=","input":"hi"}"#,
    )
    .await;
    assert_eq!((status(&down), rec.attempts), (400, 1));
    assert!(String::from_utf8(down.body())
        .unwrap()
        .contains("not a valid deployment name"));
    assert_eq!(azure.requests().len(), 1, "nothing was sent");
}
