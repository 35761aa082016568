//! The approval workflow: draft → pending (submit) → approved (enough approvals) or
//! rejected (any rejection). Reviewers are project admins other than the version's author.

use axum::Json;
use serde_json::json;
use sqlx::{Any, Row, Transaction};

use super::models::{Review, Version};
use super::{version_owner, State};
use crate::audit::{self, Entry};
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::store::now_rfc3339;

async fn load(tx: &mut Transaction<'_, Any>, id: i64) -> ApiResult<Version> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM prompt_versions WHERE id = $1",
        Version::COLUMNS
    ))
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Version::from_row(&row)?)
}

async fn set_status(tx: &mut Transaction<'_, Any>, id: i64, status: &str) -> ApiResult<()> {
    sqlx::query("UPDATE prompt_versions SET status = $1 WHERE id = $2")
        .bind(status)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// `POST /api/v1/prompt_versions/{version_id}/submit_for_approval` (editor): draft → pending.
pub async fn submit(
    state: State,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Version>> {
    let (_, project_id) = version_owner(&state.store.pool, id).await?;
    caller.authorize(
        project_id,
        Role::Editor,
        ApiError::not_found("prompt version", id),
    )?;
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let mut version = load(&mut tx, id).await?;
    if version.status != "draft" {
        return Err(ApiError::Conflict(format!(
            "only a draft can be submitted; version {id} is {}",
            version.status
        )));
    }
    set_status(&mut tx, id, "pending").await?;
    let entry = Entry {
        actor: &caller.actor(),
        project_id: Some(project_id),
        action: "prompt_version.submit",
        entity: format!("prompt_version:{id}"),
        before: Some(json!({"status": version.status})),
        after: Some(json!({"status": "pending"})),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    version.status = "pending".into();
    Ok(Json(version))
}

async fn decide(
    state: State,
    caller: Caller,
    id: i64,
    comment: String,
    approve: bool,
) -> ApiResult<Json<Version>> {
    let (_, project_id) = version_owner(&state.store.pool, id).await?;
    caller.authorize(
        project_id,
        Role::Admin,
        ApiError::not_found("prompt version", id),
    )?;
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let mut version = load(&mut tx, id).await?;
    if version.created_by == caller.user_id {
        return Err(ApiError::Forbidden(
            "the author of a version cannot review it".into(),
        ));
    }
    if version.status != "pending" {
        return Err(ApiError::Conflict(format!(
            "only a pending version can be reviewed; version {id} is {}",
            version.status
        )));
    }
    let already =
        sqlx::query("SELECT id FROM approvals WHERE version_id = $1 AND reviewer_id = $2")
            .bind(id)
            .bind(caller.user_id)
            .fetch_optional(&mut *tx)
            .await?;
    if already.is_some() {
        return Err(ApiError::Conflict(
            "this reviewer already reviewed the version".into(),
        ));
    }
    let decision = if approve { "approve" } else { "reject" };
    sqlx::query(
        "INSERT INTO approvals (version_id, reviewer_id, decision, comment, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(caller.user_id)
    .bind(decision)
    .bind(&comment)
    .bind(now_rfc3339())
    .execute(&mut *tx)
    .await?;
    let new_status = if approve {
        let required: i64 = sqlx::query("SELECT required_approvals FROM projects WHERE id = $1")
            .bind(project_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("required_approvals")?;
        let approvals: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM approvals WHERE version_id = $1 AND decision = 'approve'",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        if approvals >= required {
            "approved"
        } else {
            "pending"
        }
    } else {
        "rejected"
    };
    if new_status != version.status {
        set_status(&mut tx, id, new_status).await?;
    }
    let entry = Entry {
        actor: &caller.actor(),
        project_id: Some(project_id),
        action: if approve {
            "prompt_version.approve"
        } else {
            "prompt_version.reject"
        },
        entity: format!("prompt_version:{id}"),
        before: Some(json!({"status": version.status})),
        after: Some(json!({"status": new_status, "decision": decision, "comment": comment})),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    version.status = new_status.into();
    Ok(Json(version))
}

/// `POST /api/v1/prompt_versions/{version_id}/approve` (admin, not the author).
pub async fn approve(
    state: State,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<Review>,
) -> ApiResult<Json<Version>> {
    decide(state, caller, id, req.comment.unwrap_or_default(), true).await
}

/// `POST /api/v1/prompt_versions/{version_id}/reject` (admin, not the author; comment required).
pub async fn reject(
    state: State,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<Review>,
) -> ApiResult<Json<Version>> {
    let comment = req.comment.unwrap_or_default();
    if comment.trim().is_empty() {
        return Err(ApiError::unprocessable(
            "a rejection needs a comment",
            Some("comment"),
        ));
    }
    decide(state, caller, id, comment, false).await
}
