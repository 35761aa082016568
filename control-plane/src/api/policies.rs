//! Routing policy documents of a project, merged (in name order) into every environment's
//! snapshot. A policy is accepted only if every environment's snapshot still validates; with
//! no environment configured yet, the document alone must parse as a policy file.

use axum::http::StatusCode;
use axum::Json;
use promptgate::config::load::parse_yaml;
use promptgate::config::policy_files::merge_documents;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use super::deploy_models::{CreatePolicy, DataList, Policy};
use super::environments::check_yaml_size;
use super::models::check_name;
use super::projects::ensure_project;
use super::State;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::snapshot::validate_project;
use crate::store::now_rfc3339;

/// With environments: the full snapshot check. Without: the document must parse and merge
/// into an empty config (references to providers are checked once a config exists).
async fn validate_with_policy(
    conn: &mut AnyConnection,
    project_id: i64,
    name: &str,
    yaml: &str,
) -> ApiResult<()> {
    let configured: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM environment_configs WHERE project_id = $1")
            .bind(project_id)
            .fetch_one(&mut *conn)
            .await?
            .try_get("n")?;
    if configured > 0 {
        return validate_project(conn, project_id).await;
    }
    let mut empty = parse_yaml("providers: {}")
        .map_err(|e| ApiError::Internal(format!("empty config: {e}")))?;
    merge_documents(&mut empty, "config", [(format!("policy `{name}`"), yaml)])
        .map_err(|e| ApiError::unprocessable(e.to_string(), Some("yaml")))
}

/// `POST /api/v1/policies` (editor).
pub async fn create(
    state: State,
    caller: Caller,
    ApiJson(req): ApiJson<CreatePolicy>,
) -> ApiResult<(StatusCode, Json<Policy>)> {
    caller.authorize(
        req.project_id,
        Role::Editor,
        ApiError::not_found("project", req.project_id),
    )?;
    check_name(&req.name, "name")?;
    check_yaml_size(&req.yaml)?;
    ensure_project(&state, req.project_id).await?;
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let row = sqlx::query(&format!(
        "INSERT INTO policies (project_id, name, yaml, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {}",
        Policy::COLUMNS
    ))
    .bind(req.project_id)
    .bind(&req.name)
    .bind(&req.yaml)
    .bind(caller.user_id)
    .bind(now_rfc3339())
    .fetch_one(&mut *tx)
    .await?;
    let policy = Policy::from_row(&row)?;
    validate_with_policy(&mut tx, req.project_id, &req.name, &req.yaml).await?;
    let entry = Entry {
        actor: &caller.actor(),
        project_id: Some(req.project_id),
        action: "policy.create",
        entity: format!("policy:{}", policy.id),
        before: None,
        after: Some(json!({"name": policy.name, "yaml": policy.yaml})),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    state.snapshot_changed();
    Ok((StatusCode::CREATED, Json(policy)))
}

/// `GET /api/v1/projects/{project_id}/policies` (viewer), in name order.
pub async fn list(
    state: State,
    caller: Caller,
    ApiPath(project_id): ApiPath<i64>,
) -> ApiResult<Json<DataList<Policy>>> {
    caller.authorize(
        project_id,
        Role::Viewer,
        ApiError::not_found("project", project_id),
    )?;
    let rows = sqlx::query(&format!(
        "SELECT {} FROM policies WHERE project_id = $1 ORDER BY name",
        Policy::COLUMNS
    ))
    .bind(project_id)
    .fetch_all(&state.store.pool)
    .await?;
    Ok(Json(DataList::of(
        rows.iter()
            .map(Policy::from_row)
            .collect::<Result<_, _>>()?,
    )))
}

/// `DELETE /api/v1/policies/{policy_id}` (editor): refused (422) while a route still uses it.
pub async fn delete(
    state: State,
    caller: Caller,
    ApiPath(policy_id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let row = sqlx::query(&format!(
        "SELECT {} FROM policies WHERE id = $1",
        Policy::COLUMNS
    ))
    .bind(policy_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("policy", policy_id))?;
    let policy = Policy::from_row(&row)?;
    caller.authorize(
        policy.project_id,
        Role::Editor,
        ApiError::not_found("policy", policy_id),
    )?;
    sqlx::query("DELETE FROM policies WHERE id = $1")
        .bind(policy_id)
        .execute(&mut *tx)
        .await?;
    validate_project(&mut tx, policy.project_id).await?;
    let entry = Entry {
        actor: &caller.actor(),
        project_id: Some(policy.project_id),
        action: "policy.delete",
        entity: format!("policy:{policy_id}"),
        before: Some(json!({"name": policy.name, "yaml": policy.yaml})),
        after: None,
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    state.snapshot_changed();
    Ok(StatusCode::NO_CONTENT)
}
