//! Prompts and their immutable versions, and diffs between versions.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::Json;
use promptgate::prompt::{PromptMode, PromptTemplate, VariableSpec};
use serde::Deserialize;
use serde_json::json;
use sqlx::{AnyPool, Row};

use super::models::{
    check_name, Approval, CreatePrompt, CreateVersion, Diff, Label, Prompt, Version, VersionDetail,
};
use super::{authorized_prompt, version_owner, State};
use crate::audit::{self, Entry};
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::store::now_rfc3339;

/// Largest template body accepted.
const MAX_BODY: usize = 256 * 1024;

/// `POST /api/v1/projects/{project_id}/prompts` (editor).
pub async fn create(
    state: State,
    caller: Caller,
    ApiPath(project_id): ApiPath<i64>,
    ApiJson(req): ApiJson<CreatePrompt>,
) -> ApiResult<(StatusCode, Json<Prompt>)> {
    caller.authorize(
        project_id,
        Role::Editor,
        ApiError::not_found("project", project_id),
    )?;
    check_name(&req.name, "name")?;
    sqlx::query("SELECT id FROM projects WHERE id = $1")
        .bind(project_id)
        .fetch_optional(&state.store.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("project", project_id))?;
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let row = sqlx::query(&format!(
        "INSERT INTO prompts (project_id, name, template_engine, created_by, created_at) \
         VALUES ($1, $2, 'minijinja', $3, $4) RETURNING {}",
        Prompt::COLUMNS
    ))
    .bind(project_id)
    .bind(&req.name)
    .bind(caller.user_id)
    .bind(now_rfc3339())
    .fetch_one(&mut *tx)
    .await?;
    let prompt = Prompt::from_row(&row)?;
    let entry = Entry {
        actor: &caller.actor(),
        project_id: Some(project_id),
        action: "prompt.create",
        entity: format!("prompt:{}", prompt.id),
        before: None,
        after: Some(json!({"name": prompt.name})),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(prompt)))
}

async fn labels_of(pool: &AnyPool, prompt_id: i64) -> ApiResult<Vec<Label>> {
    let rows = sqlx::query(
        "SELECT l.name, l.version_id, v.version, l.updated_by, l.updated_at FROM labels l \
         JOIN prompt_versions v ON v.id = l.version_id WHERE l.prompt_id = $1 ORDER BY l.name",
    )
    .bind(prompt_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(Label::from_row).collect::<Result<_, _>>()?)
}

/// `GET /api/v1/projects/{project_id}/prompts` (viewer).
pub async fn list(
    state: State,
    caller: Caller,
    ApiPath(project_id): ApiPath<i64>,
) -> ApiResult<Json<Vec<Prompt>>> {
    caller.authorize(
        project_id,
        Role::Viewer,
        ApiError::not_found("project", project_id),
    )?;
    let rows = sqlx::query(&format!(
        "SELECT {} FROM prompts WHERE project_id = $1 ORDER BY id",
        Prompt::COLUMNS
    ))
    .bind(project_id)
    .fetch_all(&state.store.pool)
    .await?;
    let mut prompts = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut p = Prompt::from_row(row)?;
        p.labels = labels_of(&state.store.pool, p.id).await?;
        prompts.push(p);
    }
    Ok(Json(prompts))
}

/// `GET /api/v1/prompts/{prompt_id}` (viewer), with its labels.
pub async fn get(
    state: State,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Prompt>> {
    authorized_prompt(&state.store.pool, &caller, id, Role::Viewer).await?;
    let row = sqlx::query(&format!(
        "SELECT {} FROM prompts WHERE id = $1",
        Prompt::COLUMNS
    ))
    .bind(id)
    .fetch_one(&state.store.pool)
    .await?;
    let mut prompt = Prompt::from_row(&row)?;
    prompt.labels = labels_of(&state.store.pool, id).await?;
    Ok(Json(prompt))
}

/// Checks a new version exactly as a gateway will compile it: the body compiles, every
/// variable it uses is declared, declarations and defaults are well typed. The 422 names the
/// culprit in `param` (`variables.<name>` or `body`).
pub fn validate_template(template: &PromptTemplate) -> ApiResult<()> {
    if template.body.len() > MAX_BODY {
        return Err(ApiError::unprocessable(
            format!("body is larger than {MAX_BODY} bytes"),
            Some("body"),
        ));
    }
    template.compile().map(|_| ()).map_err(|e| {
        let param = e
            .variable
            .as_ref()
            .map_or_else(|| "body".to_owned(), |v| format!("variables.{v}"));
        ApiError::unprocessable(e.message, Some(param.as_str()))
    })
}

/// The typed declarations of a version's `variables` object.
fn parse_variables(variables: &serde_json::Value) -> ApiResult<BTreeMap<String, VariableSpec>> {
    let Some(object) = variables.as_object() else {
        return Err(ApiError::unprocessable(
            "variables must be a JSON object",
            Some("variables"),
        ));
    };
    let mut declared = BTreeMap::new();
    for (name, spec) in object {
        let spec: VariableSpec = serde_json::from_value(spec.clone()).map_err(|_| {
            ApiError::unprocessable(
                format!(
                    "variable `{name}` must be a type (string, number, integer, boolean, array, \
                     object, any) or {{type, required, default}}"
                ),
                Some(format!("variables.{name}").as_str()),
            )
        })?;
        declared.insert(name.clone(), spec);
    }
    Ok(declared)
}

/// `POST /api/v1/prompts/{prompt_id}/versions` (editor): a new draft version, numbered next.
pub async fn create_version(
    state: State,
    caller: Caller,
    ApiPath(prompt_id): ApiPath<i64>,
    ApiJson(req): ApiJson<CreateVersion>,
) -> ApiResult<(StatusCode, Json<Version>)> {
    let project_id = authorized_prompt(&state.store.pool, &caller, prompt_id, Role::Editor).await?;
    let variables = req.variables.unwrap_or_else(|| json!({}));
    let template = PromptTemplate {
        body: req.body,
        variables: parse_variables(&variables)?,
        role: req.role.unwrap_or_default(),
        mode: req.mode.unwrap_or_default(),
    };
    validate_template(&template)?;
    let _guard = state.store.write_guard().await;
    let mut tx = state.store.pool.begin().await?;
    let next: i64 = sqlx::query(
        "SELECT COALESCE(MAX(version), 0) + 1 AS next FROM prompt_versions WHERE prompt_id = $1",
    )
    .bind(prompt_id)
    .fetch_one(&mut *tx)
    .await?
    .try_get("next")?;
    let row = sqlx::query(&format!(
        "INSERT INTO prompt_versions (prompt_id, version, body, variables, engine, notes, role, \
         mode, status, created_by, created_at) \
         VALUES ($1, $2, $3, $4, 'minijinja', $5, $6, $7, 'draft', $8, $9) RETURNING {}",
        Version::COLUMNS
    ))
    .bind(prompt_id)
    .bind(next)
    .bind(&template.body)
    .bind(variables.to_string())
    .bind(req.notes.unwrap_or_default())
    .bind(template.role.as_str())
    .bind(mode_str(template.mode))
    .bind(caller.user_id)
    .bind(now_rfc3339())
    .fetch_one(&mut *tx)
    .await?;
    let version = Version::from_row(&row)?;
    let entry = Entry {
        actor: &caller.actor(),
        project_id: Some(project_id),
        action: "prompt_version.create",
        entity: format!("prompt_version:{}", version.id),
        before: None,
        after: Some(
            json!({"prompt_id": prompt_id, "version": version.version, "body": version.body,
                           "variables": version.variables, "notes": version.notes,
                           "role": version.role, "mode": version.mode}),
        ),
    };
    audit::append(&mut tx, &entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(version)))
}

/// `GET /api/v1/prompts/{prompt_id}/versions` (viewer).
pub async fn list_versions(
    state: State,
    caller: Caller,
    ApiPath(prompt_id): ApiPath<i64>,
) -> ApiResult<Json<Vec<Version>>> {
    authorized_prompt(&state.store.pool, &caller, prompt_id, Role::Viewer).await?;
    let rows = sqlx::query(&format!(
        "SELECT {} FROM prompt_versions WHERE prompt_id = $1 ORDER BY version",
        Version::COLUMNS
    ))
    .bind(prompt_id)
    .fetch_all(&state.store.pool)
    .await?;
    Ok(Json(
        rows.iter()
            .map(Version::from_row)
            .collect::<Result<_, _>>()?,
    ))
}

/// `GET /api/v1/prompt_versions/{version_id}` (viewer), with its approvals.
pub async fn get_version(
    state: State,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<VersionDetail>> {
    let (_, project_id) = version_owner(&state.store.pool, id).await?;
    caller.authorize(
        project_id,
        Role::Viewer,
        ApiError::not_found("prompt version", id),
    )?;
    let row = sqlx::query(&format!(
        "SELECT {} FROM prompt_versions WHERE id = $1",
        Version::COLUMNS
    ))
    .bind(id)
    .fetch_one(&state.store.pool)
    .await?;
    let approvals = sqlx::query(&format!(
        "SELECT {} FROM approvals WHERE version_id = $1 ORDER BY id",
        Approval::COLUMNS
    ))
    .bind(id)
    .fetch_all(&state.store.pool)
    .await?;
    Ok(Json(VersionDetail {
        version: Version::from_row(&row)?,
        approvals: approvals
            .iter()
            .map(Approval::from_row)
            .collect::<Result<_, _>>()?,
    }))
}

fn mode_str(mode: PromptMode) -> &'static str {
    match mode {
        PromptMode::Prefix => "prefix",
        PromptMode::Replace => "replace",
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    pub from: i64,
    pub to: i64,
}

async fn body_of(pool: &AnyPool, prompt_id: i64, version: i64) -> ApiResult<String> {
    sqlx::query("SELECT body FROM prompt_versions WHERE prompt_id = $1 AND version = $2")
        .bind(prompt_id)
        .bind(version)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| ApiError::not_found("version", version))?
        .try_get("body")
        .map_err(ApiError::from)
}

/// `GET /api/v1/prompts/{prompt_id}/diff?from=N&to=M` (viewer): unified diff of two versions.
pub async fn diff(
    state: State,
    caller: Caller,
    ApiPath(prompt_id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<DiffQuery>,
) -> ApiResult<Json<Diff>> {
    authorized_prompt(&state.store.pool, &caller, prompt_id, Role::Viewer).await?;
    let old = body_of(&state.store.pool, prompt_id, q.from).await?;
    let new = body_of(&state.store.pool, prompt_id, q.to).await?;
    let diff = similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .header(&format!("v{}", q.from), &format!("v{}", q.to))
        .to_string();
    Ok(Json(Diff {
        from: q.from,
        to: q.to,
        diff,
    }))
}
