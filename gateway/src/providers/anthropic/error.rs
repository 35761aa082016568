//! Anthropic errors (`{"type":"error","error":{"type","message"}}`) → OpenAI errors.
//!
//! | Anthropic | status | OpenAI `type` / `code` | retryable |
//! |---|---|---|---|
//! | `invalid_request_error` (400), "prompt is too long" | 400 | `invalid_request_error` / `context_length_exceeded` | no |
//! | `invalid_request_error` (400) | 400 | `invalid_request_error` / null | no |
//! | `authentication_error` (401) | 401 | `authentication_error` / `invalid_api_key` | no |
//! | `permission_error` (403) | 403 | `permission_error` / null | no |
//! | `not_found_error` (404) | 404 | `invalid_request_error` / `model_not_found` or `not_found` | no |
//! | `request_too_large` (413) | 413 | `invalid_request_error` / `request_too_large` | no |
//! | `rate_limit_error` (429) | 429 | `rate_limit_error` / `rate_limit_exceeded` | yes |
//! | `api_error` (500) | 500 | `server_error` / null | yes |
//! | `overloaded_error` (529) | 503 | `server_error` / `overloaded` | yes |
//! | `timeout_error` (504) | 504 | `server_error` / `timeout` | yes |
//!
//! A body that is not Anthropic's shape keeps its status and is described by an excerpt.

use std::borrow::Cow;

use bytes::Bytes;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::providers::UpstreamError;
use crate::upstream::retry::is_retryable_status;

#[derive(Deserialize)]
struct ErrorEnvelope<'a> {
    #[serde(borrow)]
    error: ErrorDetail<'a>,
}

#[derive(Deserialize)]
pub(super) struct ErrorDetail<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub message: Cow<'a, str>,
}

#[derive(Serialize)]
struct OpenAiEnvelope<'a> {
    error: OpenAiError<'a>,
}

#[derive(Serialize)]
struct OpenAiError<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    param: Option<()>,
    code: Option<&'static str>,
}

/// How one Anthropic error reads to an OpenAI client.
struct Mapped {
    pub status: StatusCode,
    kind: &'static str,
    code: Option<&'static str>,
    pub retryable: bool,
}

/// Maps an error response.
pub(super) fn map(status: StatusCode, body: &[u8]) -> UpstreamError {
    let (mapped, body) = match serde_json::from_slice::<ErrorEnvelope<'_>>(body) {
        Ok(envelope) => {
            let mapped = classify(Some(status), &envelope.error);
            let body = openai_body(&mapped, &envelope.error.message);
            (mapped, body)
        }
        Err(_) => {
            let mapped = by_status(status);
            let excerpt = String::from_utf8_lossy(&body[..body.len().min(512)]);
            let message = match excerpt.trim() {
                "" => format!("Anthropic returned HTTP {status}"),
                text => format!("Anthropic returned HTTP {status}: {text}"),
            };
            let body = openai_body(&mapped, &message);
            (mapped, body)
        }
    };
    UpstreamError {
        status: mapped.status,
        body,
        retryable: mapped.retryable,
    }
}

/// The OpenAI error body for an Anthropic error, e.g. one sent inside a stream.
pub(super) fn openai_error_body(detail: &ErrorDetail<'_>) -> Bytes {
    openai_body(&classify(None, detail), &detail.message)
}

/// Classifies by the error type; an unknown type falls back to the status.
fn classify(status: Option<StatusCode>, detail: &ErrorDetail<'_>) -> Mapped {
    let mapped = |status: u16, kind, code, retryable| Mapped {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        kind,
        code,
        retryable,
    };
    match detail.kind.as_ref() {
        "invalid_request_error" => {
            let code = is_context_length(&detail.message).then_some("context_length_exceeded");
            let status = status
                .filter(StatusCode::is_client_error)
                .map_or(400, |s| s.as_u16());
            mapped(status, "invalid_request_error", code, false)
        }
        "authentication_error" => {
            mapped(401, "authentication_error", Some("invalid_api_key"), false)
        }
        "permission_error" => mapped(403, "permission_error", None, false),
        "not_found_error" => {
            let code = if detail.message.contains("model") {
                "model_not_found"
            } else {
                "not_found"
            };
            mapped(404, "invalid_request_error", Some(code), false)
        }
        "request_too_large" => mapped(
            413,
            "invalid_request_error",
            Some("request_too_large"),
            false,
        ),
        "rate_limit_error" => mapped(429, "rate_limit_error", Some("rate_limit_exceeded"), true),
        "api_error" => mapped(500, "server_error", None, true),
        "overloaded_error" => mapped(503, "server_error", Some("overloaded"), true),
        "timeout_error" => mapped(504, "server_error", Some("timeout"), true),
        _ => by_status(status.unwrap_or(StatusCode::BAD_GATEWAY)),
    }
}

fn by_status(status: StatusCode) -> Mapped {
    let (status, kind, code) = match status.as_u16() {
        401 => (status, "authentication_error", Some("invalid_api_key")),
        403 => (status, "permission_error", None),
        429 => (status, "rate_limit_error", Some("rate_limit_exceeded")),
        529 => (
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            Some("overloaded"),
        ),
        400..=499 => (status, "invalid_request_error", None),
        _ => (status, "server_error", None),
    };
    Mapped {
        status,
        kind,
        code,
        retryable: is_retryable_status(status) || status.is_server_error(),
    }
}

/// Anthropic reports an over-long prompt as a plain invalid request.
fn is_context_length(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("prompt is too long") || message.contains("exceed context limit")
}

fn openai_body(mapped: &Mapped, message: &str) -> Bytes {
    let envelope = OpenAiEnvelope {
        error: OpenAiError {
            message,
            kind: mapped.kind,
            param: None,
            code: mapped.code,
        },
    };
    serde_json::to_vec(&envelope)
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(b"{\"error\":{\"message\":\"upstream error\",\"type\":\"server_error\",\"param\":null,\"code\":null}}"))
}
