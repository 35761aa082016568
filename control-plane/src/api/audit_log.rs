//! `GET /api/v1/audit`: the audit log, oldest first, paged by `after` (a seq) and `limit`.

use axum::Json;
use serde::Deserialize;

use super::State;
use crate::audit::{Record, COLUMNS};
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default)]
    pub after: Option<i64>,
    #[serde(default)]
    pub limit: Option<i64>,
}

/// Org admins see every record; a project admin sees its project's records.
pub async fn list(
    state: State,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<Record>>> {
    let after = q.after.unwrap_or(0);
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rows = if caller.org_admin {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&state.store.pool)
        .await?
    } else {
        let project_id = caller
            .project_id
            .ok_or_else(|| ApiError::Forbidden("no project scope".into()))?;
        caller.authorize(
            project_id,
            Role::Admin,
            ApiError::not_found("project", project_id),
        )?;
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_log WHERE project_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        ))
        .bind(project_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&state.store.pool)
        .await?
    };
    Ok(Json(
        rows.iter()
            .map(Record::from_row)
            .collect::<Result<_, _>>()?,
    ))
}
