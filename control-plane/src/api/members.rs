//! Users and project memberships.

use axum::http::StatusCode;
use axum::Json;
use serde_json::json;
use sqlx::Row;

use super::models::{check_name, CreateUser, Membership, PutMember, User};
use super::projects::{ensure_project, org_of};
use super::State;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::store::now_rfc3339;

/// `POST /api/v1/users` (org admin).
pub async fn create_user(
    state: State,
    caller: Caller,
    ApiJson(req): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    caller.require_org_admin()?;
    check_name(&req.name, "name")?;
    let org_id = org_of(&state, &caller).await?;
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let row = sqlx::query(&format!(
        "INSERT INTO users (org_id, name, email, is_org_admin, created_at) VALUES ($1, $2, $3, 0, $4) \
         RETURNING {}",
        User::COLUMNS
    ))
    .bind(org_id)
    .bind(&req.name)
    .bind(&req.email)
    .bind(now_rfc3339())
    .fetch_one(&mut *tx)
    .await?;
    let user = User::from_row(&row)?;
    let entry = Entry {
        actor: &caller.actor(),
        project_id: None,
        action: "user.create",
        entity: format!("user:{}", user.id),
        before: None,
        after: Some(json!({"name": user.name, "email": user.email})),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// `GET /api/v1/users` (org admin).
pub async fn list_users(state: State, caller: Caller) -> ApiResult<Json<Vec<User>>> {
    caller.require_org_admin()?;
    let rows = sqlx::query(&format!("SELECT {} FROM users ORDER BY id", User::COLUMNS))
        .fetch_all(&state.store.pool)
        .await?;
    Ok(Json(
        rows.iter().map(User::from_row).collect::<Result<_, _>>()?,
    ))
}

/// `GET /api/v1/projects/{project_id}/members` (viewer).
pub async fn list_members(
    state: State,
    caller: Caller,
    ApiPath(project_id): ApiPath<i64>,
) -> ApiResult<Json<Vec<Membership>>> {
    caller.authorize(
        project_id,
        Role::Viewer,
        ApiError::not_found("project", project_id),
    )?;
    let rows = sqlx::query(
        "SELECT project_id, user_id, role, created_at FROM memberships WHERE project_id = $1 ORDER BY user_id",
    )
    .bind(project_id)
    .fetch_all(&state.store.pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let role: String = r.try_get("role")?;
        out.push(Membership {
            project_id: r.try_get("project_id")?,
            user_id: r.try_get("user_id")?,
            role: Role::parse(&role)
                .ok_or_else(|| ApiError::Internal(format!("bad role {role}")))?,
            created_at: r.try_get("created_at")?,
        });
    }
    Ok(Json(out))
}

/// `PUT /api/v1/projects/{project_id}/members/{user_id}` (admin): add or change a role.
pub async fn put_member(
    state: State,
    caller: Caller,
    ApiPath((project_id, user_id)): ApiPath<(i64, i64)>,
    ApiJson(req): ApiJson<PutMember>,
) -> ApiResult<Json<Membership>> {
    caller.authorize(
        project_id,
        Role::Admin,
        ApiError::not_found("project", project_id),
    )?;
    if req.role == Role::Gateway {
        return Err(ApiError::unprocessable(
            "gateway is a key role, not a membership role",
            Some("role"),
        ));
    }
    ensure_project(&state, project_id).await?;
    sqlx::query("SELECT id FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&state.store.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("user", user_id))?;
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let before: Option<String> =
        sqlx::query("SELECT role FROM memberships WHERE project_id = $1 AND user_id = $2")
            .bind(project_id)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("role"))
            .transpose()?;
    let now = now_rfc3339();
    if before.is_some() {
        sqlx::query("UPDATE memberships SET role = $1 WHERE project_id = $2 AND user_id = $3")
            .bind(req.role.as_str())
            .bind(project_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    } else {
        sqlx::query(
            "INSERT INTO memberships (project_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(project_id)
        .bind(user_id)
        .bind(req.role.as_str())
        .bind(&now)
        .execute(&mut *tx)
        .await?;
    }
    let entry = Entry {
        actor: &caller.actor(),
        project_id: Some(project_id),
        action: "membership.put",
        entity: format!("membership:{project_id}:{user_id}"),
        before: before.map(|r| json!({"role": r})),
        after: Some(json!({"role": req.role.as_str()})),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(Json(Membership {
        project_id,
        user_id,
        role: req.role,
        created_at: now,
    }))
}

/// `DELETE /api/v1/projects/{project_id}/members/{user_id}` (admin). The user's project keys
/// stop working at once (authentication checks the membership).
pub async fn delete_member(
    state: State,
    caller: Caller,
    ApiPath((project_id, user_id)): ApiPath<(i64, i64)>,
) -> ApiResult<StatusCode> {
    caller.authorize(
        project_id,
        Role::Admin,
        ApiError::not_found("project", project_id),
    )?;
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let done = sqlx::query("DELETE FROM memberships WHERE project_id = $1 AND user_id = $2")
        .bind(project_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("membership of user", user_id));
    }
    let entry = Entry {
        actor: &caller.actor(),
        project_id: Some(project_id),
        action: "membership.delete",
        entity: format!("membership:{project_id}:{user_id}"),
        before: None,
        after: None,
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
