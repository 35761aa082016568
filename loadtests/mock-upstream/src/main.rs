//! openai-mock: a small, fast OpenAI-compatible mock upstream for gateway benchmarks
//! and conformance tests. Built on bare hyper 1.x + tokio (no framework overhead).
//!
//! Endpoints (an optional `/v1` prefix is accepted and ignored):
//!   POST /v1/chat/completions  JSON, or SSE when "stream": true (role chunk, N content
//!                              chunks, finish chunk, optional usage chunk when
//!                              stream_options.include_usage, then `data: [DONE]`).
//!                              tools -> tool_calls; response_format json_schema/json_object
//!                              -> JSON content synthesised from the schema.
//!   POST /v1/embeddings        float or base64 (SDK default) encoding, `dimensions`.
//!   GET  /v1/models, GET /v1/models/{id}
//!   GET  /health
//!   GET  /stats                {"requests":N,"by_path":{..},"by_status":{..}}: every request
//!                              received since start/reset, faulted ones included (dropped
//!                              connections count under by_status "closed"); /stats itself
//!                              is not counted. Lock-free (atomics).
//!   POST /stats/reset          zeroes the counters (answers the zeroed stats).
//!
//! Configuration (env var -> default; per-request override via query string, header,
//! or a magic tag in the last message text, in that order of precedence: tag > header > query > env):
//!   MOCK_ADDR=127.0.0.1:9999      listen address
//!   MOCK_THREADS=1                tokio worker threads
//!   MOCK_DELAY_MS=0               latency before the response (streaming: before 1st chunk)
//!                                 ?delay_ms=N | header x-mock-delay-ms | tag [mock:delay=N]
//!   MOCK_CHUNK_DELAY_MS=0         delay between streamed chunks  (?chunk_ms=N | x-mock-chunk-ms)
//!   MOCK_CHUNKS=8                 content chunks per streamed answer (?chunks=N | x-mock-chunks)
//!   MOCK_FAULT_429=0.0            fraction of requests answered 429 (OpenAI-style error body)
//!   MOCK_FAULT_500=0.0            fraction answered 500
//!   MOCK_FAULT_CLOSE=0.0          fraction where the TCP connection is dropped without a response
//!   forced faults: ?fault=429|500|400|401|close|close_mid | header x-mock-fault | tag [mock:429]
//!                  (close_mid: a stream that is cut after a few chunks)
//!   MOCK_API_KEY=                 if set, requires `Authorization: Bearer <key>` (else 401)
//!   MOCK_EMBED_DIM=1536           default embedding dimension
//!   MOCK_MODELS=mock-gpt,mock-embed  model ids listed by /v1/models
//!
//! Build: cargo build --release   (binary: mock-upstream)

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use futures_util::stream;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

type Body = BoxBody<Bytes, std::io::Error>;
type BoxErr = Box<dyn std::error::Error + Send + Sync>;

struct Cfg {
    delay_ms: u64,
    chunk_ms: u64,
    chunks: usize,
    f429: f64,
    f500: f64,
    fclose: f64,
    api_key: Option<String>,
    embed_dim: usize,
    models: Vec<String>,
}

fn env<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

const WORDS: &[&str] = &[
    "This",
    " is",
    " a",
    " mock",
    " response",
    " from",
    " the",
    " OpenAI-compatible",
    " test",
    " upstream",
    ",",
    " used",
    " to",
    " measure",
    " gateway",
    " overhead",
    ".",
    " It",
    " streams",
    " realistic",
    " chunks",
    " of",
    " text",
    " quickly",
    ".",
];

fn full(status: StatusCode, ctype: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(
        Full::new(body.into())
            .map_err(|e: Infallible| match e {})
            .boxed(),
    );
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

fn json_resp(status: StatusCode, v: &Value) -> Response<Body> {
    full(status, "application/json", serde_json::to_vec(v).unwrap())
}

fn err_resp(status: StatusCode, etype: &str, code: &str, msg: &str) -> Response<Body> {
    let mut r = json_resp(
        status,
        &json!({"error": {"message": msg, "type": etype, "param": null, "code": code}}),
    );
    if status == StatusCode::TOO_MANY_REQUESTS {
        r.headers_mut()
            .insert("retry-after", HeaderValue::from_static("0"));
    }
    r
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn rid(prefix: &str) -> String {
    format!("{}-{:016x}", prefix, fastrand::u64(..))
}

/// Per-request knobs merged from env defaults, query string, headers and magic tags.
#[derive(Default, Clone)]
struct Knobs {
    delay_ms: u64,
    chunk_ms: u64,
    chunks: usize,
    fault: Option<String>,
}

fn query_param<'a>(q: &'a str, k: &str) -> Option<&'a str> {
    q.split('&').find_map(|kv| {
        let mut it = kv.splitn(2, '=');
        if it.next()? == k {
            Some(it.next().unwrap_or(""))
        } else {
            None
        }
    })
}

fn knobs(cfg: &Cfg, req_parts: &hyper::http::request::Parts) -> Knobs {
    let mut k = Knobs {
        delay_ms: cfg.delay_ms,
        chunk_ms: cfg.chunk_ms,
        chunks: cfg.chunks,
        fault: None,
    };
    if let Some(q) = req_parts.uri.query() {
        if let Some(v) = query_param(q, "delay_ms")
            .or(query_param(q, "delay"))
            .and_then(|v| v.parse().ok())
        {
            k.delay_ms = v;
        }
        if let Some(v) = query_param(q, "chunk_ms").and_then(|v| v.parse().ok()) {
            k.chunk_ms = v;
        }
        if let Some(v) = query_param(q, "chunks").and_then(|v| v.parse().ok()) {
            k.chunks = v;
        }
        if let Some(v) = query_param(q, "fault") {
            k.fault = Some(v.to_string());
        }
    }
    let h = &req_parts.headers;
    let hv = |n: &str| h.get(n).and_then(|v| v.to_str().ok());
    if let Some(v) = hv("x-mock-delay-ms").and_then(|v| v.parse().ok()) {
        k.delay_ms = v;
    }
    if let Some(v) = hv("x-mock-chunk-ms").and_then(|v| v.parse().ok()) {
        k.chunk_ms = v;
    }
    if let Some(v) = hv("x-mock-chunks").and_then(|v| v.parse().ok()) {
        k.chunks = v;
    }
    if let Some(v) = hv("x-mock-fault") {
        k.fault = Some(v.to_string());
    }
    if k.fault.is_none() {
        let r = fastrand::f64();
        if r < cfg.f429 {
            k.fault = Some("429".into());
        } else if r < cfg.f429 + cfg.f500 {
            k.fault = Some("500".into());
        } else if r < cfg.f429 + cfg.f500 + cfg.fclose {
            k.fault = Some("close".into());
        }
    }
    k
}

/// Magic tags in the last message's text: [mock:429] [mock:500] [mock:400] [mock:401]
/// [mock:close] [mock:close_mid] [mock:delay=N] [mock:chunks=N]. They pass through any gateway.
fn apply_tags(k: &mut Knobs, text: &str) {
    let mut rest = text;
    while let Some(i) = rest.find("[mock:") {
        let after = &rest[i + 6..];
        let Some(j) = after.find(']') else { break };
        let tag = &after[..j];
        if let Some(v) = tag.strip_prefix("delay=") {
            if let Ok(v) = v.parse() {
                k.delay_ms = v;
            }
        } else if let Some(v) = tag.strip_prefix("chunks=") {
            if let Ok(v) = v.parse() {
                k.chunks = v;
            }
        } else {
            k.fault = Some(tag.to_string());
        }
        rest = &after[j..];
    }
}

fn last_text(req: &Value) -> String {
    let Some(msgs) = req.get("messages").and_then(|m| m.as_array()) else {
        return String::new();
    };
    let Some(last) = msgs.last() else {
        return String::new();
    };
    match last.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn count_prompt_tokens(req: &Value) -> u64 {
    let n = req
        .get("messages")
        .map(|m| m.to_string().len())
        .unwrap_or(0)
        + req.get("input").map(|m| m.to_string().len()).unwrap_or(0);
    (n as u64 / 4).max(1)
}

/// Synthesise a value that satisfies a (simple) JSON schema.
fn from_schema(s: &Value, depth: usize) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    if let Some(e) = s
        .get("enum")
        .and_then(|e| e.as_array())
        .and_then(|e| e.first())
    {
        return e.clone();
    }
    if let Some(c) = s.get("const") {
        return c.clone();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = s
            .get(key)
            .and_then(|a| a.as_array())
            .and_then(|a| a.first())
        {
            return from_schema(first, depth + 1);
        }
    }
    let ty = match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str())
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ => {
            if s.get("properties").is_some() {
                "object"
            } else {
                "string"
            }
        }
    };
    match ty {
        "object" => {
            let mut m = serde_json::Map::new();
            if let Some(props) = s.get("properties").and_then(|p| p.as_object()) {
                for (k, v) in props {
                    m.insert(k.clone(), from_schema(v, depth + 1));
                }
            }
            Value::Object(m)
        }
        "array" => Value::Array(vec![from_schema(
            s.get("items").unwrap_or(&Value::Null),
            depth + 1,
        )]),
        "integer" => json!(42),
        "number" => json!(3.5),
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => json!("mock"),
    }
}

enum Answer {
    Text(String),
    Tool { name: String, args: String },
}

fn decide_answer(req: &Value) -> Answer {
    let tools = req
        .get("tools")
        .and_then(|t| t.as_array())
        .filter(|t| !t.is_empty());
    let choice = req.get("tool_choice");
    let none = matches!(choice, Some(Value::String(s)) if s == "none");
    // If the last message is a tool result, answer with text (end of a tool loop).
    let last_is_tool = req
        .get("messages")
        .and_then(|m| m.as_array())
        .and_then(|m| m.last())
        .and_then(|m| m.get("role"))
        .and_then(|r| r.as_str())
        == Some("tool");
    if let (Some(tools), false, false) = (tools, none, last_is_tool) {
        let forced = choice
            .and_then(|c| c.pointer("/function/name"))
            .and_then(|n| n.as_str());
        let tool = forced
            .and_then(|n| {
                tools
                    .iter()
                    .find(|t| t.pointer("/function/name").and_then(|x| x.as_str()) == Some(n))
            })
            .unwrap_or(&tools[0]);
        let name = tool
            .pointer("/function/name")
            .and_then(|n| n.as_str())
            .unwrap_or("tool")
            .to_string();
        let args = from_schema(
            tool.pointer("/function/parameters")
                .unwrap_or(&json!({"type":"object"})),
            0,
        );
        return Answer::Tool {
            name,
            args: args.to_string(),
        };
    }
    if let Some(rf) = req.get("response_format") {
        match rf.get("type").and_then(|t| t.as_str()) {
            Some("json_schema") => {
                let schema = rf
                    .pointer("/json_schema/schema")
                    .cloned()
                    .unwrap_or(json!({"type":"object"}));
                return Answer::Text(from_schema(&schema, 0).to_string());
            }
            Some("json_object") => return Answer::Text(r#"{"mock":true}"#.to_string()),
            _ => {}
        }
    }
    Answer::Text(WORDS.concat())
}

fn split_n(s: &str, n: usize) -> Vec<String> {
    let n = n.max(1);
    let chars: Vec<char> = s.chars().collect();
    let per = chars.len().div_ceil(n).max(1);
    chars.chunks(per).map(|c| c.iter().collect()).collect()
}

async fn chat(cfg: Arc<Cfg>, mut k: Knobs, body: Bytes) -> Result<Response<Body>, BoxErr> {
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return Ok(err_resp(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_json",
                &format!("We could not parse the JSON body of your request: {e}"),
            ))
        }
    };
    apply_tags(&mut k, &last_text(&req));
    if let Some(r) = fault_response(&k).await? {
        return Ok(r);
    }
    let msgs_ok = req
        .get("messages")
        .and_then(|m| m.as_array())
        .map(|m| !m.is_empty())
        .unwrap_or(false);
    if !msgs_ok {
        return Ok(err_resp(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_value",
            "'messages' must be a non-empty array.",
        ));
    }
    let Some(model) = req
        .get("model")
        .and_then(|m| m.as_str())
        .map(|m| m.to_string())
    else {
        return Ok(err_resp(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "missing_required_parameter",
            "you must provide a model parameter",
        ));
    };
    let stream = req.get("stream").and_then(|s| s.as_bool()).unwrap_or(false);
    let include_usage = req
        .pointer("/stream_options/include_usage")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let prompt_tokens = count_prompt_tokens(&req);
    let answer = decide_answer(&req);
    let id = rid("chatcmpl");
    let created = now();
    let _ = &cfg;

    if !stream {
        if k.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(k.delay_ms)).await;
        }
        let (message, finish, ctoks) = match &answer {
            Answer::Text(t) => (
                json!({"role":"assistant","content":t,"refusal":null,"annotations":[]}),
                "stop",
                (t.len() as u64 / 4).max(1),
            ),
            Answer::Tool { name, args } => (
                json!({"role":"assistant","content":null,"refusal":null,"annotations":[],"tool_calls":[{"id":rid("call"),"type":"function","function":{"name":name,"arguments":args}}]}),
                "tool_calls",
                (args.len() as u64 / 4).max(1),
            ),
        };
        let v = json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [{"index":0,"message":message,"logprobs":null,"finish_reason":finish}],
            "usage": {"prompt_tokens":prompt_tokens,"completion_tokens":ctoks,"total_tokens":prompt_tokens+ctoks}
        });
        return Ok(json_resp(StatusCode::OK, &v));
    }

    // ---- streaming ----
    let usage_null = if include_usage {
        Some(Value::Null)
    } else {
        None
    };
    let mk = |delta: Value, finish: Value| -> Bytes {
        let mut v = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [{"index":0,"delta":delta,"logprobs":null,"finish_reason":finish}]
        });
        if let Some(u) = &usage_null {
            v["usage"] = u.clone();
        }
        Bytes::from(format!("data: {}\n\n", v))
    };
    let mut events: Vec<Bytes> = Vec::with_capacity(k.chunks + 4);
    let ctoks = match &answer {
        Answer::Text(t) => {
            events.push(mk(
                json!({"role":"assistant","content":"","refusal":null}),
                Value::Null,
            ));
            for piece in split_n(t, k.chunks) {
                events.push(mk(json!({"content":piece}), Value::Null));
            }
            events.push(mk(json!({}), json!("stop")));
            (t.len() as u64 / 4).max(1)
        }
        Answer::Tool { name, args } => {
            events.push(mk(
                json!({"role":"assistant","content":null,"tool_calls":[{"index":0,"id":rid("call"),"type":"function","function":{"name":name,"arguments":""}}]}),
                Value::Null,
            ));
            for piece in split_n(args, k.chunks) {
                events.push(mk(
                    json!({"tool_calls":[{"index":0,"function":{"arguments":piece}}]}),
                    Value::Null,
                ));
            }
            events.push(mk(json!({}), json!("tool_calls")));
            (args.len() as u64 / 4).max(1)
        }
    };
    if include_usage {
        let v = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_mock", "choices": [],
            "usage": {"prompt_tokens":prompt_tokens,"completion_tokens":ctoks,"total_tokens":prompt_tokens+ctoks}
        });
        events.push(Bytes::from(format!("data: {}\n\n", v)));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));

    let cut_after = if k.fault.as_deref() == Some("close_mid") {
        Some(3usize)
    } else {
        None
    };
    let first_delay = k.delay_ms;
    let chunk_delay = k.chunk_ms;
    let st = stream::unfold(
        (events.into_iter(), 0usize),
        move |(mut it, i)| async move {
            if cut_after == Some(i) {
                // yield first so hyper flushes the chunks already written, then abort the connection
                tokio::time::sleep(Duration::from_millis(10)).await;
                return Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "mock close_mid",
                    )),
                    (it, usize::MAX),
                ));
            }
            if i == usize::MAX {
                return None;
            }
            let ev = it.next()?;
            let d = if i == 0 { first_delay } else { chunk_delay };
            if d > 0 {
                tokio::time::sleep(Duration::from_millis(d)).await;
            }
            Some((Ok(Frame::data(ev)), (it, i + 1)))
        },
    );
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(st)));
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert("cache-control", HeaderValue::from_static("no-cache"));
    Ok(r)
}

/// Returns Ok(Some(resp)) for HTTP-level faults, Err for a dropped connection.
async fn fault_response(k: &Knobs) -> Result<Option<Response<Body>>, BoxErr> {
    let Some(f) = k.fault.as_deref() else {
        return Ok(None);
    };
    if f != "close_mid" && k.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(k.delay_ms)).await;
    }
    Ok(Some(match f {
        "429" => err_resp(
            StatusCode::TOO_MANY_REQUESTS,
            "requests",
            "rate_limit_exceeded",
            "Rate limit reached (mock fault injection).",
        ),
        "500" => err_resp(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "server_error",
            "The server had an error (mock fault injection).",
        ),
        "503" => err_resp(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "overloaded",
            "Overloaded (mock fault injection).",
        ),
        "400" => err_resp(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_value",
            "Bad request (mock fault injection).",
        ),
        "401" => err_resp(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_api_key",
            "Incorrect API key provided (mock fault injection).",
        ),
        "close" => return Err("mock fault: close connection".into()),
        _ => return Ok(None),
    }))
}

async fn embeddings(cfg: Arc<Cfg>, mut k: Knobs, body: Bytes) -> Result<Response<Body>, BoxErr> {
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return Ok(err_resp(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_json",
                &format!("invalid JSON: {e}"),
            ))
        }
    };
    if let Some(Value::String(s)) = req.get("input") {
        apply_tags(&mut k, s);
    }
    if let Some(r) = fault_response(&k).await? {
        return Ok(r);
    }
    let inputs: usize = match req.get("input") {
        Some(Value::String(_)) => 1,
        Some(Value::Array(a)) if !a.is_empty() && a[0].is_number() => 1, // one token array
        Some(Value::Array(a)) if !a.is_empty() => a.len(),
        _ => {
            return Ok(err_resp(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_value",
                "'input' is required.",
            ))
        }
    };
    if k.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(k.delay_ms)).await;
    }
    let dim = req
        .get("dimensions")
        .and_then(|d| d.as_u64())
        .map(|d| d as usize)
        .unwrap_or(cfg.embed_dim);
    let b64 = req.get("encoding_format").and_then(|e| e.as_str()) == Some("base64");
    let model = req
        .get("model")
        .and_then(|m| m.as_str())
        .unwrap_or("mock-embed");
    let data: Vec<Value> = (0..inputs)
        .map(|i| {
            let vec: Vec<f32> = (0..dim)
                .map(|j| (((i * 31 + j * 7) % 1000) as f32 / 1000.0) - 0.5)
                .collect();
            let emb = if b64 {
                let mut raw = Vec::with_capacity(dim * 4);
                for f in &vec {
                    raw.extend_from_slice(&f.to_le_bytes());
                }
                Value::String(base64::engine::general_purpose::STANDARD.encode(raw))
            } else {
                json!(vec)
            };
            json!({"object":"embedding","index":i,"embedding":emb})
        })
        .collect();
    let pt = count_prompt_tokens(&req);
    Ok(json_resp(
        StatusCode::OK,
        &json!({"object":"list","data":data,"model":model,"usage":{"prompt_tokens":pt,"total_tokens":pt}}),
    ))
}

fn models(cfg: &Cfg, id: Option<&str>) -> Response<Body> {
    let m = |id: &str| json!({"id":id,"object":"model","created":1700000000u64,"owned_by":"mock"});
    match id {
        None => json_resp(
            StatusCode::OK,
            &json!({"object":"list","data":cfg.models.iter().map(|x| m(x)).collect::<Vec<_>>()}),
        ),
        Some(id) if cfg.models.iter().any(|x| x == id) => json_resp(StatusCode::OK, &m(id)),
        Some(id) => err_resp(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "model_not_found",
            &format!("The model '{id}' does not exist"),
        ),
    }
}

// ---- request counting (lock-free: fixed buckets of atomics) ----
/// Known paths get their own bucket (as received, with or without /v1); the rest share one.
const STAT_PATHS: &[&str] = &[
    "/v1/chat/completions",
    "/chat/completions",
    "/v1/embeddings",
    "/embeddings",
    "/v1/models",
    "/models",
    "/v1/models/{id}",
    "/models/{id}",
    "/health",
    "/",
    "other",
];
const N_PATHS: usize = 11;
static REQS: AtomicU64 = AtomicU64::new(0);
static BY_PATH: [AtomicU64; N_PATHS] = [const { AtomicU64::new(0) }; N_PATHS];
static BY_STATUS: [AtomicU64; 600] = [const { AtomicU64::new(0) }; 600];
static CLOSED: AtomicU64 = AtomicU64::new(0);

fn path_bucket(p: &str) -> usize {
    if let Some(i) = STAT_PATHS.iter().position(|x| *x == p) {
        if STAT_PATHS[i] != "other" && !STAT_PATHS[i].contains('{') {
            return i;
        }
    }
    if p.starts_with("/v1/models/") {
        return 6;
    }
    if p.starts_with("/models/") {
        return 7;
    }
    N_PATHS - 1
}

fn count_status(code: u16) {
    if let Some(c) = BY_STATUS.get(code as usize) {
        c.fetch_add(1, Relaxed);
    }
}

fn stats_json() -> Value {
    let mut by_path = serde_json::Map::new();
    for (i, c) in BY_PATH.iter().enumerate() {
        let n = c.load(Relaxed);
        if n > 0 {
            by_path.insert(STAT_PATHS[i].to_string(), json!(n));
        }
    }
    let mut by_status = serde_json::Map::new();
    for (i, c) in BY_STATUS.iter().enumerate() {
        let n = c.load(Relaxed);
        if n > 0 {
            by_status.insert(i.to_string(), json!(n));
        }
    }
    let closed = CLOSED.load(Relaxed);
    if closed > 0 {
        by_status.insert("closed".into(), json!(closed));
    }
    json!({"requests": REQS.load(Relaxed), "by_path": by_path, "by_status": by_status})
}

fn stats_reset() {
    REQS.store(0, Relaxed);
    BY_PATH.iter().for_each(|c| c.store(0, Relaxed));
    BY_STATUS.iter().for_each(|c| c.store(0, Relaxed));
    CLOSED.store(0, Relaxed);
}

/// Counting wrapper around `handle`: /stats endpoints are answered here and not counted.
async fn handle_counted(cfg: Arc<Cfg>, req: Request<Incoming>) -> Result<Response<Body>, BoxErr> {
    let p = req.uri().path();
    if p == "/stats" || p == "/v1/stats" {
        return Ok(json_resp(StatusCode::OK, &stats_json()));
    }
    if (p == "/stats/reset" || p == "/v1/stats/reset") && req.method() == Method::POST {
        stats_reset();
        return Ok(json_resp(StatusCode::OK, &stats_json()));
    }
    REQS.fetch_add(1, Relaxed);
    BY_PATH[path_bucket(p)].fetch_add(1, Relaxed);
    let r = handle(cfg, req).await;
    match &r {
        Ok(resp) => count_status(resp.status().as_u16()),
        Err(_) => {
            CLOSED.fetch_add(1, Relaxed);
        }
    }
    r
}

async fn handle(cfg: Arc<Cfg>, req: Request<Incoming>) -> Result<Response<Body>, BoxErr> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let path = path.strip_prefix("/v1").unwrap_or(path).to_string();
    if path == "/health" || path == "/" {
        return Ok(full(StatusCode::OK, "text/plain", "ok"));
    }
    if let Some(key) = &cfg.api_key {
        let ok = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.strip_prefix("Bearer ").unwrap_or("") == key)
            .unwrap_or(false);
        if !ok {
            return Ok(err_resp(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "invalid_api_key",
                "Incorrect API key provided.",
            ));
        }
    }
    let k = knobs(&cfg, &parts);
    match (&parts.method, path.as_str()) {
        (&Method::POST, "/chat/completions") => {
            let b = body.collect().await?.to_bytes();
            chat(cfg, k, b).await
        }
        (&Method::POST, "/embeddings") => {
            let b = body.collect().await?.to_bytes();
            embeddings(cfg, k, b).await
        }
        (&Method::GET, "/models") => Ok(models(&cfg, None)),
        (&Method::GET, p) if p.starts_with("/models/") => Ok(models(&cfg, Some(&p[8..]))),
        _ => Ok(err_resp(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "not_found",
            &format!("Unknown route {} {}", parts.method, parts.uri.path()),
        )),
    }
}

fn main() {
    let threads: usize = env("MOCK_THREADS", 1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let cfg = Arc::new(Cfg {
            delay_ms: env("MOCK_DELAY_MS", 0),
            chunk_ms: env("MOCK_CHUNK_DELAY_MS", 0),
            chunks: env("MOCK_CHUNKS", 8),
            f429: env("MOCK_FAULT_429", 0.0),
            f500: env("MOCK_FAULT_500", 0.0),
            fclose: env("MOCK_FAULT_CLOSE", 0.0),
            api_key: std::env::var("MOCK_API_KEY").ok().filter(|s| !s.is_empty()),
            embed_dim: env("MOCK_EMBED_DIM", 1536),
            models: env("MOCK_MODELS", "mock-gpt,mock-embed".to_string())
                .split(',')
                .map(|s| s.trim().to_string())
                .collect(),
        });
        let addr: SocketAddr = env("MOCK_ADDR", "127.0.0.1:9999".to_string())
            .parse()
            .expect("MOCK_ADDR");
        let listener = TcpListener::bind(addr).await.expect("bind");
        eprintln!("openai-mock listening on http://{addr} (threads={threads})");
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            let _ = sock.set_nodelay(true);
            let cfg = cfg.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle_counted(cfg.clone(), req));
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(sock), svc)
                    .await;
            });
        }
    });
}
