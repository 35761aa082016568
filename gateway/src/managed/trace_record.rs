//! One request as a managed gateway reports it to the control plane.

use serde::{Deserialize, Serialize};

/// The body of `POST /api/v1/traces`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceBatch {
    pub project: String,
    pub environment: String,
    /// The gateway's instance id, for dedup and debugging.
    pub gateway: String,
    pub records: Vec<TraceRecord>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceRecord {
    pub trace_id: String,
    /// RFC 3339 UTC time the request arrived.
    pub started_at: String,
    pub route: String,
    /// `/v1/chat/completions`, `/api/v1/generate`, ...
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_label: Option<String>,
    /// `stable` or `canary` for prompt canaries; experiment arms later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Decoding parameters the client sent (temperature, top_p, max_tokens, seed, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoding: Option<serde_json::Value>,
    pub stream: bool,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_usd: f64,
    pub latency_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// `hit`, `miss` or `off`.
    pub cache: String,
    pub status: TraceStatus,
    /// HTTP status sent to the client.
    pub http_status: u16,
    /// The OpenAI error `type`/`code` when the request failed; never a message that could
    /// carry client data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Request payload, only when the project allows it, PII redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<serde_json::Value>,
    /// Response payload, under the same rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<serde_json::Value>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceStatus {
    #[default]
    Ok,
    Error,
    /// The client went away before the answer finished.
    Cancelled,
}
