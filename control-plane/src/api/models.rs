//! Request and response bodies. Requests deny unknown fields: ids, authors, timestamps and
//! approval state are set by the server and can never come from a body.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;
use utoipa::ToSchema;

use promptgate::prompt::{PromptMode, PromptRole};

use crate::auth::Role;
use crate::error::ApiError;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Approvals a version needs before it is approved (1..=10, default 1).
    #[serde(default)]
    pub required_approvals: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProject {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub required_approvals: Option<i64>,
    /// Check names whose latest result must be `passed` before a version deploys.
    #[serde(default)]
    pub required_checks: Option<Vec<String>>,
    /// Whether traces may carry (PII-redacted) request and response payloads.
    #[serde(default)]
    pub capture_payloads: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Project {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub description: String,
    pub required_approvals: i64,
    pub required_checks: Vec<String>,
    pub capture_payloads: bool,
    pub created_at: String,
}

impl Project {
    pub const COLUMNS: &'static str = "id, org_id, name, description, required_approvals, \
         required_checks, capture_payloads, created_at";
    pub fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        let checks: String = r.try_get("required_checks")?;
        Ok(Project {
            id: r.try_get("id")?,
            org_id: r.try_get("org_id")?,
            name: r.try_get("name")?,
            description: r.try_get("description")?,
            required_approvals: r.try_get("required_approvals")?,
            required_checks: serde_json::from_str(&checks).unwrap_or_default(),
            capture_payloads: r.try_get::<i64, _>("capture_payloads")? == 1,
            created_at: r.try_get("created_at")?,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub is_org_admin: bool,
    pub created_at: String,
}

impl User {
    pub const COLUMNS: &'static str = "id, name, email, is_org_admin, created_at";
    pub fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(User {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            email: r.try_get("email")?,
            is_org_admin: r.try_get::<i64, _>("is_org_admin")? == 1,
            created_at: r.try_get("created_at")?,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutMember {
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Membership {
    pub project_id: i64,
    pub user_id: i64,
    pub role: Role,
    pub created_at: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    pub name: String,
    pub user_id: i64,
    pub role: Role,
    /// Days until the key expires (1..=3650); no expiry when absent.
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyInfo {
    pub id: i64,
    pub prefix: String,
    pub name: String,
    pub user_id: i64,
    pub project_id: Option<i64>,
    pub role: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl ApiKeyInfo {
    pub const COLUMNS: &'static str =
        "id, prefix, name, user_id, project_id, role, created_at, expires_at, revoked_at";
    pub fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(ApiKeyInfo {
            id: r.try_get("id")?,
            prefix: r.try_get("prefix")?,
            name: r.try_get("name")?,
            user_id: r.try_get("user_id")?,
            project_id: r.try_get("project_id")?,
            role: r.try_get("role")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            revoked_at: r.try_get("revoked_at")?,
        })
    }
}

/// A new key: `key` is shown in this response only and never stored in clear.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    pub key: String,
    #[serde(flatten)]
    pub info: ApiKeyInfo,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePrompt {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Prompt {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    pub template_engine: String,
    pub created_by: i64,
    pub created_at: String,
    /// Label name → the version it points to.
    pub labels: Vec<Label>,
}

impl Prompt {
    pub const COLUMNS: &'static str =
        "id, project_id, name, template_engine, created_by, created_at";
    pub fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Prompt {
            id: r.try_get("id")?,
            project_id: r.try_get("project_id")?,
            name: r.try_get("name")?,
            template_engine: r.try_get("template_engine")?,
            created_by: r.try_get("created_by")?,
            created_at: r.try_get("created_at")?,
            labels: Vec::new(),
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVersion {
    /// The template (minijinja); it must compile, and every variable it uses be declared.
    pub body: String,
    /// Declared variables: name → type (`string`, `number`, `integer`, `boolean`, `array`,
    /// `object`, `any`) or `{type, required, default}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub variables: Option<serde_json::Value>,
    #[serde(default)]
    pub notes: Option<String>,
    /// Role of the rendered message: `system` (default), `developer` or `user`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub role: Option<PromptRole>,
    /// `prefix` (default): the message goes before the client's; `replace`: it is the whole
    /// conversation.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub mode: Option<PromptMode>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Version {
    pub id: i64,
    pub prompt_id: i64,
    pub version: i64,
    pub body: String,
    #[schema(value_type = Object)]
    pub variables: serde_json::Value,
    pub engine: String,
    pub notes: String,
    /// system, developer or user.
    pub role: String,
    /// prefix or replace.
    pub mode: String,
    /// draft, pending, approved or rejected.
    pub status: String,
    pub created_by: i64,
    pub created_at: String,
}

impl Version {
    pub const COLUMNS: &'static str = "id, prompt_id, version, body, variables, engine, notes, \
         role, mode, status, created_by, created_at";
    pub fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        let variables: String = r.try_get("variables")?;
        Ok(Version {
            id: r.try_get("id")?,
            prompt_id: r.try_get("prompt_id")?,
            version: r.try_get("version")?,
            body: r.try_get("body")?,
            variables: serde_json::from_str(&variables).unwrap_or(serde_json::Value::Null),
            engine: r.try_get("engine")?,
            notes: r.try_get("notes")?,
            role: r.try_get("role")?,
            mode: r.try_get("mode")?,
            status: r.try_get("status")?,
            created_by: r.try_get("created_by")?,
            created_at: r.try_get("created_at")?,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionDetail {
    #[serde(flatten)]
    pub version: Version,
    pub approvals: Vec<Approval>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Approval {
    pub id: i64,
    pub version_id: i64,
    pub reviewer_id: i64,
    pub decision: String,
    pub comment: String,
    pub created_at: String,
}

impl Approval {
    pub const COLUMNS: &'static str = "id, version_id, reviewer_id, decision, comment, created_at";
    pub fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Approval {
            id: r.try_get("id")?,
            version_id: r.try_get("version_id")?,
            reviewer_id: r.try_get("reviewer_id")?,
            decision: r.try_get("decision")?,
            comment: r.try_get("comment")?,
            created_at: r.try_get("created_at")?,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLabel {
    pub version_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Label {
    pub name: String,
    pub version_id: i64,
    pub version: i64,
    pub updated_by: i64,
    pub updated_at: String,
}

impl Label {
    pub fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Label {
            name: r.try_get("name")?,
            version_id: r.try_get("version_id")?,
            version: r.try_get("version")?,
            updated_by: r.try_get("updated_by")?,
            updated_at: r.try_get("updated_at")?,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Diff {
    pub from: i64,
    pub to: i64,
    /// Unified diff of the two bodies.
    pub diff: String,
}

/// A name for projects, users, prompts, keys and labels: 1..=100 of `[A-Za-z0-9._-]`.
pub fn check_name(name: &str, param: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            format!("{param} must be 1 to 100 characters of A-Z a-z 0-9 . _ -"),
            Some(param),
        ))
    }
}
