//! API keys: create, list, revoke, rotate. A key's secret is returned once, at creation or
//! rotation; the store keeps its sha256 only, the audit log only its public prefix.

use axum::http::StatusCode;
use axum::Json;
use serde_json::json;
use sqlx::{Any, Row, Transaction};

use super::models::{check_name, ApiKeyInfo, CreateKey, CreatedKey};
use super::State;
use crate::audit::{self, Entry};
use crate::auth::{self, Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::store::{format_rfc3339, now_rfc3339};

fn expiry(days: Option<i64>) -> ApiResult<Option<String>> {
    let Some(days) = days else { return Ok(None) };
    if !(1..=3650).contains(&days) {
        return Err(ApiError::unprocessable(
            "expires_in_days must be between 1 and 3650",
            Some("expires_in_days"),
        ));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    Ok(Some(format_rfc3339(now + days * 86_400, 0)))
}

struct KeySpec<'a> {
    name: &'a str,
    user_id: i64,
    project_id: i64,
    role: &'a str,
    expires_at: Option<String>,
}

async fn insert_key(tx: &mut Transaction<'_, Any>, spec: &KeySpec<'_>) -> ApiResult<CreatedKey> {
    let key = auth::new_key()?;
    let row = sqlx::query(&format!(
        "INSERT INTO api_keys (prefix, hash, name, user_id, project_id, role, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {}",
        ApiKeyInfo::COLUMNS
    ))
    .bind(&key.prefix)
    .bind(&key.hash)
    .bind(spec.name)
    .bind(spec.user_id)
    .bind(spec.project_id)
    .bind(spec.role)
    .bind(now_rfc3339())
    .bind(&spec.expires_at)
    .fetch_one(&mut **tx)
    .await?;
    Ok(CreatedKey {
        key: key.secret,
        info: ApiKeyInfo::from_row(&row)?,
    })
}

fn audit_view(info: &ApiKeyInfo) -> serde_json::Value {
    json!({"prefix": info.prefix, "name": info.name, "user_id": info.user_id,
           "project_id": info.project_id, "role": info.role, "expires_at": info.expires_at,
           "revoked_at": info.revoked_at})
}

/// `POST /api/v1/projects/{project_id}/api_keys` (admin). The key's role may not exceed the
/// user's membership role in the project.
pub async fn create(
    state: State,
    caller: Caller,
    ApiPath(project_id): ApiPath<i64>,
    ApiJson(req): ApiJson<CreateKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    caller.authorize(
        project_id,
        Role::Admin,
        ApiError::not_found("project", project_id),
    )?;
    check_name(&req.name, "name")?;
    let expires_at = expiry(req.expires_in_days)?;
    let member: Option<String> =
        sqlx::query("SELECT role FROM memberships WHERE project_id = $1 AND user_id = $2")
            .bind(project_id)
            .bind(req.user_id)
            .fetch_optional(&state.store.pool)
            .await?
            .map(|r| r.try_get("role"))
            .transpose()?;
    let member = member.as_deref().and_then(Role::parse).ok_or_else(|| {
        ApiError::unprocessable("user_id is not a member of this project", Some("user_id"))
    })?;
    if req.role > member {
        return Err(ApiError::unprocessable(
            format!(
                "role exceeds the user's membership role ({})",
                member.as_str()
            ),
            Some("role"),
        ));
    }
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let spec = KeySpec {
        name: &req.name,
        user_id: req.user_id,
        project_id,
        role: req.role.as_str(),
        expires_at,
    };
    let created = insert_key(&mut tx, &spec).await?;
    let entry = Entry {
        actor: &caller.actor(),
        project_id: Some(project_id),
        action: "api_key.create",
        entity: format!("api_key:{}", created.info.id),
        before: None,
        after: Some(audit_view(&created.info)),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /api/v1/projects/{project_id}/api_keys` (admin): never shows secrets.
pub async fn list(
    state: State,
    caller: Caller,
    ApiPath(project_id): ApiPath<i64>,
) -> ApiResult<Json<Vec<ApiKeyInfo>>> {
    caller.authorize(
        project_id,
        Role::Admin,
        ApiError::not_found("project", project_id),
    )?;
    let rows = sqlx::query(&format!(
        "SELECT {} FROM api_keys WHERE project_id = $1 ORDER BY id",
        ApiKeyInfo::COLUMNS
    ))
    .bind(project_id)
    .fetch_all(&state.store.pool)
    .await?;
    Ok(Json(
        rows.iter()
            .map(ApiKeyInfo::from_row)
            .collect::<Result<_, _>>()?,
    ))
}

/// Loads a key for an admin of its project (org-wide keys: org admins only).
async fn load_for_admin(
    tx: &mut Transaction<'_, Any>,
    caller: &Caller,
    key_id: i64,
) -> ApiResult<ApiKeyInfo> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM api_keys WHERE id = $1",
        ApiKeyInfo::COLUMNS
    ))
    .bind(key_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| ApiError::not_found("api key", key_id))?;
    let info = ApiKeyInfo::from_row(&row)?;
    match info.project_id {
        Some(pid) => caller.authorize(pid, Role::Admin, ApiError::not_found("api key", key_id))?,
        None if caller.org_admin => {}
        None => return Err(ApiError::not_found("api key", key_id)),
    }
    if info.revoked_at.is_some() {
        return Err(ApiError::Conflict(format!(
            "api key {key_id} is already revoked"
        )));
    }
    Ok(info)
}

async fn mark_revoked(tx: &mut Transaction<'_, Any>, key_id: i64) -> ApiResult<String> {
    let now = now_rfc3339();
    sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2")
        .bind(&now)
        .bind(key_id)
        .execute(&mut **tx)
        .await?;
    Ok(now)
}

/// `POST /api/v1/api_keys/{key_id}/revoke` (admin).
pub async fn revoke(
    state: State,
    caller: Caller,
    ApiPath(key_id): ApiPath<i64>,
) -> ApiResult<Json<ApiKeyInfo>> {
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let mut info = load_for_admin(&mut tx, &caller, key_id).await?;
    let before = audit_view(&info);
    info.revoked_at = Some(mark_revoked(&mut tx, key_id).await?);
    let entry = Entry {
        actor: &caller.actor(),
        project_id: info.project_id,
        action: "api_key.revoke",
        entity: format!("api_key:{key_id}"),
        before: Some(before),
        after: Some(audit_view(&info)),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(Json(info))
}

/// `POST /api/v1/api_keys/{key_id}/rotate` (admin): revokes the key and issues a new one with
/// the same name, user, project, role and expiry; the new secret is shown once.
pub async fn rotate(
    state: State,
    caller: Caller,
    ApiPath(key_id): ApiPath<i64>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let old = load_for_admin(&mut tx, &caller, key_id).await?;
    let Some(project_id) = old.project_id else {
        return Err(ApiError::Conflict(
            "org-wide keys cannot be rotated here".into(),
        ));
    };
    mark_revoked(&mut tx, key_id).await?;
    let spec = KeySpec {
        name: &old.name,
        user_id: old.user_id,
        project_id,
        role: &old.role,
        expires_at: old.expires_at.clone(),
    };
    let created = insert_key(&mut tx, &spec).await?;
    let entry = Entry {
        actor: &caller.actor(),
        project_id: Some(project_id),
        action: "api_key.rotate",
        entity: format!("api_key:{key_id}"),
        before: Some(audit_view(&old)),
        after: Some(audit_view(&created.info)),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}
