//! What every mock endpoint shares: request context, parameter checks, errors and SSE framing.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::config::raw::MockResponseMode;

/// A request the mock rejects as a real upstream would: 400 with an OpenAI error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BadRequest {
    pub message: String,
    pub param: Option<String>,
}

impl BadRequest {
    pub fn new(message: impl Into<String>, param: Option<&str>) -> Self {
        BadRequest {
            message: message.into(),
            param: param.map(str::to_owned),
        }
    }

    /// `{"error":{"message":..,"type":"invalid_request_error","param":..,"code":null}}`
    pub fn to_body(&self) -> Bytes {
        let body = json!({
            "error": {
                "message": self.message,
                "type": "invalid_request_error",
                "param": self.param,
                "code": null,
            }
        });
        Bytes::from(body.to_string())
    }
}

pub(super) type Result<T> = std::result::Result<T, BadRequest>;

/// The parsed request body.
pub(super) type Req = Map<String, Value>;

/// Settings and per-request values every endpoint needs.
pub(super) struct Ctx<'a> {
    pub mode: MockResponseMode,
    pub fixed_text: &'a str,
    pub words_per_chunk: usize,
    /// 16 hex digits hashed from the request body.
    pub hash: &'a str,
    /// Unix seconds.
    pub created: u64,
}

/// A successful answer: one JSON document, or the events of a server-sent-event stream.
pub(super) enum Output {
    Json(Value),
    Sse(Vec<Bytes>),
}

/// The request's `model`, or `mock` when absent.
pub(super) fn model(req: &Req) -> Result<String> {
    match req.get("model") {
        None | Some(Value::Null) => Ok("mock".to_owned()),
        Some(Value::String(model)) => Ok(model.clone()),
        Some(_) => Err(BadRequest::new(
            "Invalid type for 'model': expected a string.",
            Some("model"),
        )),
    }
}

/// An optional integer parameter within `min..=max`.
pub(super) fn opt_uint(req: &Req, key: &str, min: u64, max: u64) -> Result<Option<u64>> {
    match req.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(BadRequest::new(
                format!(
                    "Invalid '{key}': expected an integer between {min} and {max}, got {value}."
                ),
                Some(key),
            )),
        },
    }
}

/// An optional boolean parameter.
pub(super) fn opt_bool(req: &Req, key: &str) -> Result<Option<bool>> {
    match req.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(BadRequest::new(
            format!("Invalid type for '{key}': expected a boolean."),
            Some(key),
        )),
    }
}

/// `n`: how many choices to generate (1 to 128, default 1).
pub(super) fn choices(req: &Req) -> Result<usize> {
    Ok(opt_uint(req, "n", 1, 128)?.unwrap_or(1) as usize)
}

/// `stream_options.include_usage`.
pub(super) fn include_usage(req: &Req) -> Result<bool> {
    match req.get("stream_options") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Object(options)) => Ok(opt_bool(options, "include_usage")
            .map_err(|_| {
                BadRequest::new(
                    "Invalid type for 'stream_options.include_usage': expected a boolean.",
                    Some("stream_options.include_usage"),
                )
            })?
            .unwrap_or(false)),
        Some(_) => Err(BadRequest::new(
            "Invalid type for 'stream_options': expected an object.",
            Some("stream_options"),
        )),
    }
}

/// One server-sent event carrying `value` as its data.
pub(super) fn sse(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// The event that ends every OpenAI stream.
pub(super) fn done() -> Bytes {
    Bytes::from_static(b"data: [DONE]\n\n")
}

/// The `usage` object of chat and completions responses.
pub(super) fn usage(prompt_tokens: u64, completion_tokens: u64) -> Value {
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens.saturating_add(completion_tokens),
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    })
}
