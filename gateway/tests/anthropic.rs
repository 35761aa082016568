//! The Anthropic provider through the pipeline, against an in-process fake of the Messages
//! API serving the documented wire format (the provider's fixtures).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use promptgate::config::load::parse_yaml;
use promptgate::config::snapshot::compile;
use promptgate::pipeline::Gateway;
use promptgate::providers::Endpoint;
use promptgate::upstream::client::ClientFactory;
use support::{call, status, Upstream, CHAT_OK};

const FIXTURES: &str = "src/providers/anthropic/fixtures";
const KEY: &str = "sk-ant-api03-test-key";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/{FIXTURES}/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// What the fake answers: status, content type, body.
type Answer = (u16, &'static str, String);

/// A request the fake received, headers included.
#[derive(Clone)]
struct Seen {
    path: String,
    headers: HeaderMap,
    body: Value,
}

/// A fake Messages API on port 0 that records every request with its headers.
struct Fake {
    base_url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    async fn start(script: impl Fn(usize) -> Answer + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script = Arc::new(script);
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (script, log) = (script.clone(), log.clone());
                let service = service_fn(move |req: Request<Incoming>| {
                    let (script, log) = (script.clone(), log.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        let n = {
                            let mut log = log.lock().unwrap();
                            log.push(Seen {
                                path: parts.uri.path().to_owned(),
                                headers: parts.headers,
                                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                            });
                            log.len() - 1
                        };
                        let (status, content_type, body) = script(n);
                        let body = Full::new(Bytes::from(body));
                        Ok::<_, Infallible>(
                            Response::builder()
                                .status(status)
                                .header("content-type", content_type)
                                .header("request-id", "req_011CSHoEeqs5C35K2UUqR7Fy")
                                .body(body)
                                .unwrap(),
                        )
                    }
                });
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Fake { base_url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn json_answer(status: u16, body: String) -> Answer {
    (status, "application/json", body)
}

fn sse_answer(body: String) -> Answer {
    (200, "text/event-stream; charset=utf-8", body)
}

/// A gateway whose environment holds the test key.
fn gateway(yaml: &str) -> Arc<Gateway> {
    let clients = ClientFactory::new();
    let env = |name: &str| (name == "ANTHROPIC_TEST_KEY").then(|| KEY.to_owned());
    let snapshot = compile(parse_yaml(yaml).unwrap(), "v1".into(), &clients, env).unwrap();
    Arc::new(Gateway::new(snapshot, clients).unwrap())
}

fn one_target(fake: &Fake) -> Arc<Gateway> {
    gateway(&format!(
        "providers:\n  claude: {{ type: anthropic, base_url: '{}', api_key_env: ANTHROPIC_TEST_KEY }}\n\
routes:\n  - model: claude\n    targets: [ {{ provider: claude, model: claude-sonnet-4-5 }} ]\n\
prices:\n  claude-sonnet-4-5: {{ input_per_million: 3.0, output_per_million: 15.0, cached_input_per_million: 0.3 }}\n",
        fake.base_url
    ))
}

fn body_json(down: &promptgate::pipeline::downstream::BufferedDownstream) -> Value {
    serde_json::from_slice(&down.body()).unwrap()
}

#[tokio::test]
async fn whole_chat_speaks_the_messages_wire_format() {
    let fake = Fake::start(|_| json_answer(200, fixture("message_text.json"))).await;
    let gw = one_target(&fake);
    let request = json!({
        "model": "claude",
        "messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hello"}],
        "max_tokens": 100, "temperature": 0.2
    });
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, request.to_string()).await;
    assert_eq!(
        status(&down),
        200,
        "{}",
        String::from_utf8_lossy(&down.body())
    );
    let body = body_json(&down);
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello! How can I help you today?"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["prompt_tokens"], 2160);
    assert_eq!(
        body["usage"]["prompt_tokens_details"]["cached_tokens"],
        2048
    );
    let usage = rec.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.cached_tokens,
            usage.completion_tokens
        ),
        (2160, 2048, 11)
    );
    assert_eq!(rec.provider_kind, Some("anthropic"));
    // 112 uncached at $3, 2048 cached at $0.30, 11 out at $15 per million.
    assert_eq!(down.header("x-promptgate-cost-usd"), Some("0.00111540"));

    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    let sent = &seen[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.headers["x-api-key"], KEY);
    assert_eq!(sent.headers["anthropic-version"], "2023-06-01");
    assert_eq!(sent.headers["content-type"], "application/json");
    assert!(sent.headers.get("authorization").is_none());
    assert!(sent.headers.get("traceparent").is_some());
    assert_eq!(
        sent.body,
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 100,
            "system": [{"type": "text", "text": "Be kind."}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
            "temperature": 0.2
        })
    );
}

/// The expected client stream, with the `created` the gateway stamped.
fn expected_text_stream(created: u64, with_usage: bool) -> String {
    let head = format!(
        "{{\"id\":\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\",\"object\":\"chat.completion.chunk\",\"created\":{created},\"model\":\"claude-sonnet-4-5-20250929\","
    );
    let usage_null = if with_usage { ",\"usage\":null" } else { "" };
    let chunk = |delta: &str, finish: &str| {
        format!("data: {head}\"choices\":[{{\"index\":0,\"delta\":{delta},\"logprobs\":null,\"finish_reason\":{finish}}}]{usage_null}}}\n\n")
    };
    let mut out = chunk("{\"role\":\"assistant\",\"content\":\"\"}", "null")
        + &chunk("{\"content\":\"Hello\"}", "null")
        + &chunk("{\"content\":\", \\\"world\\\"!\\n\"}", "null")
        + &chunk("{}", "\"stop\"");
    if with_usage {
        out += &format!("data: {head}\"choices\":[],\"usage\":{{\"prompt_tokens\":335,\"completion_tokens\":15,\"total_tokens\":350,\"prompt_tokens_details\":{{\"cached_tokens\":300}},\"completion_tokens_details\":{{\"reasoning_tokens\":0}}}}}}\n\n");
    }
    out + "data: [DONE]\n\n"
}

fn created_of(stream: &str) -> u64 {
    let first = stream
        .split("\n\n")
        .next()
        .unwrap()
        .strip_prefix("data: ")
        .unwrap();
    serde_json::from_str::<Value>(first).unwrap()["created"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn streamed_chat_gives_exact_openai_chunks_and_usage() {
    let fake = Fake::start(|_| sse_answer(fixture("stream_text.sse"))).await;
    let gw = one_target(&fake);
    for with_usage in [true, false] {
        let mut request = json!({"model": "claude", "stream": true, "messages": [{"role": "user", "content": "Hi"}]});
        if with_usage {
            request["stream_options"] = json!({"include_usage": true});
        }
        let (down, rec) = call(&gw, Endpoint::ChatCompletions, request.to_string()).await;
        assert_eq!(status(&down), 200);
        assert_eq!(
            down.head.as_ref().unwrap().content_type,
            "text/event-stream"
        );
        let text = String::from_utf8(down.body()).unwrap();
        assert_eq!(text, expected_text_stream(created_of(&text), with_usage));
        let usage = rec.usage.unwrap();
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.cached_tokens,
                usage.completion_tokens,
                usage.estimated
            ),
            (335, 300, 15, false)
        );
        let cost = rec.cost_usd.unwrap();
        assert!(
            (cost - (35.0 * 3.0 + 300.0 * 0.3 + 15.0 * 15.0) / 1e6).abs() < 1e-12,
            "{cost}"
        );
    }
    let sent = &fake.seen()[0];
    assert_eq!(sent.body["stream"], true);
    assert!(sent.body.get("stream_options").is_none());
    assert_eq!(sent.headers["accept"], "text/event-stream");
}

#[tokio::test]
async fn tool_calls_whole_and_streamed() {
    let fake = Fake::start(|n| {
        if n == 0 {
            json_answer(200, fixture("message_tool_use.json"))
        } else {
            sse_answer(fixture("stream_tool_use.sse"))
        }
    })
    .await;
    let gw = one_target(&fake);
    let mut request = json!({
        "model": "claude",
        "messages": [{"role": "user", "content": "Weather and time in SF?"}],
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}},
            {"type": "function", "function": {"name": "get_time", "description": "Local time"}}
        ],
        "tool_choice": "required"
    });
    let (down, _) = call(&gw, Endpoint::ChatCompletions, request.to_string()).await;
    let message = &body_json(&down)["choices"][0];
    assert_eq!(message["finish_reason"], "tool_calls");
    let calls = message["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1]["id"], "toolu_01B18r81rx81mr826946mr8");
    let args: Value =
        serde_json::from_str(calls[1]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args["location"], "New York, NY");
    let sent = &fake.seen()[0].body;
    assert_eq!(sent["tool_choice"], json!({"type": "any"}));
    assert_eq!(
        sent["tools"][1],
        json!({"name": "get_time", "description": "Local time", "input_schema": {"type": "object", "properties": {}}})
    );

    request["stream"] = json!(true);
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, request.to_string()).await;
    let text = String::from_utf8(down.body()).unwrap();
    let mut names = vec![String::new(); 2];
    let mut arguments = vec![String::new(); 2];
    let mut finish = Value::Null;
    for event in text.split_terminator("\n\n") {
        let data = event.strip_prefix("data: ").unwrap();
        if data == "[DONE]" {
            continue;
        }
        let chunk: Value = serde_json::from_str(data).unwrap();
        assert!(
            chunk.get("usage").is_none(),
            "the client did not ask for usage"
        );
        if !chunk["choices"][0]["finish_reason"].is_null() {
            finish = chunk["choices"][0]["finish_reason"].clone();
        }
        for call in chunk["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let i = call["index"].as_u64().unwrap() as usize;
            names[i] += call["function"]["name"].as_str().unwrap_or_default();
            arguments[i] += call["function"]["arguments"].as_str().unwrap();
        }
    }
    assert_eq!(names, ["get_weather", "get_time"]);
    assert_eq!(
        serde_json::from_str::<Value>(&arguments[0]).unwrap(),
        json!({"location": "San Francisco, CA"})
    );
    assert_eq!(
        serde_json::from_str::<Value>(&arguments[1]).unwrap(),
        json!({"timezone": "America/Los_Angeles"})
    );
    assert_eq!(finish, "tool_calls");
    assert!(text.ends_with("data: [DONE]\n\n"));
    assert_eq!(rec.usage.unwrap().completion_tokens, 89);
}

fn two_targets(a: &str, b: &str) -> Arc<Gateway> {
    gateway(&format!(
        "providers:\n  a: {{ type: anthropic, base_url: '{a}', api_key_env: ANTHROPIC_TEST_KEY }}\n  b: {a_or_b}\n\
routes:\n  - model: claude\n    targets: [ {{ provider: a }}, {{ provider: b }} ]\n\
retry: {{ base_backoff_ms: 1, max_backoff_ms: 2 }}\n",
        a_or_b = b
    ))
}

#[tokio::test]
async fn overload_falls_back_and_context_length_does_not() {
    let overloaded = Fake::start(|_| json_answer(529, fixture("error_overloaded.json"))).await;
    let good = Fake::start(|_| json_answer(200, fixture("message_text.json"))).await;
    let b = format!("{{ type: anthropic, base_url: '{}' }}", good.base_url);
    let gw = two_targets(&overloaded.base_url, &b);
    let request = r#"{"model":"claude","messages":[{"role":"user","content":"Hi"}]}"#;
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, request).await;
    assert_eq!(status(&down), 200);
    assert_eq!(
        (rec.attempts, overloaded.seen().len(), good.seen().len()),
        (2, 1, 1)
    );

    let too_long = Fake::start(|_| json_answer(400, fixture("error_prompt_too_long.json"))).await;
    let gw = two_targets(&too_long.base_url, &b);
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, request).await;
    assert_eq!(status(&down), 400);
    let error = &body_json(&down)["error"];
    assert_eq!(error["code"], "context_length_exceeded");
    assert_eq!(error["type"], "invalid_request_error");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("prompt is too long"));
    assert_eq!((rec.attempts, good.seen().len()), (1, 1), "not retried");
}

#[tokio::test]
async fn rate_limits_fall_back_to_an_openai_target_or_reach_the_client_as_429() {
    let limited = Fake::start(|_| json_answer(429, fixture("error_rate_limit.json"))).await;
    let openai = Upstream::start(|_, _| support::Reply::json(200, CHAT_OK)).await;
    let b = format!("{{ type: openai, base_url: '{}' }}", openai.base_url());
    let gw = two_targets(&limited.base_url, &b);
    let request = r#"{"model":"claude","messages":[{"role":"user","content":"Hi"}]}"#;
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, request).await;
    assert_eq!(status(&down), 200);
    assert_eq!(down.body(), CHAT_OK.as_bytes());
    assert_eq!(
        (rec.attempts, limited.seen().len(), openai.count()),
        (2, 1, 1)
    );

    let also_limited = format!("{{ type: anthropic, base_url: '{}' }}", limited.base_url);
    let gw = two_targets(&limited.base_url, &also_limited);
    let (down, _) = call(&gw, Endpoint::ChatCompletions, request).await;
    assert_eq!(status(&down), 429);
    let error = &body_json(&down)["error"];
    assert_eq!(
        (error["type"].as_str(), error["code"].as_str()),
        (Some("rate_limit_error"), Some("rate_limit_exceeded"))
    );
}

#[tokio::test]
async fn requests_anthropic_cannot_serve_get_400_without_a_call() {
    let fake = Fake::start(|_| json_answer(200, fixture("message_text.json"))).await;
    let gw = one_target(&fake);
    let (down, _) = call(
        &gw,
        Endpoint::Embeddings,
        r#"{"model":"claude","input":"x"}"#,
    )
    .await;
    assert_eq!(status(&down), 400);
    assert!(String::from_utf8(down.body())
        .unwrap()
        .contains("/v1/chat/completions"));
    let (down, _) = call(
        &gw,
        Endpoint::ChatCompletions,
        r#"{"model":"claude","n":2,"messages":[{"role":"user","content":"x"}]}"#,
    )
    .await;
    assert_eq!(status(&down), 400);
    assert_eq!(body_json(&down)["error"]["type"], "invalid_request_error");
    assert!(fake.seen().is_empty());
}

#[tokio::test]
async fn generate_with_a_schema_uses_the_forced_json_tool() {
    let fake = Fake::start(|_| json_answer(200, fixture("message_json_tool.json"))).await;
    let gw = one_target(&fake);
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}}, "required": ["answer"]});
    let request = json!({"model": "claude", "prompt": "Capital of {{ country }}?", "variables": {"country": "France"}, "schema": schema});
    let mut down = promptgate::pipeline::downstream::BufferedDownstream::default();
    let request = promptgate::pipeline::GatewayRequest {
        started: std::time::Instant::now(),
        route: promptgate::pipeline::ApiRoute::Generate,
        method: http::Method::POST,
        path: "/api/v1/generate".into(),
        body: Bytes::from(request.to_string()),
        trace_id: promptgate::trace_id::new_trace_id(),
        authorization: None,
        policy_header: None,
        provider_key: None,
        subject_header: None,
    };
    promptgate::pipeline::handle(&gw, request, &mut down).await;
    assert_eq!(
        status(&down),
        200,
        "{}",
        String::from_utf8_lossy(&down.body())
    );
    let body = body_json(&down);
    assert_eq!(
        body["output"],
        json!({"answer": "Paris", "confidence": 0.98})
    );
    assert_eq!(body["metrics"]["tokens"]["prompt"], 849);
    let sent = &fake.seen()[0].body;
    assert_eq!(sent["tools"][0]["input_schema"], schema);
    assert_eq!(sent["tool_choice"]["type"], "tool");
    assert_eq!(sent["tool_choice"]["name"], sent["tools"][0]["name"]);
    assert_eq!(
        sent["messages"][0]["content"][0]["text"],
        "Capital of France?"
    );
}
