//! REST routes under `/api/v1`. Every handler authorizes the caller for the project that owns
//! the object it touches (see `auth::Caller::authorize`).

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use sqlx::{AnyPool, Row};

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::AppState;

pub mod audit_log;
pub mod checks;
pub mod dashboards;
pub mod deploy_models;
pub mod deployments;
pub mod environments;
pub mod gateway;
pub mod keys;
pub mod labels;
pub mod members;
pub mod models;
pub mod policies;
pub mod projects;
pub mod prompts;
pub mod providers;
pub mod review;
pub mod token;
pub mod traces;

pub type State = axum::extract::State<Arc<AppState>>;

pub fn router(state: Arc<AppState>) -> Router {
    let v1 = Router::new()
        .route("/projects", post(projects::create).get(projects::list))
        .route(
            "/projects/{project_id}",
            get(projects::get).patch(projects::update),
        )
        .route(
            "/users",
            post(members::create_user).get(members::list_users),
        )
        .route("/projects/{project_id}/members", get(members::list_members))
        .route(
            "/projects/{project_id}/members/{user_id}",
            put(members::put_member).delete(members::delete_member),
        )
        .route(
            "/projects/{project_id}/api_keys",
            post(keys::create).get(keys::list),
        )
        .route("/api_keys/{key_id}/revoke", post(keys::revoke))
        .route("/api_keys/{key_id}/rotate", post(keys::rotate))
        .route(
            "/projects/{project_id}/prompts",
            post(prompts::create).get(prompts::list),
        )
        .route("/prompts/{prompt_id}", get(prompts::get))
        .route(
            "/prompts/{prompt_id}/versions",
            post(prompts::create_version).get(prompts::list_versions),
        )
        .route("/prompts/{prompt_id}/diff", get(prompts::diff))
        .route("/prompt_versions/{version_id}", get(prompts::get_version))
        .route(
            "/prompt_versions/{version_id}/submit_for_approval",
            post(review::submit),
        )
        .route(
            "/prompt_versions/{version_id}/approve",
            post(review::approve),
        )
        .route("/prompt_versions/{version_id}/reject", post(review::reject))
        .route("/prompts/{prompt_id}/labels/{label}", put(labels::set))
        .route(
            "/prompts/{prompt_id}/labels/{label}/rollback",
            post(labels::rollback),
        )
        .route(
            "/prompt_versions/{version_id}/checks",
            post(checks::create).get(checks::list),
        )
        .route("/deployments", post(deployments::create))
        .route("/prompts/{prompt_id}/deployments", get(deployments::list))
        .route(
            "/projects/{project_id}/environments",
            get(environments::list),
        )
        .route(
            "/projects/{project_id}/environments/{env}/config",
            put(environments::put_config).get(environments::get_config),
        )
        .route("/policies", post(policies::create))
        .route("/policies/{policy_id}", delete(policies::delete))
        .route("/projects/{project_id}/policies", get(policies::list))
        .route("/models/providers", get(providers::list))
        .route("/gateway/snapshot", get(gateway::snapshot))
        .route("/audit", get(audit_log::list))
        .route(
            "/traces",
            post(traces::ingest).layer(DefaultBodyLimit::max(traces::batch::MAX_BODY_BYTES)),
        )
        .route("/traces/{trace_id}", get(traces::get))
        .route("/projects/{project_id}/traces", get(traces::list))
        .route("/dashboards/metrics", get(dashboards::metrics))
        .route("/auth/token", post(token::token))
        .route("/openapi.json", get(openapi))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    Router::new()
        .nest("/api/v1", v1)
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed("method not allowed on this endpoint".into())
}

/// The project owning prompt `id` (404 when there is none).
async fn prompt_project(pool: &AnyPool, id: i64) -> ApiResult<i64> {
    sqlx::query("SELECT project_id FROM prompts WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| ApiError::not_found("prompt", id))?
        .try_get("project_id")
        .map_err(ApiError::from)
}

/// The project owning prompt `id`, once `caller` holds `need` there (callers from other
/// projects get the same 404 as for a missing prompt).
pub async fn authorized_prompt(
    pool: &AnyPool,
    caller: &Caller,
    id: i64,
    need: Role,
) -> ApiResult<i64> {
    let project_id = prompt_project(pool, id).await?;
    caller.authorize(project_id, need, ApiError::not_found("prompt", id))?;
    Ok(project_id)
}

/// The (prompt, project) owning version `id` (404 when there is none).
pub async fn version_owner(pool: &AnyPool, id: i64) -> ApiResult<(i64, i64)> {
    let row = sqlx::query(
        "SELECT v.prompt_id, p.project_id FROM prompt_versions v JOIN prompts p ON p.id = v.prompt_id \
         WHERE v.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ApiError::not_found("prompt version", id))?;
    Ok((row.try_get("prompt_id")?, row.try_get("project_id")?))
}
