//! Labels: a named pointer from a prompt to one of its versions; a label named after an
//! environment is what that environment's gateways serve. `prod` and `staging` are protected:
//! only admins move them, here and through `POST /deployments`. Every move passes the deployment gate and is recorded as a
//! deployment (see `deployments`).

use axum::Json;
use serde_json::json;
use sqlx::{Any, Row, Transaction};

use super::deployments::{deploy_stable, drop_canary, record, Move};
use super::models::{Label, SetLabel};
use super::{authorized_prompt, State};
use crate::audit::{self, Entry};
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::snapshot::validate_project;
use crate::store::now_rfc3339;

const PROTECTED: &[&str] = &["prod", "staging"];

/// The role that may move `label` (the label of the environment of that name): admins for
/// the protected ones, editors for the rest. Labels and deployments share this rule.
pub(super) fn role_to_move(label: &str) -> Role {
    if PROTECTED.contains(&label) {
        Role::Admin
    } else {
        Role::Editor
    }
}

fn check_label(name: &str) -> ApiResult<Role> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        return Err(ApiError::unprocessable(
            "label must be 1 to 32 characters of a-z 0-9 - _",
            Some("label"),
        ));
    }
    Ok(role_to_move(name))
}

/// Points `label` at `version_id` (which must be a version of `prompt_id`), audited. The
/// caller runs the gate.
pub(super) async fn point(
    tx: &mut Transaction<'_, Any>,
    caller: &Caller,
    project_id: i64,
    prompt_id: i64,
    label: &str,
    version_id: i64,
    action: &str,
) -> ApiResult<Label> {
    let row = sqlx::query("SELECT version FROM prompt_versions WHERE id = $1 AND prompt_id = $2")
        .bind(version_id)
        .bind(prompt_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| {
            ApiError::unprocessable(
                format!("version_id {version_id} is not a version of prompt {prompt_id}"),
                Some("version_id"),
            )
        })?;
    let version: i64 = row.try_get("version")?;
    let before: Option<i64> =
        sqlx::query("SELECT version_id FROM labels WHERE prompt_id = $1 AND name = $2")
            .bind(prompt_id)
            .bind(label)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get("version_id"))
            .transpose()?;
    let now = now_rfc3339();
    if before.is_some() {
        sqlx::query("UPDATE labels SET version_id = $1, updated_by = $2, updated_at = $3 WHERE prompt_id = $4 AND name = $5")
            .bind(version_id)
            .bind(caller.user_id)
            .bind(&now)
            .bind(prompt_id)
            .bind(label)
            .execute(&mut **tx)
            .await?;
    } else {
        sqlx::query(
            "INSERT INTO labels (prompt_id, name, version_id, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(prompt_id)
        .bind(label)
        .bind(version_id)
        .bind(caller.user_id)
        .bind(&now)
        .execute(&mut **tx)
        .await?;
    }
    let entry = Entry {
        actor: &caller.actor(),
        project_id: Some(project_id),
        action,
        entity: format!("label:{prompt_id}:{label}"),
        before: before.map(|v| json!({"version_id": v})),
        after: Some(json!({"version_id": version_id})),
    };
    audit::append(tx, &entry).await?;
    Ok(Label {
        name: label.to_owned(),
        version_id,
        version,
        updated_by: caller.user_id,
        updated_at: now,
    })
}

/// `PUT /api/v1/prompts/{prompt_id}/labels/{label}` (editor; admin for prod/staging): a
/// stable deployment to the environment named `label`.
pub async fn set(
    state: State,
    caller: Caller,
    ApiPath((prompt_id, label)): ApiPath<(i64, String)>,
    ApiJson(req): ApiJson<SetLabel>,
) -> ApiResult<Json<Label>> {
    let project_id = authorized_prompt(&state.store.pool, &caller, prompt_id, Role::Viewer).await?;
    let need = check_label(&label)?;
    caller.authorize(project_id, need, ApiError::not_found("prompt", prompt_id))?;
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let deployment = Move {
        project_id,
        prompt_id,
        version_id: req.version_id,
        environment: &label,
        kind: "stable",
        canary_percent: None,
    };
    let (out, _) = deploy_stable(&mut tx, &caller, &deployment).await?;
    tx.commit().await?;
    state.snapshot_changed();
    Ok(Json(out))
}

/// `POST /api/v1/prompts/{prompt_id}/labels/{label}/rollback`: re-points the label to the
/// highest approved version below the one it points to now (409 when there is none), clears
/// its canary and records a `rollback` deployment. The target passed the gate when approved;
/// checks are not re-run, so a rollback works in an emergency.
pub async fn rollback(
    state: State,
    caller: Caller,
    ApiPath((prompt_id, label)): ApiPath<(i64, String)>,
) -> ApiResult<Json<Label>> {
    let project_id = authorized_prompt(&state.store.pool, &caller, prompt_id, Role::Viewer).await?;
    let need = check_label(&label)?;
    caller.authorize(project_id, need, ApiError::not_found("prompt", prompt_id))?;
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let current: i64 = sqlx::query(
        "SELECT v.version FROM labels l JOIN prompt_versions v ON v.id = l.version_id \
         WHERE l.prompt_id = $1 AND l.name = $2",
    )
    .bind(prompt_id)
    .bind(&label)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("label", &label))?
    .try_get("version")?;
    let previous: i64 = sqlx::query(
        "SELECT id FROM prompt_versions WHERE prompt_id = $1 AND version < $2 AND status = 'approved' \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(prompt_id)
    .bind(current)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::Conflict(format!("no approved version before version {current} to roll back to")))?
    .try_get("id")?;
    let out = point(
        &mut tx,
        &caller,
        project_id,
        prompt_id,
        &label,
        previous,
        "label.rollback",
    )
    .await?;
    drop_canary(&mut tx, prompt_id, &label).await?;
    let rollback = Move {
        project_id,
        prompt_id,
        version_id: previous,
        environment: &label,
        kind: "rollback",
        canary_percent: None,
    };
    record(&mut tx, &caller, &rollback).await?;
    validate_project(&mut tx, project_id).await?;
    tx.commit().await?;
    state.snapshot_changed();
    Ok(Json(out))
}
