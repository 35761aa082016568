//! Request and response bodies of checks, deployments, environment configs, policies, the
//! providers overview and list envelopes. Requests deny unknown fields (mass assignment).

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;
use utoipa::ToSchema;

/// `{"data": [...]}`, the envelope of the list endpoints added with deployments.
#[derive(Debug, Serialize)]
pub struct DataList<T> {
    pub data: Vec<T>,
}

impl<T> DataList<T> {
    pub fn of(data: Vec<T>) -> Self {
        DataList { data }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Passed,
    Failed,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCheck {
    pub name: String,
    pub status: CheckStatus,
    /// Free-form JSON (a message, scores, a link).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResult {
    pub id: i64,
    pub version_id: i64,
    pub name: String,
    pub status: String,
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    pub created_by: i64,
    pub created_at: String,
}

impl CheckResult {
    pub const COLUMNS: &'static str =
        "id, version_id, name, status, details, created_by, created_at";
    pub fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        let details: Option<String> = r.try_get("details")?;
        Ok(CheckResult {
            id: r.try_get("id")?,
            version_id: r.try_get("version_id")?,
            name: r.try_get("name")?,
            status: r.try_get("status")?,
            details: details.and_then(|d| serde_json::from_str(&d).ok()),
            created_by: r.try_get("created_by")?,
            created_at: r.try_get("created_at")?,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDeployment {
    pub prompt_version_id: i64,
    /// Also the name of the label that moves.
    pub environment: String,
    /// Absent or 100: stable; 1..=99: canary over the current stable; 0: clear the canary.
    #[serde(default)]
    pub canary_percent: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Deployment {
    pub id: i64,
    pub prompt_id: i64,
    pub prompt_version_id: i64,
    pub version: i64,
    pub environment: String,
    /// stable, canary, canary_cleared or rollback.
    pub kind: String,
    pub canary_percent: Option<i64>,
    pub created_by: i64,
    pub created_at: String,
}

impl Deployment {
    pub const COLUMNS: &'static str =
        "id, prompt_id, prompt_version_id, version, environment, kind, \
         canary_percent, created_by, created_at";
    pub fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Deployment {
            id: r.try_get("id")?,
            prompt_id: r.try_get("prompt_id")?,
            prompt_version_id: r.try_get("prompt_version_id")?,
            version: r.try_get("version")?,
            environment: r.try_get("environment")?,
            kind: r.try_get("kind")?,
            canary_percent: r.try_get("canary_percent")?,
            created_by: r.try_get("created_by")?,
            created_at: r.try_get("created_at")?,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutEnvironmentConfig {
    /// The gateway config document (the `--config` YAML format, without `policy_files`).
    pub yaml: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnvironmentConfig {
    pub environment: String,
    pub yaml: String,
    pub updated_at: String,
}

impl EnvironmentConfig {
    pub fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(EnvironmentConfig {
            environment: r.try_get("environment")?,
            yaml: r.try_get("yaml")?,
            updated_at: r.try_get("updated_at")?,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePolicy {
    pub project_id: i64,
    pub name: String,
    /// YAML with a `policies` list (optionally `health`), as in `policies/routing.yaml`.
    pub yaml: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Policy {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    pub yaml: String,
    pub created_at: String,
}

impl Policy {
    pub const COLUMNS: &'static str = "id, project_id, name, yaml, created_at";
    pub fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Policy {
            id: r.try_get("id")?,
            project_id: r.try_get("project_id")?,
            name: r.try_get("name")?,
            yaml: r.try_get("yaml")?,
            created_at: r.try_get("created_at")?,
        })
    }
}

/// The providers and routes one environment's config declares (never keys or URLs).
#[derive(Debug, Serialize, ToSchema)]
pub struct EnvironmentModels {
    pub environment: String,
    pub providers: Vec<ProviderInfo>,
    pub routes: Vec<RouteInfo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderInfo {
    pub name: String,
    /// openai, mock, azure, anthropic or gemini.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RouteInfo {
    /// The model name clients send.
    pub model: String,
    pub policy: Option<String>,
    pub targets: Vec<TargetInfo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetInfo {
    pub provider: String,
    pub model: Option<String>,
}
