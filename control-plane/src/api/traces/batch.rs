//! Parsing and checking a `POST /api/v1/traces` body before anything is stored.
//!
//! The body is promptgate's `TraceBatch`. It is read in two steps (envelope, then each
//! record) so a bad record answers 422 with `param` naming it (`records[3].started_at`).

use promptgate::managed::{TraceRecord, TraceStatus};
use serde::Deserialize;
use serde_json::Value;

use super::rfc3339;
use crate::error::ApiError;
use crate::snapshot::check_environment;

/// Most records one batch may carry (more answers 413).
pub const MAX_RECORDS: usize = 1000;
/// Largest accepted body (more answers 413).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
const MAX_TRACE_ID_CHARS: usize = 128;
const MAX_NAME_CHARS: usize = 256;

/// `TraceBatch` with its records still unparsed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    project: String,
    environment: String,
    gateway: String,
    records: Vec<Value>,
}

/// A checked batch: every record parsed, with its normalised start time.
#[derive(Debug)]
pub struct Batch {
    pub project: String,
    pub environment: String,
    pub gateway: String,
    pub records: Vec<(TraceRecord, String)>,
}

/// Why a body was refused.
#[derive(Debug)]
pub enum BatchError {
    TooManyRecords(usize),
    Invalid(ApiError),
}

fn invalid(message: String, param: &str) -> BatchError {
    BatchError::Invalid(ApiError::unprocessable(message, Some(param)))
}

pub fn parse(body: &[u8]) -> Result<Batch, BatchError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        BatchError::Invalid(ApiError::BadRequest(format!("body is not valid JSON: {e}")))
    })?;
    let envelope: Envelope = serde_json::from_value(value).map_err(|e| {
        BatchError::Invalid(ApiError::unprocessable(
            format!("not a trace batch: {e}"),
            None,
        ))
    })?;
    if envelope.records.len() > MAX_RECORDS {
        return Err(BatchError::TooManyRecords(envelope.records.len()));
    }
    check_environment(&envelope.environment, "environment").map_err(BatchError::Invalid)?;
    if envelope.gateway.is_empty() || envelope.gateway.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(
            format!("gateway must be 1 to {MAX_NAME_CHARS} characters"),
            "gateway",
        ));
    }
    let records = envelope
        .records
        .into_iter()
        .enumerate()
        .map(|(i, v)| parse_record(i, v))
        .collect::<Result<_, _>>()?;
    Ok(Batch {
        project: envelope.project,
        environment: envelope.environment,
        gateway: envelope.gateway,
        records,
    })
}

fn parse_record(i: usize, value: Value) -> Result<(TraceRecord, String), BatchError> {
    let at = |field: &str| format!("records[{i}].{field}");
    if let Some(status) = value.get("status") {
        let known = serde_json::from_value::<TraceStatus>(status.clone()).is_ok();
        if !known {
            return Err(invalid(
                format!("{} must be one of ok, error, cancelled", at("status")),
                &at("status"),
            ));
        }
    }
    let record: TraceRecord = serde_json::from_value(value).map_err(|e| {
        invalid(
            format!("records[{i}] is not a trace record: {e}"),
            &format!("records[{i}]"),
        )
    })?;
    let id = &record.trace_id;
    if id.is_empty()
        || id.chars().count() > MAX_TRACE_ID_CHARS
        || id.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(invalid(
            format!(
                "{} must be 1 to {MAX_TRACE_ID_CHARS} characters without spaces",
                at("trace_id")
            ),
            &at("trace_id"),
        ));
    }
    let started_at = rfc3339::normalize(&record.started_at).ok_or_else(|| {
        invalid(
            format!("{} must be an RFC 3339 time", at("started_at")),
            &at("started_at"),
        )
    })?;
    for (field, text) in [
        ("route", Some(&record.route)),
        ("endpoint", Some(&record.endpoint)),
        ("prompt", record.prompt.as_ref()),
        ("provider", record.provider.as_ref()),
        ("model", record.model.as_ref()),
    ] {
        if text.is_some_and(|t| t.chars().count() > MAX_NAME_CHARS) {
            return Err(invalid(
                format!("{} is longer than {MAX_NAME_CHARS} characters", at(field)),
                &at(field),
            ));
        }
    }
    if !matches!(record.cache.as_str(), "hit" | "miss" | "off") {
        return Err(invalid(
            format!("{} must be one of hit, miss, off", at("cache")),
            &at("cache"),
        ));
    }
    for (field, n) in [
        ("latency_ms", Some(record.latency_ms)),
        ("cost_usd", Some(record.cost_usd)),
        ("ttft_ms", record.ttft_ms),
    ] {
        if n.is_some_and(|n| !n.is_finite() || n < 0.0) {
            return Err(invalid(
                format!("{} must be a number ≥ 0", at(field)),
                &at(field),
            ));
        }
    }
    Ok((record, started_at))
}

/// The stored name of a status (the `traces.status` column).
pub fn status_name(status: TraceStatus) -> &'static str {
    match status {
        TraceStatus::Ok => "ok",
        TraceStatus::Error => "error",
        TraceStatus::Cancelled => "cancelled",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use promptgate::managed::TraceBatch;
    use serde_json::json;

    fn record(id: &str) -> TraceRecord {
        TraceRecord {
            trace_id: id.into(),
            started_at: "2026-01-02T03:04:05.250+01:00".into(),
            route: "chat".into(),
            endpoint: "/v1/chat/completions".into(),
            prompt: Some("greeter".into()),
            prompt_version: Some(3),
            cache: "miss".into(),
            latency_ms: 12.5,
            http_status: 200,
            ..TraceRecord::default()
        }
    }

    fn error_param(body: Value) -> Option<String> {
        match parse(body.to_string().as_bytes()) {
            Err(BatchError::Invalid(ApiError::Unprocessable { param, .. })) => param,
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn accepts_what_the_gateway_serialises() {
        let batch = TraceBatch {
            project: "shop".into(),
            environment: "prod".into(),
            gateway: "gw-1".into(),
            records: vec![record("a"), record("b")],
        };
        let parsed = parse(&serde_json::to_vec(&batch).unwrap()).unwrap();
        assert_eq!(parsed.project, "shop");
        assert_eq!(parsed.records.len(), 2);
        assert_eq!(parsed.records[0].0, record("a"));
        assert_eq!(parsed.records[0].1, "2026-01-02T02:04:05.250Z");
    }

    #[test]
    fn names_the_bad_field() {
        let base = json!({"project": "p", "environment": "prod", "gateway": "g",
            "records": [serde_json::to_value(record("ok")).unwrap()]});
        let with = |i: usize, field: &str, v: Value| {
            let mut b = base.clone();
            let mut r = serde_json::to_value(record("x")).unwrap();
            r[field] = v;
            b["records"].as_array_mut().unwrap().push(r);
            assert_eq!(b["records"].as_array().unwrap().len(), i + 1);
            b
        };
        assert_eq!(
            error_param(with(1, "status", json!("weird"))).as_deref(),
            Some("records[1].status")
        );
        assert_eq!(
            error_param(with(1, "started_at", json!("yesterday"))).as_deref(),
            Some("records[1].started_at")
        );
        assert_eq!(
            error_param(with(1, "trace_id", json!(""))).as_deref(),
            Some("records[1].trace_id")
        );
        assert_eq!(
            error_param(with(1, "trace_id", json!("x".repeat(129)))).as_deref(),
            Some("records[1].trace_id")
        );
        assert_eq!(
            error_param(with(1, "cache", json!("maybe"))).as_deref(),
            Some("records[1].cache")
        );
        assert_eq!(
            error_param(with(1, "latency_ms", json!(-1.0))).as_deref(),
            Some("records[1].latency_ms")
        );
        assert_eq!(
            error_param(with(1, "secret_field", json!(1))).as_deref(),
            Some("records[1]")
        );
        let mut b = base.clone();
        b["environment"] = json!("Prod");
        assert_eq!(error_param(b).as_deref(), Some("environment"));
    }

    #[test]
    fn counts_records_before_parsing_them() {
        let records: Vec<Value> = (0..=MAX_RECORDS).map(|_| json!({})).collect();
        let body =
            json!({"project": "p", "environment": "prod", "gateway": "g", "records": records});
        assert!(matches!(
            parse(body.to_string().as_bytes()),
            Err(BatchError::TooManyRecords(n)) if n == MAX_RECORDS + 1
        ));
    }

    /// A minimal batch for `environment`.
    fn parse_env(environment: &str) -> Result<Batch, BatchError> {
        let body = serde_json::json!({
            "project": "p", "environment": environment, "gateway": "g", "records": []
        });
        parse(body.to_string().as_bytes())
    }

    #[test]
    fn environment_names() {
        for ok in ["dev", "prod", "eu-west_2", &format!("a{}", "b".repeat(31))] {
            assert!(parse_env(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Prod", "1dev", "dev!", &format!("a{}", "b".repeat(32))] {
            assert!(parse_env(bad).is_err(), "{bad}");
        }
    }
}
