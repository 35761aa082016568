//! Projects.

use axum::http::StatusCode;
use axum::Json;
use serde_json::json;
use sqlx::Row;

use super::models::{check_name, CreateProject, Project, UpdateProject};
use super::State;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::store::now_rfc3339;

pub(super) async fn org_of(state: &State, caller: &Caller) -> ApiResult<i64> {
    let row = sqlx::query("SELECT org_id FROM users WHERE id = $1")
        .bind(caller.user_id)
        .fetch_one(&state.store.pool)
        .await?;
    Ok(row.try_get("org_id")?)
}

/// The id of the project `name_or_id` names in the caller's organization (404 otherwise).
pub(super) async fn resolve_project(
    state: &State,
    caller: &Caller,
    name_or_id: &str,
) -> ApiResult<i64> {
    let not_found = || ApiError::not_found("project", name_or_id);
    let org = org_of(state, caller).await?;
    let by_name = sqlx::query("SELECT id FROM projects WHERE org_id = $1 AND name = $2")
        .bind(org)
        .bind(name_or_id)
        .fetch_optional(&state.store.pool)
        .await?;
    let row = match (by_name, name_or_id.parse::<i64>()) {
        (Some(row), _) => row,
        (None, Ok(id)) => sqlx::query("SELECT id FROM projects WHERE org_id = $1 AND id = $2")
            .bind(org)
            .bind(id)
            .fetch_optional(&state.store.pool)
            .await?
            .ok_or_else(not_found)?,
        (None, Err(_)) => return Err(not_found()),
    };
    Ok(row.try_get("id")?)
}

/// 404 unless the project exists (org admins pass `authorize` for any id).
pub(super) async fn ensure_project(state: &State, project_id: i64) -> ApiResult<()> {
    sqlx::query("SELECT id FROM projects WHERE id = $1")
        .bind(project_id)
        .fetch_optional(&state.store.pool)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::not_found("project", project_id))
}

/// `POST /api/v1/projects` (org admin).
pub async fn create(
    state: State,
    caller: Caller,
    ApiJson(req): ApiJson<CreateProject>,
) -> ApiResult<(StatusCode, Json<Project>)> {
    caller.require_org_admin()?;
    check_name(&req.name, "name")?;
    let required = req.required_approvals.unwrap_or(1);
    check_required(required)?;
    let org_id = org_of(&state, &caller).await?;
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let row = sqlx::query(&format!(
        "INSERT INTO projects (org_id, name, description, required_approvals, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {}",
        Project::COLUMNS
    ))
    .bind(org_id)
    .bind(&req.name)
    .bind(req.description.unwrap_or_default())
    .bind(required)
    .bind(now_rfc3339())
    .fetch_one(&mut *tx)
    .await?;
    let project = Project::from_row(&row)?;
    let entry = Entry {
        actor: &caller.actor(),
        project_id: Some(project.id),
        action: "project.create",
        entity: format!("project:{}", project.id),
        before: None,
        after: Some(json!({"name": project.name, "required_approvals": required})),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(project)))
}

/// `GET /api/v1/projects`: all projects for an org admin, the key's own project otherwise.
pub async fn list(state: State, caller: Caller) -> ApiResult<Json<Vec<Project>>> {
    let sql = format!("SELECT {} FROM projects", Project::COLUMNS);
    let rows = match (caller.org_admin, caller.project_id) {
        (true, _) => {
            sqlx::query(&format!("{sql} ORDER BY id"))
                .fetch_all(&state.store.pool)
                .await?
        }
        (false, Some(pid)) => {
            sqlx::query(&format!("{sql} WHERE id = $1"))
                .bind(pid)
                .fetch_all(&state.store.pool)
                .await?
        }
        (false, None) => {
            // An OIDC user with several projects sees each of them.
            let mut rows = Vec::new();
            for (pid, _) in &caller.project_roles {
                rows.extend(
                    sqlx::query(&format!("{sql} WHERE id = $1"))
                        .bind(*pid)
                        .fetch_optional(&state.store.pool)
                        .await?,
                );
            }
            rows
        }
    };
    let projects = rows
        .iter()
        .map(Project::from_row)
        .collect::<Result<_, _>>()?;
    Ok(Json(projects))
}

/// `GET /api/v1/projects/{project_id}` (viewer).
pub async fn get(
    state: State,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Project>> {
    caller.authorize(id, Role::Viewer, ApiError::not_found("project", id))?;
    let row = sqlx::query(&format!(
        "SELECT {} FROM projects WHERE id = $1",
        Project::COLUMNS
    ))
    .bind(id)
    .fetch_optional(&state.store.pool)
    .await?
    .ok_or_else(|| ApiError::not_found("project", id))?;
    Ok(Json(Project::from_row(&row)?))
}

fn check_required(required: i64) -> ApiResult<()> {
    if (1..=10).contains(&required) {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            "required_approvals must be between 1 and 10",
            Some("required_approvals"),
        ))
    }
}

/// At most this many required checks per project.
const MAX_REQUIRED_CHECKS: usize = 32;

/// Check names are names; duplicates collapse, order is kept.
fn clean_checks(checks: Vec<String>) -> ApiResult<Vec<String>> {
    if checks.len() > MAX_REQUIRED_CHECKS {
        return Err(ApiError::unprocessable(
            format!("required_checks holds at most {MAX_REQUIRED_CHECKS} names"),
            Some("required_checks"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(checks.len());
    for name in checks {
        check_name(&name, "required_checks")?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// `PATCH /api/v1/projects/{project_id}` (admin): description, required approvals, required
/// checks and payload capture. A new approval count applies from the next review on; the
/// deployment gate reads approvals and checks when a version is deployed.
pub async fn update(
    state: State,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<UpdateProject>,
) -> ApiResult<Json<Project>> {
    caller.authorize(id, Role::Admin, ApiError::not_found("project", id))?;
    if let Some(r) = req.required_approvals {
        check_required(r)?;
    }
    let checks = req.required_checks.map(clean_checks).transpose()?;
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let sql = format!("SELECT {} FROM projects WHERE id = $1", Project::COLUMNS);
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::not_found("project", id))?;
    let before = Project::from_row(&row)?;
    let description = req
        .description
        .unwrap_or_else(|| before.description.clone());
    let required = req.required_approvals.unwrap_or(before.required_approvals);
    let checks = checks.unwrap_or_else(|| before.required_checks.clone());
    let capture = req.capture_payloads.unwrap_or(before.capture_payloads);
    sqlx::query(
        "UPDATE projects SET description = $1, required_approvals = $2, required_checks = $3, \
         capture_payloads = $4 WHERE id = $5",
    )
    .bind(&description)
    .bind(required)
    .bind(serde_json::Value::from(checks.clone()).to_string())
    .bind(i64::from(capture))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let entry = Entry {
        actor: &caller.actor(),
        project_id: Some(id),
        action: "project.update",
        entity: format!("project:{id}"),
        before: Some(
            json!({"description": before.description, "required_approvals": before.required_approvals,
                   "required_checks": before.required_checks, "capture_payloads": before.capture_payloads}),
        ),
        after: Some(
            json!({"description": description, "required_approvals": required,
                           "required_checks": checks, "capture_payloads": capture}),
        ),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    state.snapshot_changed();
    Ok(Json(Project {
        description,
        required_approvals: required,
        required_checks: checks,
        capture_payloads: capture,
        ..before
    }))
}
