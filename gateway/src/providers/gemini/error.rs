//! Google API errors (`{"error":{"code","message","status","details"}}`) in the OpenAI shape.

use bytes::Bytes;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::providers::UpstreamError;
use crate::upstream::retry::is_retryable_status;

/// `{"error":{"message","type","param","code"}}`
pub fn openai_error_body(
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Bytes {
    let body = json!({
        "error": {"message": message, "type": kind, "param": param, "code": code}
    });
    Bytes::from(body.to_string())
}

#[derive(Debug, Deserialize)]
struct Envelope {
    error: GoogleError,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct GoogleError {
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    details: Vec<Value>,
    /// Present when the error is already OpenAI-shaped (the gateway's own 400s).
    #[serde(default, rename = "type")]
    kind: Option<Value>,
}

/// How one Google error reads in OpenAI terms.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Mapped {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub message: String,
}

impl GoogleError {
    pub(super) fn parse(body: &[u8]) -> Option<GoogleError> {
        // Stream endpoints without `alt=sse` wrap everything in an array.
        let value: Value = serde_json::from_slice(body).ok()?;
        let value = match value {
            Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
            other => other,
        };
        serde_json::from_value::<Envelope>(value)
            .ok()
            .map(|e| e.error)
    }

    fn is_openai_shaped(&self) -> bool {
        self.kind.is_some() && self.status.is_none()
    }

    fn has_reason(&self, reason: &str) -> bool {
        self.details
            .iter()
            .any(|d| d.get("reason").and_then(Value::as_str) == Some(reason))
    }

    /// The OpenAI status, type and code for this error; `http` is the status it came with.
    pub(super) fn map(&self, http: StatusCode) -> Mapped {
        let message = self
            .message
            .clone()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| format!("Gemini returned HTTP {http}"));
        let lower = message.to_ascii_lowercase();
        let status_name = self.status.as_deref().unwrap_or_default();
        let (code, kind, error_code): (u16, &'static str, Option<&'static str>) = match status_name
        {
            "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => {
                if self.has_reason("API_KEY_INVALID") {
                    (401, "authentication_error", Some("invalid_api_key"))
                } else if is_context_length(&lower) {
                    (
                        400,
                        "invalid_request_error",
                        Some("context_length_exceeded"),
                    )
                } else {
                    (400, "invalid_request_error", None)
                }
            }
            "UNAUTHENTICATED" => (401, "authentication_error", Some("invalid_api_key")),
            "PERMISSION_DENIED" => (403, "permission_error", None),
            "NOT_FOUND" => {
                let code = if lower.contains("model") {
                    "model_not_found"
                } else {
                    "not_found"
                };
                (404, "invalid_request_error", Some(code))
            }
            "RESOURCE_EXHAUSTED" => (429, "rate_limit_error", Some("rate_limit_exceeded")),
            "ABORTED" => (409, "server_error", None),
            "INTERNAL" | "UNKNOWN" | "DATA_LOSS" | "CANCELLED" => (500, "server_error", None),
            "UNIMPLEMENTED" => (501, "server_error", None),
            "UNAVAILABLE" => (503, "server_error", None),
            "DEADLINE_EXCEEDED" => (504, "server_error", Some("timeout")),
            _ => {
                let code = self
                    .code
                    .filter(|c| (400..=599).contains(c))
                    .unwrap_or(http.as_u16());
                let (kind, error_code) = kind_for_status(code);
                (code, kind, error_code)
            }
        };
        Mapped {
            status: StatusCode::from_u16(code).unwrap_or(http),
            kind,
            code: error_code,
            message,
        }
    }
}

fn kind_for_status(status: u16) -> (&'static str, Option<&'static str>) {
    match status {
        401 => ("authentication_error", Some("invalid_api_key")),
        403 => ("permission_error", None),
        404 => ("invalid_request_error", Some("not_found")),
        429 => ("rate_limit_error", Some("rate_limit_exceeded")),
        400..=499 => ("invalid_request_error", None),
        _ => ("server_error", None),
    }
}

/// "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
fn is_context_length(lower: &str) -> bool {
    (lower.contains("input token count") && lower.contains("exceed"))
        || lower.contains("exceeds the maximum number of tokens")
}

/// Maps a non-2xx Gemini answer onto the OpenAI error shape.
pub fn map_error(status: StatusCode, body: Bytes) -> UpstreamError {
    let Some(google) = GoogleError::parse(&body) else {
        // Not JSON at all (a proxy's HTML page): the gateway wraps the raw text.
        return UpstreamError {
            status,
            body,
            retryable: is_retryable_status(status),
        };
    };
    if google.is_openai_shaped() {
        return UpstreamError {
            status,
            body,
            retryable: is_retryable_status(status),
        };
    }
    let mapped = google.map(status);
    UpstreamError {
        status: mapped.status,
        body: openai_error_body(&mapped.message, mapped.kind, None, mapped.code),
        retryable: is_retryable_status(mapped.status),
    }
}

/// An error event inside a stream, in the OpenAI shape (`data: {"error":{...}}`).
pub(super) fn stream_error_event(google: &GoogleError) -> Vec<u8> {
    let mapped = google.map(StatusCode::INTERNAL_SERVER_ERROR);
    let body = openai_error_body(&mapped.message, mapped.kind, None, mapped.code);
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(&body);
    out.extend_from_slice(b"\n\n");
    out
}
