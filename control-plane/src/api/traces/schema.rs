//! OpenAPI schemas of the trace endpoints. `TraceRecord` and `TraceBatch` live in the gateway
//! crate (no utoipa there), so their shapes are declared here; a test keeps the field names
//! in step with what the gateway serialises.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The body of `POST /api/v1/traces` (promptgate's `TraceBatch`).
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct TraceBatch {
    /// Project name in the caller's organization (or its numeric id).
    pub project: String,
    /// `^[a-z][a-z0-9_-]{0,31}$`.
    pub environment: String,
    /// The sending gateway's instance id.
    pub gateway: String,
    /// At most 1000.
    pub records: Vec<TraceRecord>,
}

/// One request as a managed gateway reported it.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct TraceRecord {
    /// 1..128 characters, unique per project.
    pub trace_id: String,
    /// RFC 3339.
    pub started_at: String,
    pub route: String,
    pub endpoint: String,
    pub prompt: Option<String>,
    pub prompt_version: Option<i64>,
    pub prompt_label: Option<String>,
    pub variant: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub decoding: Option<Value>,
    pub stream: bool,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_usd: f64,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    /// `hit`, `miss` or `off`.
    pub cache: String,
    /// `ok`, `error` or `cancelled`.
    pub status: String,
    pub http_status: u16,
    pub error: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub request: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub response: Option<Value>,
}

/// A stored trace: the record's fields plus these.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct Trace {
    #[serde(flatten)]
    pub record: TraceRecord,
    pub project_id: i64,
    pub environment: String,
    pub gateway: String,
    pub received_at: String,
}

/// A page of traces, newest first.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
pub struct TracePage {
    pub data: Vec<Trace>,
    /// Pass as `before` for the next page; null on the last page.
    pub next_before: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;

    use utoipa::openapi::{RefOr, Schema};
    use utoipa::PartialSchema;

    fn properties(schema: RefOr<Schema>) -> BTreeSet<String> {
        match schema {
            RefOr::T(Schema::Object(o)) => o.properties.keys().cloned().collect(),
            other => panic!(
                "not an object schema: {}",
                serde_json::to_string(&other).unwrap_or_default()
            ),
        }
    }

    #[test]
    fn record_schema_matches_the_gateway_type() {
        let full = promptgate::managed::TraceRecord {
            prompt: Some(String::new()),
            prompt_version: Some(1),
            prompt_label: Some(String::new()),
            variant: Some(String::new()),
            provider: Some(String::new()),
            model: Some(String::new()),
            decoding: Some(serde_json::json!({})),
            ttft_ms: Some(1.0),
            error: Some(String::new()),
            request: Some(serde_json::json!({})),
            response: Some(serde_json::json!({})),
            ..Default::default()
        };
        let serialised: BTreeSet<String> = serde_json::to_value(full)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(properties(super::TraceRecord::schema()), serialised);
        let batch = promptgate::managed::TraceBatch {
            project: String::new(),
            environment: String::new(),
            gateway: String::new(),
            records: Vec::new(),
        };
        let serialised: BTreeSet<String> = serde_json::to_value(batch)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(properties(super::TraceBatch::schema()), serialised);
    }
}
