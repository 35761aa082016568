//! `GET /api/v1/gateway/snapshot`: what a managed gateway runs, with long-poll. A request
//! carrying `If-None-Match: "<version>"` waits up to `wait` seconds for a different snapshot:
//! local changes wake it at once (`AppState::changes`), and it re-checks every second so
//! changes committed by another control-plane replica are seen too.

use std::time::Duration;

use axum::http::header::{ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use tokio::time::Instant;

use super::projects::resolve_project;
use super::State;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::snapshot::{build, check_environment};

/// Longest long-poll a client may ask for.
pub const MAX_WAIT_SECS: u64 = 60;
/// How often a waiting request rebuilds the snapshot without a local wake-up.
const RECHECK: Duration = Duration::from_secs(1);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotQuery {
    /// Project name in the caller's organization (or its numeric id).
    pub project: String,
    pub environment: String,
    /// Seconds to wait for a change when `If-None-Match` matches (0..=60, default 0).
    #[serde(default)]
    pub wait: Option<u64>,
}

/// The version an `If-None-Match` header names (`"v"`, `W/"v"` or bare `v`).
fn wanted_version(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(IF_NONE_MATCH)?.to_str().ok()?.trim();
    let raw = raw.strip_prefix("W/").unwrap_or(raw);
    Some(raw.trim_matches('"').to_owned())
}

fn etag(version: &str) -> ApiResult<HeaderValue> {
    HeaderValue::from_str(&format!("\"{version}\""))
        .map_err(|_| ApiError::Internal("snapshot version is not a header value".into()))
}

/// `GET /api/v1/gateway/snapshot?project=P&environment=E&wait=SECS` (gateway key of P or a
/// member with viewer).
pub async fn snapshot(
    state: State,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<SnapshotQuery>,
) -> ApiResult<Response> {
    let project_id = resolve_project(&state, &caller, &q.project).await?;
    caller.authorize_gateway(
        project_id,
        Role::Viewer,
        ApiError::not_found("project", &q.project),
    )?;
    check_environment(&q.environment, "environment")?;
    let wait = Duration::from_secs(q.wait.unwrap_or(0).min(MAX_WAIT_SECS));
    let deadline = Instant::now() + wait;
    let known = wanted_version(&headers);
    let mut changes = state.changes.subscribe();
    loop {
        changes.mark_unchanged();
        let snapshot = {
            let mut conn = state.store.pool.acquire().await?;
            build(&mut conn, project_id, &q.environment).await?
        };
        let Some(snapshot) = snapshot else {
            return Err(ApiError::EnvironmentNotConfigured(format!(
                "environment {} of project {} has no config yet",
                q.environment, q.project
            )));
        };
        let tag = etag(&snapshot.version)?;
        if known.as_deref() != Some(snapshot.version.as_str()) {
            return Ok(([(ETAG, tag)], Json(snapshot)).into_response());
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok((StatusCode::NOT_MODIFIED, [(ETAG, tag)]).into_response());
        }
        let nap = (deadline - now).min(RECHECK);
        if let Ok(Err(_)) = tokio::time::timeout(nap, changes.changed()).await {
            // The sender is gone (shutting down): fall back to the periodic re-check.
            tokio::time::sleep(nap).await;
        }
    }
}
