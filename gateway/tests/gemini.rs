//! The `gemini` provider end to end through the pipeline, against in-process upstreams that
//! answer with Gemini fixtures (`src/providers/gemini/fixtures/`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use promptgate::config::load::parse_yaml;
use promptgate::config::snapshot::compile;
use promptgate::pipeline::downstream::BufferedDownstream;
use promptgate::pipeline::Gateway;
use promptgate::providers::Endpoint;
use promptgate::upstream::client::ClientFactory;
use serde_json::{json, Value};
use support::*;
use tokio::net::TcpListener;

const KEY: &str = "test-gemini-key";
const TEXT: &str = include_str!("../src/providers/gemini/fixtures/text.json");
const FUNCTION_CALL: &str = include_str!("../src/providers/gemini/fixtures/function_call.json");
const TEXT_STREAM: &str = include_str!("../src/providers/gemini/fixtures/text_stream.sse");
const FUNCTION_CALL_STREAM: &str =
    include_str!("../src/providers/gemini/fixtures/function_call_stream.sse");
const ERROR_429: &str = include_str!("../src/providers/gemini/fixtures/error_429.json");
const ERROR_503: &str = include_str!("../src/providers/gemini/fixtures/error_503.json");
const ERROR_CONTEXT: &str = include_str!("../src/providers/gemini/fixtures/error_400_context.json");
const ERROR_API_KEY: &str = include_str!("../src/providers/gemini/fixtures/error_400_api_key.json");

/// A gateway whose `GEMINI_KEY` variable holds [`KEY`], without touching the process env.
fn gemini_gateway(yaml: &str) -> Arc<Gateway> {
    let clients = ClientFactory::new();
    let raw = parse_yaml(yaml).unwrap();
    let snapshot = compile(raw, "test".into(), &clients, |name| {
        (name == "GEMINI_KEY").then(|| KEY.to_owned())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    Arc::new(Gateway::new(snapshot, clients).unwrap())
}

/// One route `fast` → `gemini-2.5-flash` on the upstream at `addr`, with a price.
fn config(addr: SocketAddr) -> String {
    format!(
        "providers:\n  g: {{ type: gemini, base_url: 'http://{addr}/v1beta', api_key_env: GEMINI_KEY }}\n\
routes:\n  - model: fast\n    targets: [ {{ provider: g, model: gemini-2.5-flash }} ]\n\
prices:\n  gemini-2.5-flash: {{ input_per_million: 1.0, output_per_million: 2.0 }}\n"
    )
}

fn body_json(down: &BufferedDownstream) -> Value {
    serde_json::from_slice(&down.body())
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&down.body())))
}

/// The `data:` payloads of an SSE body.
fn sse_data(down: &BufferedDownstream) -> Vec<String> {
    String::from_utf8(down.body())
        .unwrap()
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| e.strip_prefix("data: ").unwrap().to_owned())
        .collect()
}

fn sse_reply(text: &str) -> Reply {
    // Two reads, cut inside the first event.
    let (a, b) = text.split_at(20);
    Reply::sse(vec![
        (Duration::ZERO, Bytes::copy_from_slice(a.as_bytes())),
        (
            Duration::from_millis(5),
            Bytes::copy_from_slice(b.as_bytes()),
        ),
    ])
}

/// A request as the upstream saw it, headers and query included.
#[derive(Debug, Clone)]
struct Captured {
    path_and_query: String,
    headers: http::HeaderMap,
    body: Value,
}

/// An upstream that answers every request with one fixed response and keeps the requests.
async fn capturing_upstream(
    content_type: &'static str,
    body: &'static str,
) -> (SocketAddr, Arc<Mutex<Vec<Captured>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Arc<Mutex<Vec<Captured>>> = Arc::default();
    let seen = log.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = seen.clone();
            let service = service_fn(move |req: Request<Incoming>| {
                let seen = seen.clone();
                async move {
                    let path_and_query = req.uri().to_string();
                    let headers = req.headers().clone();
                    let bytes = req.into_body().collect().await.unwrap().to_bytes();
                    seen.lock().unwrap().push(Captured {
                        path_and_query,
                        headers,
                        body: serde_json::from_slice(&bytes).unwrap(),
                    });
                    let response = Response::builder()
                        .header("content-type", content_type)
                        .body(Full::new(Bytes::from_static(body.as_bytes())))
                        .unwrap();
                    Ok::<_, Infallible>(response)
                }
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    (addr, log)
}

#[tokio::test]
async fn chat_is_sent_in_gemini_wire_format_and_answered_in_openai_shape() {
    let (addr, log) = capturing_upstream("application/json", TEXT).await;
    let gw = gemini_gateway(&config(addr));
    let request = json!({
        "model": "fast",
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Capital of France?"}
        ],
        "temperature": 0.3,
        "max_tokens": 50
    });
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, request.to_string()).await;
    assert_eq!(
        status(&down),
        200,
        "{}",
        String::from_utf8_lossy(&down.body())
    );

    let sent = log.lock().unwrap()[0].clone();
    assert_eq!(
        sent.path_and_query,
        "/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(sent.headers["x-goog-api-key"], KEY);
    assert_eq!(sent.headers["content-type"], "application/json");
    assert!(sent.headers.get("authorization").is_none());
    assert!(sent.headers.get("traceparent").is_some());
    assert_eq!(
        sent.body,
        json!({
            "contents": [{"role": "user", "parts": [{"text": "Capital of France?"}]}],
            "systemInstruction": {"parts": [{"text": "Answer briefly."}]},
            "generationConfig": {"temperature": 0.3, "maxOutputTokens": 50}
        })
    );

    let body = body_json(&down);
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["id"], "chatcmpl-qJA2aYTDIMWZvr0PlLSQyAs");
    assert_eq!(body["model"], "gemini-2.5-flash");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "The capital of France is **Paris**."
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let usage = rec.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.reasoning_tokens
        ),
        (8, 37, 28)
    );
    assert_eq!(rec.provider_kind, Some("gemini"));
    let cost: f64 = down
        .header("x-promptgate-cost-usd")
        .unwrap()
        .parse()
        .unwrap();
    assert!((cost - (8.0 + 2.0 * 37.0) / 1e6).abs() < 1e-12, "{cost}");
}

#[tokio::test]
async fn streams_become_openai_chunks_with_usage_and_done() {
    let (addr, log) = capturing_upstream("text/event-stream", TEXT_STREAM).await;
    let gw = gemini_gateway(&config(addr));
    let request = json!({"model": "fast", "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "A haiku about the sea"}]});
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, request.to_string()).await;
    assert_eq!(status(&down), 200);
    let sent = log.lock().unwrap()[0].clone();
    assert_eq!(
        sent.path_and_query,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(sent.headers["accept"], "text/event-stream");
    assert_eq!(sent.headers["x-goog-api-key"], KEY);
    assert!(sent.body.get("stream_options").is_none());

    let data = sse_data(&down);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(chunks.len(), 6);
    for c in &chunks {
        assert_eq!(c["id"], "chatcmpl-IZI2acSKMoWl0-kPmYj2yQc");
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], "gemini-2.5-flash");
    }
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(
        text,
        "Okay, here is a haiku about the sea:\n\nWaves fold into foam,\nsalt wind carries gull voices,\ntide keeps its own time."
    );
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[5]["choices"], json!([]));
    assert_eq!(chunks[5]["usage"]["total_tokens"], 2077);
    let usage = rec.usage.unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (4, 2073));
    assert!(!usage.estimated);
    assert!((rec.cost_usd.unwrap() - (4.0 + 2.0 * 2073.0) / 1e6).abs() < 1e-12);

    // Without include_usage: no usage chunk, usage still recorded.
    let request =
        json!({"model": "fast", "stream": true, "messages": [{"role": "user", "content": "x"}]});
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, request.to_string()).await;
    let data = sse_data(&down);
    assert_eq!(data.len(), 6);
    assert!(data.iter().all(|d| !d.contains("\"usage\"")));
    assert_eq!(rec.usage.unwrap().prompt_tokens, 4);
}

#[tokio::test]
async fn tool_calls_whole_and_streamed_round_trip() {
    let up = Upstream::start(|n, _| match n {
        0 => Reply::json(200, FUNCTION_CALL),
        1 => sse_reply(FUNCTION_CALL_STREAM),
        _ => Reply::json(200, TEXT),
    })
    .await;
    let gw = gemini_gateway(&config(up.addr));
    let tools = json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
            "properties": {"location": {"type": "string"}, "unit": {"type": ["string", "null"]}},
            "required": ["location"], "additionalProperties": false}}},
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object",
            "properties": {"timezone": {"type": "string"}}}}}
    ]);
    let mut messages = vec![json!({"role": "user", "content": "Weather and time in Tokyo?"})];
    let request = json!({"model": "fast", "messages": messages, "tools": tools});
    let (down, _) = call(&gw, Endpoint::ChatCompletions, request.to_string()).await;
    let body = body_json(&down);
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    let message = body["choices"][0]["message"].clone();
    assert_eq!(message["tool_calls"].as_array().unwrap().len(), 2);
    let sent: Value = serde_json::from_slice(&up.requests()[0].body).unwrap();
    assert_eq!(
        sent["tools"][0]["functionDeclarations"][0]["parameters"],
        json!({"type": "object", "properties": {"location": {"type": "string"},
            "unit": {"type": "string", "nullable": true}}, "required": ["location"]})
    );

    // The same question streamed: each call as an id/name delta, then its arguments.
    let request = json!({"model": "fast", "messages": messages, "tools": tools, "stream": true});
    let (down, _) = call(&gw, Endpoint::ChatCompletions, request.to_string()).await;
    let data = sse_data(&down);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let deltas: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap()["choices"][0].clone())
        .collect();
    let calls: Vec<&Value> = deltas
        .iter()
        .filter_map(|c| c["delta"]["tool_calls"].get(0))
        .collect();
    assert_eq!(calls.len(), 4);
    assert_eq!(
        calls[0]["function"],
        json!({"name": "get_weather", "arguments": ""})
    );
    assert_eq!(
        calls[1]["function"]["arguments"],
        "{\"location\":\"Tokyo\"}"
    );
    assert_eq!(deltas.last().unwrap()["finish_reason"], "tool_calls");

    // The client sends the calls and results back: the history is Gemini's again.
    let call_ids: Vec<String> = message["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    messages.push(message);
    messages
        .push(json!({"role": "tool", "tool_call_id": call_ids[0], "content": "{\"celsius\":21}"}));
    messages.push(json!({"role": "tool", "tool_call_id": call_ids[1], "content": "14:05"}));
    let request = json!({"model": "fast", "messages": messages, "tools": tools});
    let (down, _) = call(&gw, Endpoint::ChatCompletions, request.to_string()).await;
    assert_eq!(status(&down), 200);
    let sent: Value = serde_json::from_slice(&up.requests()[2].body).unwrap();
    let model_turn = &sent["contents"][1];
    assert_eq!(model_turn["role"], "model");
    assert_eq!(
        model_turn["parts"][0]["functionCall"],
        json!({"name": "get_weather", "args": {"location": "Tokyo", "unit": "celsius"}})
    );
    assert!(model_turn["parts"][0]["thoughtSignature"]
        .as_str()
        .unwrap()
        .starts_with("CikBcsja"));
    assert_eq!(
        sent["contents"][2],
        json!({"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"celsius": 21}}},
            {"functionResponse": {"name": "get_time", "response": {"output": "14:05"}}}
        ]})
    );
}

#[tokio::test]
async fn retryable_google_errors_fall_back_and_others_map_to_openai_errors() {
    for fixture in [ERROR_429, ERROR_503] {
        let a = Upstream::start(move |_, _| {
            let google: Value = serde_json::from_str(fixture).unwrap();
            Reply::json(google["error"]["code"].as_u64().unwrap() as u16, fixture)
        })
        .await;
        let b = Upstream::start(|_, _| Reply::json(200, TEXT)).await;
        let yaml = format!(
            "providers:\n  a: {{ type: gemini, base_url: '{}' }}\n  b: {{ type: gemini, base_url: '{}' }}\n\
routes:\n  - model: m\n    targets: [ {{ provider: a }}, {{ provider: b }} ]\n",
            a.base_url(),
            b.base_url()
        );
        let gw = gemini_gateway(&yaml);
        let request = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
        let (down, rec) = call(&gw, Endpoint::ChatCompletions, request.to_string()).await;
        assert_eq!(status(&down), 200);
        assert_eq!((a.count(), b.count(), rec.attempts), (1, 1, 2));
    }

    let request = json!({"model": "fast", "messages": [{"role": "user", "content": "x"}]});
    for (fixture, http, want, kind, code) in [
        (
            ERROR_CONTEXT,
            400,
            400,
            "invalid_request_error",
            "context_length_exceeded",
        ),
        (
            ERROR_API_KEY,
            400,
            401,
            "authentication_error",
            "invalid_api_key",
        ),
        (
            ERROR_429,
            429,
            429,
            "rate_limit_error",
            "rate_limit_exceeded",
        ),
    ] {
        let up = Upstream::start(move |_, _| Reply::json(http, fixture)).await;
        let gw = gemini_gateway(&config(up.addr));
        let (down, _) = call(&gw, Endpoint::ChatCompletions, request.to_string()).await;
        assert_eq!(status(&down), want);
        let error = &body_json(&down)["error"];
        assert_eq!(error["type"], kind);
        assert_eq!(error["code"], code);
        if http == 400 {
            assert_eq!(up.count(), 1, "a client error is not retried");
        }
    }
}

#[tokio::test]
async fn requests_gemini_cannot_express_never_reach_it() {
    let up = Upstream::start(|_, _| Reply::json(200, TEXT)).await;
    let gw = gemini_gateway(&config(up.addr));
    let request = json!({"model": "fast", "messages": [{"role": "user", "content": [{"type": "video_url"}]}]});
    let (down, _) = call(&gw, Endpoint::ChatCompletions, request.to_string()).await;
    assert_eq!(status(&down), 400);
    let error = &body_json(&down)["error"];
    assert_eq!(error["type"], "invalid_request_error");
    assert!(error["message"].as_str().unwrap().contains("video_url"));

    let (down, _) = call(
        &gw,
        Endpoint::Completions,
        json!({"model": "fast", "prompt": "x"}).to_string(),
    )
    .await;
    assert_eq!(status(&down), 400);
    assert_eq!(body_json(&down)["error"]["code"], "unsupported");
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn embeddings_use_batch_embed_contents() {
    let up = Upstream::start(|_, _| {
        Reply::json(
            200,
            r#"{"embeddings":[{"values":[0.1,0.2]},{"values":[0.3,0.4]}]}"#,
        )
    })
    .await;
    let yaml = format!(
        "providers:\n  g: {{ type: gemini, base_url: '{}', api_key_env: GEMINI_KEY }}\n\
routes:\n  - model: embed\n    targets: [ {{ provider: g, model: gemini-embedding-001 }} ]\n",
        up.base_url()
    );
    let gw = gemini_gateway(&yaml);
    let request = json!({"model": "embed", "input": ["abcd", "efgh"]});
    let (down, rec) = call(&gw, Endpoint::Embeddings, request.to_string()).await;
    assert_eq!(
        status(&down),
        200,
        "{}",
        String::from_utf8_lossy(&down.body())
    );
    assert_eq!(
        up.requests()[0].path,
        "/v1/models/gemini-embedding-001:batchEmbedContents"
    );
    let body = body_json(&down);
    assert_eq!(body["object"], "list");
    assert_eq!(
        body["data"][1]["embedding"][0].as_f64().unwrap() as f32,
        0.3
    );
    assert_eq!(rec.usage.unwrap().prompt_tokens, 2);
}

#[test]
fn config_defaults_and_unknown_fields() {
    let clients = ClientFactory::new();
    let env = |_: &str| None;
    // base_url defaults to Google's endpoint; api_key_env is optional.
    let raw = parse_yaml("providers:\n  g: { type: gemini }\n").unwrap();
    assert!(compile(raw, "t".into(), &clients, env).is_ok());
    let err = parse_yaml("providers:\n  g: { type: gemini, http2_prior_knowledge: true }\n")
        .err()
        .unwrap();
    assert!(err.contains("http2_prior_knowledge"), "{err}");
    let raw = parse_yaml("providers:\n  g: { type: gemini, base_url: '${NOPE_UNSET}' }\n").unwrap();
    let err = compile(raw, "t".into(), &clients, env).err().unwrap();
    assert!(err.contains("NOPE_UNSET"), "{err}");
    let raw = parse_yaml("providers:\n  g: { type: gemini, timeouts: { idle_ms: 0 } }\n").unwrap();
    assert!(compile(raw, "t".into(), &clients, env).is_err());
}
