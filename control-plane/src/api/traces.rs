//! Traces shipped by managed gateways: `POST /api/v1/traces` (batches, idempotent on
//! (project, trace_id)), `GET /api/v1/traces/{trace_id}` and the filtered, newest-first
//! list `GET /api/v1/projects/{project_id}/traces`.
//!
//! Ingestion is data, not configuration: it is not written to the audit log.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::Json;
use promptgate::managed::TraceRecord;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;
use utoipa::ToSchema;

use super::projects::resolve_project;
use super::State;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::store::{now_rfc3339, Backend};

pub mod batch;
pub mod filter;
pub mod rfc3339;
pub mod schema;

use batch::{BatchError, MAX_BODY_BYTES, MAX_RECORDS};
use filter::Filter;

/// Rows per multi-row `INSERT` (14 values each, under SQLite's oldest 999-variable limit).
const INSERT_CHUNK: usize = 50;
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

/// Who may send traces for `project_id`: that project's gateway key, or an Editor+ member
/// (or project key with Editor+). The one place ingestion is authorised.
pub fn authorize_ingest(caller: &Caller, project_id: i64) -> ApiResult<()> {
    caller.authorize_gateway(
        project_id,
        Role::Editor,
        ApiError::NotFound("project not found".into()),
    )
}

/// `202` body of `POST /api/v1/traces`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestResult {
    /// Records stored now.
    pub accepted: u64,
    /// Records whose (project, trace_id) was already stored (sent again by a retry).
    pub duplicates: u64,
}

/// One stored trace: the gateway's record plus where and when it arrived.
#[derive(Debug, Serialize)]
pub struct TraceView {
    #[serde(flatten)]
    pub record: TraceRecord,
    pub project_id: i64,
    pub environment: String,
    pub gateway: String,
    pub received_at: String,
}

impl TraceView {
    const COLUMNS: &'static str =
        "id, project_id, environment, gateway, received_at, started_at, record";

    fn from_row(row: &AnyRow) -> ApiResult<TraceView> {
        let text: String = row.try_get("record")?;
        let record = serde_json::from_str(&text)
            .map_err(|e| ApiError::Internal(format!("stored trace record unreadable: {e}")))?;
        Ok(TraceView {
            record,
            project_id: row.try_get("project_id")?,
            environment: row.try_get("environment")?,
            gateway: row.try_get("gateway")?,
            received_at: row.try_get("received_at")?,
        })
    }
}

fn too_large(message: String) -> ApiError {
    ApiError::PayloadTooLarge(message)
}

/// `POST /api/v1/traces`: stores a `TraceBatch` (≤ 1000 records, body ≤ 8 MiB) → 202.
pub async fn ingest(
    state: State,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<IngestResult>)> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(format!("the body exceeds {MAX_BODY_BYTES} bytes"))
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    })?;
    let batch = batch::parse(&body).map_err(|e| match e {
        BatchError::TooManyRecords(n) => too_large(format!(
            "a batch carries at most {MAX_RECORDS} records, this one has {n}"
        )),
        BatchError::Invalid(err) => err,
    })?;
    let project_id = resolve_project(&state, &caller, &batch.project).await?;
    authorize_ingest(&caller, project_id)?;
    let received_at = now_rfc3339();
    let _guard = match state.store.backend {
        // One SQLite writer at a time; PostgreSQL takes concurrent inserts.
        Backend::Sqlite => Some(state.store.write_guard().await),
        Backend::Postgres => None,
    };
    let mut tx = state.store.pool.begin().await?;
    let mut accepted = 0u64;
    for chunk in batch.records.chunks(INSERT_CHUNK) {
        let rows = (0..chunk.len())
            .map(|i| {
                let cols: Vec<String> = (1..=14).map(|c| format!("${}", i * 14 + c)).collect();
                format!("({})", cols.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO traces (project_id, trace_id, environment, gateway, route, prompt, \
             prompt_version, status, cache, latency_ms, cost_usd, started_at, received_at, record) \
             VALUES {rows} ON CONFLICT (project_id, trace_id) DO NOTHING"
        );
        let mut query = sqlx::query(&sql);
        for (record, started_at) in chunk {
            let json = serde_json::to_string(record)
                .map_err(|e| ApiError::Internal(format!("trace record serialisation: {e}")))?;
            query = query
                .bind(project_id)
                .bind(record.trace_id.clone())
                .bind(batch.environment.clone())
                .bind(batch.gateway.clone())
                .bind(record.route.clone())
                .bind(record.prompt.clone())
                .bind(record.prompt_version)
                .bind(batch::status_name(record.status))
                .bind(record.cache.clone())
                .bind(record.latency_ms)
                .bind(record.cost_usd)
                .bind(started_at.clone())
                .bind(received_at.clone())
                .bind(json);
        }
        accepted += query.execute(&mut *tx).await?.rows_affected();
    }
    tx.commit().await?;
    let total = batch.records.len() as u64;
    Ok((
        StatusCode::ACCEPTED,
        Json(IngestResult {
            accepted,
            duplicates: total.saturating_sub(accepted),
        }),
    ))
}

/// `GET /api/v1/traces/{trace_id}` (viewer of the trace's project). Trace ids are unique per
/// project; the first one the caller may read answers, others' traces answer 404.
pub async fn get(
    state: State,
    caller: Caller,
    ApiPath(trace_id): ApiPath<String>,
) -> ApiResult<Json<TraceView>> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM traces WHERE trace_id = $1 ORDER BY id",
        TraceView::COLUMNS
    ))
    .bind(&trace_id)
    .fetch_all(&state.store.pool)
    .await?;
    let not_found = || ApiError::NotFound("trace not found".into());
    let mut denied = None;
    for row in &rows {
        let project_id: i64 = row.try_get("project_id")?;
        match caller.authorize(project_id, Role::Viewer, not_found()) {
            Ok(()) => return Ok(Json(TraceView::from_row(row)?)),
            Err(e @ ApiError::Forbidden(_)) => denied = Some(e),
            Err(_) => {}
        }
    }
    Err(denied.unwrap_or_else(not_found))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub environment: Option<String>,
    pub route: Option<String>,
    pub prompt: Option<String>,
    pub prompt_version: Option<i64>,
    pub status: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<i64>,
    /// `next_before` of the previous page.
    pub before: Option<String>,
}

/// A page of traces, newest first; `next_before` is set when more may follow.
#[derive(Debug, Serialize)]
pub struct TracePage {
    pub data: Vec<TraceView>,
    pub next_before: Option<String>,
}

fn cursor(started_at: &str, id: i64) -> String {
    format!("{started_at}~{id}")
}

fn parse_cursor(s: &str) -> Option<(String, i64)> {
    let (at, id) = s.rsplit_once('~')?;
    Some((rfc3339::normalize(at)?, id.parse().ok()?))
}

/// `GET /api/v1/projects/{project_id}/traces` (viewer). Payloads (`request`, `response`)
/// are left out of list items; `GET /api/v1/traces/{trace_id}` returns them.
pub async fn list(
    state: State,
    caller: Caller,
    ApiPath(project_id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<TracePage>> {
    caller.authorize(
        project_id,
        Role::Viewer,
        ApiError::not_found("project", project_id),
    )?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::unprocessable(
            format!("limit must be between 1 and {MAX_LIMIT}"),
            Some("limit"),
        ));
    }
    if let Some(s) = q.status.as_deref() {
        if !matches!(s, "ok" | "error" | "cancelled") {
            return Err(ApiError::unprocessable(
                "status must be one of ok, error, cancelled",
                Some("status"),
            ));
        }
    }
    let mut f = Filter::project(project_id);
    f.text_eq("environment", q.environment.as_deref());
    f.text_eq("route", q.route.as_deref());
    f.text_eq("prompt", q.prompt.as_deref());
    f.int_eq("prompt_version", q.prompt_version);
    f.text_eq("status", q.status.as_deref());
    f.time_window(q.since.as_deref(), q.until.as_deref())?;
    if let Some(before) = q.before.as_deref() {
        let (at, id) = parse_cursor(before).ok_or_else(|| {
            ApiError::unprocessable("before must be a next_before value", Some("before"))
        })?;
        f.before(&at, id);
    }
    let limit_param = f.extra_int(limit);
    let sql = format!(
        "SELECT {} FROM traces {} ORDER BY started_at DESC, id DESC LIMIT {limit_param}",
        TraceView::COLUMNS,
        f.where_sql()
    );
    let rows = f.bind(&sql).fetch_all(&state.store.pool).await?;
    let next_before = match rows.last() {
        Some(last) if rows.len() as i64 == limit => Some(cursor(
            &last.try_get::<String, _>("started_at")?,
            last.try_get("id")?,
        )),
        _ => None,
    };
    let data = rows
        .iter()
        .map(|row| {
            let mut view = TraceView::from_row(row)?;
            view.record.request = None;
            view.record.response = None;
            Ok(view)
        })
        .collect::<ApiResult<_>>()?;
    Ok(Json(TracePage { data, next_before }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let c = cursor("2026-01-02T03:04:05.006Z", 42);
        assert_eq!(
            parse_cursor(&c),
            Some(("2026-01-02T03:04:05.006Z".to_owned(), 42))
        );
        assert_eq!(parse_cursor("42"), None);
        assert_eq!(parse_cursor("soon~1"), None);
    }
}
