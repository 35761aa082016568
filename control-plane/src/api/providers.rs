//! `GET /api/v1/models/providers?project_id=N` (viewer): per configured environment, the
//! providers (name and type) and the routes (client model names and their targets) its
//! gateway config declares. Never keys, key variable names or URLs.

use axum::Json;
use promptgate::config::load::parse_yaml;
use promptgate::config::raw::{RawProvider, RawTarget};
use serde::Deserialize;
use sqlx::Row;

use super::deploy_models::{DataList, EnvironmentModels, ProviderInfo, RouteInfo, TargetInfo};
use super::State;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvidersQuery {
    pub project_id: i64,
}

fn provider_type(provider: &RawProvider) -> &'static str {
    match provider {
        RawProvider::Openai(_) => "openai",
        RawProvider::Mock(_) => "mock",
        RawProvider::Azure(_) => "azure",
        RawProvider::Anthropic(_) => "anthropic",
        RawProvider::Gemini(_) => "gemini",
    }
}

fn targets(targets: &[RawTarget]) -> Vec<TargetInfo> {
    targets
        .iter()
        .map(|t| TargetInfo {
            provider: t.provider.clone(),
            model: t.model.clone(),
        })
        .collect()
}

/// What one environment's config document declares.
pub fn describe(environment: String, yaml: &str) -> Result<EnvironmentModels, String> {
    let raw = parse_yaml(yaml)?;
    Ok(EnvironmentModels {
        environment,
        providers: raw
            .providers
            .iter()
            .map(|(name, p)| ProviderInfo {
                name: name.clone(),
                kind: provider_type(p).to_owned(),
            })
            .collect(),
        routes: raw
            .routes
            .iter()
            .map(|r| RouteInfo {
                model: r.model.clone(),
                policy: r.policy.clone(),
                targets: targets(&r.targets),
            })
            .collect(),
    })
}

/// `GET /api/v1/models/providers?project_id=N` (viewer).
pub async fn list(
    state: State,
    caller: Caller,
    ApiQuery(q): ApiQuery<ProvidersQuery>,
) -> ApiResult<Json<DataList<EnvironmentModels>>> {
    caller.authorize(
        q.project_id,
        Role::Viewer,
        ApiError::not_found("project", q.project_id),
    )?;
    let rows = sqlx::query(
        "SELECT environment, yaml FROM environment_configs WHERE project_id = $1 \
         ORDER BY environment",
    )
    .bind(q.project_id)
    .fetch_all(&state.store.pool)
    .await?;
    let mut data = Vec::with_capacity(rows.len());
    for row in &rows {
        let environment: String = row.try_get("environment")?;
        let yaml: String = row.try_get("yaml")?;
        data.push(
            describe(environment, &yaml)
                .map_err(|e| ApiError::Internal(format!("stored config no longer parses: {e}")))?,
        );
    }
    Ok(Json(DataList::of(data)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn describes_providers_and_routes_without_secrets() {
        let yaml = "
providers:
  mock: {type: mock}
  oai: {type: openai, base_url: 'https://secret-host.example/v1', api_key_env: OPENAI_KEY}
routes:
  - model: chat
    targets: [{provider: oai, model: gpt-4o-mini}, {provider: mock}]
";
        let d = describe("prod".into(), yaml).unwrap();
        let text = serde_json::to_string(&d).unwrap();
        assert!(
            text.contains("\"type\":\"openai\"") && text.contains("gpt-4o-mini"),
            "{text}"
        );
        assert!(
            !text.contains("secret-host") && !text.contains("OPENAI_KEY"),
            "{text}"
        );
        assert_eq!(d.routes[0].targets.len(), 2);
    }
}
