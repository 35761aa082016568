//! Check results of a version (an evaluation, a lint, a human sign-off). The latest result per
//! check name counts; a project's `required_checks` must all be `passed` before a version is
//! deployed (see `deployments::gate`).

use axum::http::StatusCode;
use axum::Json;
use serde_json::json;

use super::deploy_models::{CheckResult, CreateCheck, DataList};
use super::models::check_name;
use super::{version_owner, State};
use crate::audit::{self, Entry};
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::store::now_rfc3339;

/// Largest `details` accepted, serialized.
const MAX_DETAILS: usize = 64 * 1024;

/// `POST /api/v1/prompt_versions/{version_id}/checks` (editor).
pub async fn create(
    state: State,
    caller: Caller,
    ApiPath(version_id): ApiPath<i64>,
    ApiJson(req): ApiJson<CreateCheck>,
) -> ApiResult<(StatusCode, Json<CheckResult>)> {
    let (_, project_id) = version_owner(&state.store.pool, version_id).await?;
    caller.authorize(
        project_id,
        Role::Editor,
        ApiError::not_found("prompt version", version_id),
    )?;
    check_name(&req.name, "name")?;
    let details = req.details.as_ref().map(|d| d.to_string());
    if details.as_ref().is_some_and(|d| d.len() > MAX_DETAILS) {
        return Err(ApiError::unprocessable(
            format!("details is larger than {MAX_DETAILS} bytes"),
            Some("details"),
        ));
    }
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let row = sqlx::query(&format!(
        "INSERT INTO version_checks (version_id, name, status, details, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {}",
        CheckResult::COLUMNS
    ))
    .bind(version_id)
    .bind(&req.name)
    .bind(req.status.as_str())
    .bind(&details)
    .bind(caller.user_id)
    .bind(now_rfc3339())
    .fetch_one(&mut *tx)
    .await?;
    let check = CheckResult::from_row(&row)?;
    let entry = Entry {
        actor: &caller.actor(),
        project_id: Some(project_id),
        action: "version_check.create",
        entity: format!("prompt_version:{version_id}"),
        before: None,
        after: Some(json!({"name": check.name, "status": check.status, "details": check.details})),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(check)))
}

/// `GET /api/v1/prompt_versions/{version_id}/checks` (viewer), oldest first.
pub async fn list(
    state: State,
    caller: Caller,
    ApiPath(version_id): ApiPath<i64>,
) -> ApiResult<Json<DataList<CheckResult>>> {
    let (_, project_id) = version_owner(&state.store.pool, version_id).await?;
    caller.authorize(
        project_id,
        Role::Viewer,
        ApiError::not_found("prompt version", version_id),
    )?;
    let rows = sqlx::query(&format!(
        "SELECT {} FROM version_checks WHERE version_id = $1 ORDER BY id",
        CheckResult::COLUMNS
    ))
    .bind(version_id)
    .fetch_all(&state.store.pool)
    .await?;
    Ok(Json(DataList::of(
        rows.iter()
            .map(CheckResult::from_row)
            .collect::<Result<_, _>>()?,
    )))
}
