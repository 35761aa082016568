//! Building the `ManagedSnapshot` a managed gateway fetches for one project and environment,
//! and checking every environment's snapshot with the gateway's own `validate` before a change
//! commits (so a gateway never receives a snapshot it would reject).

use std::collections::BTreeMap;

use promptgate::managed::{self, ManagedSnapshot, PolicyDocument, SNAPSHOT_SCHEMA};
use promptgate::prompt::{CanaryRelease, PromptRelease, PromptTemplate};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::error::{ApiError, ApiResult};

/// Environment names: `^[a-z][a-z0-9_-]{0,31}$` (`dev`, `staging`, `prod`, custom).
pub fn check_environment(name: &str, param: &str) -> ApiResult<()> {
    let mut chars = name.chars();
    let ok = name.len() <= 32
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            format!("{param} must match ^[a-z][a-z0-9_-]{{0,31}}$"),
            Some(param),
        ))
    }
}

/// The snapshot's version: lowercase hex of the first 16 bytes of sha256 over the snapshot
/// serialized (JSON) with `version` empty.
pub fn version_of(snapshot: &ManagedSnapshot) -> ApiResult<String> {
    let unversioned = ManagedSnapshot {
        version: String::new(),
        ..snapshot.clone()
    };
    let bytes = serde_json::to_vec(&unversioned)
        .map_err(|e| ApiError::Internal(format!("serializing a snapshot: {e}")))?;
    Ok(hex::encode(&Sha256::digest(&bytes)[..16]))
}

/// The snapshot of `project_id` for `environment`, or `None` when the environment has no
/// config. Reads through `conn`, so inside a transaction it sees the uncommitted change.
pub async fn build(
    conn: &mut AnyConnection,
    project_id: i64,
    environment: &str,
) -> ApiResult<Option<ManagedSnapshot>> {
    let Some(config) = sqlx::query(
        "SELECT yaml FROM environment_configs WHERE project_id = $1 AND environment = $2",
    )
    .bind(project_id)
    .bind(environment)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let project = sqlx::query("SELECT name, capture_payloads FROM projects WHERE id = $1")
        .bind(project_id)
        .fetch_one(&mut *conn)
        .await?;
    let policies =
        sqlx::query("SELECT name, yaml FROM policies WHERE project_id = $1 ORDER BY name")
            .bind(project_id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| {
                Ok(PolicyDocument {
                    name: r.try_get("name")?,
                    yaml: r.try_get("yaml")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let mut snapshot = ManagedSnapshot {
        schema: SNAPSHOT_SCHEMA,
        version: String::new(),
        project: project.try_get("name")?,
        environment: environment.to_owned(),
        config: config.try_get("yaml")?,
        policies,
        prompts: deployed_prompts(conn, project_id).await?,
        capture_payloads: project.try_get::<i64, _>("capture_payloads")? == 1,
    };
    snapshot.version = version_of(&snapshot)?;
    Ok(Some(snapshot))
}

/// Every labelled prompt of the project: name → label → release (with its canary).
async fn deployed_prompts(
    conn: &mut AnyConnection,
    project_id: i64,
) -> ApiResult<BTreeMap<String, BTreeMap<String, PromptRelease>>> {
    let rows = sqlx::query(
        "SELECT p.name AS prompt, l.name AS label, v.version, v.body, v.variables, v.role, v.mode, \
         c.percent, cv.version AS c_version, cv.body AS c_body, cv.variables AS c_variables, \
         cv.role AS c_role, cv.mode AS c_mode \
         FROM labels l JOIN prompts p ON p.id = l.prompt_id \
         JOIN prompt_versions v ON v.id = l.version_id \
         LEFT JOIN canaries c ON c.prompt_id = l.prompt_id AND c.label = l.name \
         LEFT JOIN prompt_versions cv ON cv.id = c.version_id \
         WHERE p.project_id = $1",
    )
    .bind(project_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut prompts: BTreeMap<String, BTreeMap<String, PromptRelease>> = BTreeMap::new();
    for row in &rows {
        let prompt: String = row.try_get("prompt")?;
        let label: String = row.try_get("label")?;
        let canary = match row.try_get::<Option<i64>, _>("percent")? {
            Some(percent) => Some(CanaryRelease {
                version: row.try_get("c_version")?,
                percent: u8::try_from(percent)
                    .map_err(|_| ApiError::Internal(format!("canary percent {percent}")))?,
                template: template_of(row, "c_")?,
            }),
            None => None,
        };
        let release = PromptRelease {
            version: row.try_get("version")?,
            template: template_of(row, "")?,
            canary,
        };
        prompts.entry(prompt).or_default().insert(label, release);
    }
    Ok(prompts)
}

/// The template stored in a version row (columns `{prefix}body`, ...).
pub fn template_of(row: &AnyRow, prefix: &str) -> ApiResult<PromptTemplate> {
    let text = |name: &str| row.try_get::<String, _>(format!("{prefix}{name}").as_str());
    let variables: String = text("variables")?;
    let parsed = serde_json::json!({
        "body": text("body")?,
        "variables": serde_json::from_str::<serde_json::Value>(&variables)
            .map_err(|e| ApiError::Internal(format!("stored variables: {e}")))?,
        "role": text("role")?,
        "mode": text("mode")?,
    });
    serde_json::from_value(parsed).map_err(|e| {
        ApiError::unprocessable(
            format!("a deployed version has variables this gateway cannot read: {e}"),
            None,
        )
    })
}

/// Builds and validates the snapshot of every configured environment of the project; the
/// first failure answers 422 with the gateway's message.
pub async fn validate_project(conn: &mut AnyConnection, project_id: i64) -> ApiResult<()> {
    let environments: Vec<String> = sqlx::query(
        "SELECT environment FROM environment_configs WHERE project_id = $1 ORDER BY environment",
    )
    .bind(project_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| r.try_get("environment"))
    .collect::<Result<_, _>>()?;
    for environment in environments {
        let Some(snapshot) = build(conn, project_id, &environment).await? else {
            continue;
        };
        managed::validate(&snapshot).map_err(|message| {
            ApiError::unprocessable(format!("environment `{environment}`: {message}"), None)
        })?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_follow_the_contract() {
        for ok in ["dev", "prod", "eu-west_2", "a"] {
            check_environment(ok, "environment").unwrap();
        }
        let long = "a".repeat(33);
        for bad in ["", "Prod", "1dev", "-x", "dev.x", long.as_str()] {
            assert!(check_environment(bad, "environment").is_err(), "{bad}");
        }
    }

    #[test]
    fn version_ignores_the_version_field_and_tracks_content() {
        let mut s = ManagedSnapshot {
            schema: SNAPSHOT_SCHEMA,
            version: String::new(),
            project: "p".into(),
            environment: "prod".into(),
            config: "providers: {}".into(),
            policies: Vec::new(),
            prompts: BTreeMap::new(),
            capture_payloads: false,
        };
        let v1 = version_of(&s).unwrap();
        assert_eq!(v1.len(), 32);
        assert!(v1
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        s.version = "anything".into();
        assert_eq!(version_of(&s).unwrap(), v1);
        s.capture_payloads = true;
        assert_ne!(version_of(&s).unwrap(), v1);
    }
}
