//! Deployments: pointing the label named after an environment at a version (stable), giving
//! a newer version a share of its traffic (canary), clearing that canary, and rolling back.
//! Every move passes the gate (approved by enough non-authors, required checks passed), is
//! recorded, audited, and validated against every environment's snapshot before it commits.

use axum::http::StatusCode;
use axum::Json;
use serde_json::json;
use sqlx::{Any, AnyConnection, Row, Transaction};

use super::deploy_models::{CreateDeployment, DataList, Deployment};
use super::labels::{point, role_to_move};
use super::models::Label;
use super::{authorized_prompt, version_owner, State};
use crate::audit::{self, Entry};
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::snapshot::{check_environment, validate_project};
use crate::store::now_rfc3339;

/// Refuses (409, naming everything missing) unless the version is approved by at least the
/// project's required number of reviewers other than its author, and every required check's
/// latest result is `passed`.
pub async fn gate(conn: &mut AnyConnection, version_id: i64) -> ApiResult<()> {
    let row = sqlx::query(
        "SELECT v.version, v.status, v.created_by, pr.required_approvals, pr.required_checks \
         FROM prompt_versions v JOIN prompts p ON p.id = v.prompt_id \
         JOIN projects pr ON pr.id = p.project_id WHERE v.id = $1",
    )
    .bind(version_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found("prompt version", version_id))?;
    let version: i64 = row.try_get("version")?;
    let status: String = row.try_get("status")?;
    let author: i64 = row.try_get("created_by")?;
    let required: i64 = row.try_get("required_approvals")?;
    let checks: String = row.try_get("required_checks")?;
    let checks: Vec<String> = serde_json::from_str(&checks)
        .map_err(|e| ApiError::Internal(format!("stored required_checks: {e}")))?;
    let mut missing = Vec::new();
    if status != "approved" {
        missing.push(format!("it is {status}, not approved"));
    }
    let approvals: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM approvals WHERE version_id = $1 AND decision = 'approve' \
         AND reviewer_id <> $2",
    )
    .bind(version_id)
    .bind(author)
    .fetch_one(&mut *conn)
    .await?
    .try_get("n")?;
    if approvals < required {
        missing.push(format!(
            "it has {approvals} of {required} required approvals by reviewers other than its author"
        ));
    }
    for name in &checks {
        let latest: Option<String> = sqlx::query(
            "SELECT status FROM version_checks WHERE version_id = $1 AND name = $2 \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(version_id)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get("status"))
        .transpose()?;
        match latest.as_deref() {
            Some("passed") => {}
            Some(other) => missing.push(format!("required check `{name}` {other}")),
            None => missing.push(format!("required check `{name}` has no result")),
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Conflict(format!(
            "version {version} cannot be deployed: {}",
            missing.join("; ")
        )))
    }
}

/// One deployment to record.
pub struct Move<'a> {
    pub project_id: i64,
    pub prompt_id: i64,
    pub version_id: i64,
    pub environment: &'a str,
    pub kind: &'a str,
    pub canary_percent: Option<i64>,
}

/// Inserts the deployment row and its audit record.
pub async fn record(
    tx: &mut Transaction<'_, Any>,
    caller: &Caller,
    m: &Move<'_>,
) -> ApiResult<Deployment> {
    let row = sqlx::query(&format!(
        "INSERT INTO deployments (prompt_id, prompt_version_id, version, environment, kind, \
         canary_percent, created_by, created_at) \
         SELECT $1, id, version, $2, $3, $4, $5, $6 FROM prompt_versions WHERE id = $7 \
         RETURNING {}",
        Deployment::COLUMNS
    ))
    .bind(m.prompt_id)
    .bind(m.environment)
    .bind(m.kind)
    .bind(m.canary_percent)
    .bind(caller.user_id)
    .bind(now_rfc3339())
    .bind(m.version_id)
    .fetch_one(&mut **tx)
    .await?;
    let deployment = Deployment::from_row(&row)?;
    let entry = Entry {
        actor: &caller.actor(),
        project_id: Some(m.project_id),
        action: "deployment.create",
        entity: format!("deployment:{}", deployment.id),
        before: None,
        after: Some(
            json!({"prompt_id": m.prompt_id, "prompt_version_id": m.version_id,
                           "version": deployment.version, "environment": m.environment,
                           "kind": m.kind, "canary_percent": m.canary_percent}),
        ),
    };
    audit::append(tx, &entry).await?;
    Ok(deployment)
}

/// Removes the canary of (prompt, label); returns its version id when there was one.
pub async fn drop_canary(
    tx: &mut Transaction<'_, Any>,
    prompt_id: i64,
    label: &str,
) -> ApiResult<Option<i64>> {
    let current: Option<i64> =
        sqlx::query("SELECT version_id FROM canaries WHERE prompt_id = $1 AND label = $2")
            .bind(prompt_id)
            .bind(label)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get("version_id"))
            .transpose()?;
    if current.is_some() {
        sqlx::query("DELETE FROM canaries WHERE prompt_id = $1 AND label = $2")
            .bind(prompt_id)
            .bind(label)
            .execute(&mut **tx)
            .await?;
    }
    Ok(current)
}

/// A stable deployment: gate, label → version, canary cleared, recorded, validated.
pub async fn deploy_stable(
    tx: &mut Transaction<'_, Any>,
    caller: &Caller,
    m: &Move<'_>,
) -> ApiResult<(Label, Deployment)> {
    let label = point(
        tx,
        caller,
        m.project_id,
        m.prompt_id,
        m.environment,
        m.version_id,
        "label.set",
    )
    .await?;
    gate(tx, m.version_id).await?;
    drop_canary(tx, m.prompt_id, m.environment).await?;
    let deployment = record(tx, caller, m).await?;
    validate_project(tx, m.project_id).await?;
    Ok((label, deployment))
}

async fn deploy_canary(
    tx: &mut Transaction<'_, Any>,
    caller: &Caller,
    m: &Move<'_>,
    percent: i64,
) -> ApiResult<Deployment> {
    let stable: Option<i64> =
        sqlx::query("SELECT version_id FROM labels WHERE prompt_id = $1 AND name = $2")
            .bind(m.prompt_id)
            .bind(m.environment)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get("version_id"))
            .transpose()?;
    let Some(stable) = stable else {
        return Err(ApiError::Conflict(format!(
            "environment {} has no stable version of this prompt yet; deploy one before a canary",
            m.environment
        )));
    };
    if stable == m.version_id {
        return Err(ApiError::Conflict(format!(
            "version {} is already the stable version in {}",
            m.version_id, m.environment
        )));
    }
    gate(tx, m.version_id).await?;
    let before = drop_canary(tx, m.prompt_id, m.environment).await?;
    sqlx::query(
        "INSERT INTO canaries (prompt_id, label, version_id, percent, updated_by, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(m.prompt_id)
    .bind(m.environment)
    .bind(m.version_id)
    .bind(percent)
    .bind(caller.user_id)
    .bind(now_rfc3339())
    .execute(&mut **tx)
    .await?;
    let entry = Entry {
        actor: &caller.actor(),
        project_id: Some(m.project_id),
        action: "canary.set",
        entity: format!("canary:{}:{}", m.prompt_id, m.environment),
        before: before.map(|v| json!({"version_id": v})),
        after: Some(json!({"version_id": m.version_id, "percent": percent})),
    };
    audit::append(tx, &entry).await?;
    let deployment = record(tx, caller, m).await?;
    validate_project(tx, m.project_id).await?;
    Ok(deployment)
}

async fn clear_canary(
    tx: &mut Transaction<'_, Any>,
    caller: &Caller,
    m: &Move<'_>,
) -> ApiResult<Deployment> {
    let Some(cleared) = drop_canary(tx, m.prompt_id, m.environment).await? else {
        return Err(ApiError::Conflict(format!(
            "environment {} has no canary of this prompt to clear",
            m.environment
        )));
    };
    let entry = Entry {
        actor: &caller.actor(),
        project_id: Some(m.project_id),
        action: "canary.clear",
        entity: format!("canary:{}:{}", m.prompt_id, m.environment),
        before: Some(json!({"version_id": cleared})),
        after: None,
    };
    audit::append(tx, &entry).await?;
    let deployment = record(
        tx,
        caller,
        &Move {
            version_id: cleared,
            ..*m
        },
    )
    .await?;
    validate_project(tx, m.project_id).await?;
    Ok(deployment)
}

/// `POST /api/v1/deployments` (editor; admin for `prod` and `staging`): stable (no percent
/// or 100), canary (1..=99) or clear the canary (0).
pub async fn create(
    state: State,
    caller: Caller,
    ApiJson(req): ApiJson<CreateDeployment>,
) -> ApiResult<(StatusCode, Json<Deployment>)> {
    let version_id = req.prompt_version_id;
    let (prompt_id, project_id) = version_owner(&state.store.pool, version_id).await?;
    caller.authorize(
        project_id,
        Role::Editor,
        ApiError::not_found("prompt version", version_id),
    )?;
    check_environment(&req.environment, "environment")?;
    caller.authorize(
        project_id,
        role_to_move(&req.environment),
        ApiError::not_found("prompt version", version_id),
    )?;
    let percent = req.canary_percent.unwrap_or(100);
    if !(0..=100).contains(&percent) {
        return Err(ApiError::unprocessable(
            "canary_percent must be between 0 and 100",
            Some("canary_percent"),
        ));
    }
    let kind = match percent {
        100 => "stable",
        0 => "canary_cleared",
        _ => "canary",
    };
    let m = Move {
        project_id,
        prompt_id,
        version_id,
        environment: &req.environment,
        kind,
        canary_percent: (kind != "stable").then_some(percent),
    };
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let deployment = match kind {
        "stable" => deploy_stable(&mut tx, &caller, &m).await?.1,
        "canary" => deploy_canary(&mut tx, &caller, &m, percent).await?,
        _ => clear_canary(&mut tx, &caller, &m).await?,
    };
    tx.commit().await?;
    state.snapshot_changed();
    Ok((StatusCode::CREATED, Json(deployment)))
}

/// `GET /api/v1/prompts/{prompt_id}/deployments` (viewer), newest first.
pub async fn list(
    state: State,
    caller: Caller,
    ApiPath(prompt_id): ApiPath<i64>,
) -> ApiResult<Json<DataList<Deployment>>> {
    authorized_prompt(&state.store.pool, &caller, prompt_id, Role::Viewer).await?;
    let rows = sqlx::query(&format!(
        "SELECT {} FROM deployments WHERE prompt_id = $1 ORDER BY id DESC",
        Deployment::COLUMNS
    ))
    .bind(prompt_id)
    .fetch_all(&state.store.pool)
    .await?;
    Ok(Json(DataList::of(
        rows.iter()
            .map(Deployment::from_row)
            .collect::<Result<_, _>>()?,
    )))
}
