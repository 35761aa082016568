//! Environment configs: the gateway config document (YAML, the `--config` format) each
//! environment's managed gateways run. A change is accepted only if every environment's
//! snapshot still passes the gateway's `validate`.

use axum::Json;
use serde_json::json;
use sqlx::Row;

use super::deploy_models::{DataList, EnvironmentConfig, PutEnvironmentConfig};
use super::projects::ensure_project;
use super::State;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::snapshot::{check_environment, validate_project};
use crate::store::now_rfc3339;

/// Largest YAML document accepted (configs and policies).
pub const MAX_YAML: usize = 1024 * 1024;

pub fn check_yaml_size(yaml: &str) -> ApiResult<()> {
    if yaml.len() > MAX_YAML {
        return Err(ApiError::unprocessable(
            format!("yaml is larger than {MAX_YAML} bytes"),
            Some("yaml"),
        ));
    }
    Ok(())
}

/// `PUT /api/v1/projects/{project_id}/environments/{env}/config` (admin).
pub async fn put_config(
    state: State,
    caller: Caller,
    ApiPath((project_id, environment)): ApiPath<(i64, String)>,
    ApiJson(req): ApiJson<PutEnvironmentConfig>,
) -> ApiResult<Json<EnvironmentConfig>> {
    caller.authorize(
        project_id,
        Role::Admin,
        ApiError::not_found("project", project_id),
    )?;
    check_environment(&environment, "environment")?;
    check_yaml_size(&req.yaml)?;
    ensure_project(&state, project_id).await?;
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let before: Option<String> = sqlx::query(
        "SELECT yaml FROM environment_configs WHERE project_id = $1 AND environment = $2",
    )
    .bind(project_id)
    .bind(&environment)
    .fetch_optional(&mut *tx)
    .await?
    .map(|r| r.try_get("yaml"))
    .transpose()?;
    let now = now_rfc3339();
    let sql = if before.is_some() {
        "UPDATE environment_configs SET yaml = $1, updated_by = $2, updated_at = $3 \
         WHERE project_id = $4 AND environment = $5"
    } else {
        "INSERT INTO environment_configs (yaml, updated_by, updated_at, project_id, environment) \
         VALUES ($1, $2, $3, $4, $5)"
    };
    sqlx::query(sql)
        .bind(&req.yaml)
        .bind(caller.user_id)
        .bind(&now)
        .bind(project_id)
        .bind(&environment)
        .execute(&mut *tx)
        .await?;
    validate_project(&mut tx, project_id).await?;
    let entry = Entry {
        actor: &caller.actor(),
        project_id: Some(project_id),
        action: "environment_config.put",
        entity: format!("environment:{project_id}:{environment}"),
        before: before.map(|yaml| json!({"yaml": yaml})),
        after: Some(json!({"yaml": req.yaml})),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    state.snapshot_changed();
    Ok(Json(EnvironmentConfig {
        environment,
        yaml: req.yaml,
        updated_at: now,
    }))
}

/// `GET /api/v1/projects/{project_id}/environments/{env}/config` (viewer).
pub async fn get_config(
    state: State,
    caller: Caller,
    ApiPath((project_id, environment)): ApiPath<(i64, String)>,
) -> ApiResult<Json<EnvironmentConfig>> {
    caller.authorize(
        project_id,
        Role::Viewer,
        ApiError::not_found("project", project_id),
    )?;
    let row = sqlx::query(
        "SELECT environment, yaml, updated_at FROM environment_configs \
         WHERE project_id = $1 AND environment = $2",
    )
    .bind(project_id)
    .bind(&environment)
    .fetch_optional(&state.store.pool)
    .await?
    .ok_or_else(|| {
        ApiError::EnvironmentNotConfigured(format!("environment {environment} has no config"))
    })?;
    Ok(Json(EnvironmentConfig::from_row(&row)?))
}

/// `GET /api/v1/projects/{project_id}/environments` (viewer): every configured environment.
pub async fn list(
    state: State,
    caller: Caller,
    ApiPath(project_id): ApiPath<i64>,
) -> ApiResult<Json<DataList<EnvironmentConfig>>> {
    caller.authorize(
        project_id,
        Role::Viewer,
        ApiError::not_found("project", project_id),
    )?;
    let rows = sqlx::query(
        "SELECT environment, yaml, updated_at FROM environment_configs WHERE project_id = $1 \
         ORDER BY environment",
    )
    .bind(project_id)
    .fetch_all(&state.store.pool)
    .await?;
    Ok(Json(DataList::of(
        rows.iter()
            .map(EnvironmentConfig::from_row)
            .collect::<Result<_, _>>()?,
    )))
}
