//! The OpenAPI document served at `/api/v1/openapi.json`: schemas derived from the request
//! and response types, operations listed once in `OPERATIONS`.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, PathsBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::Required;
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::OpenApi;

use crate::api::{deploy_models, models};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "promptgate control plane",
        description = "Projects, RBAC, API keys, prompt versions, approvals, labels, checks, \
                       deployments, environment configs, policies, gateway snapshots, audit log."
    ),
    components(schemas(
        models::CreateProject,
        models::Project,
        models::CreateUser,
        models::User,
        models::PutMember,
        models::Membership,
        models::CreateKey,
        models::ApiKeyInfo,
        models::CreatedKey,
        models::CreatePrompt,
        models::Prompt,
        models::CreateVersion,
        models::Version,
        models::VersionDetail,
        models::Review,
        models::Approval,
        models::SetLabel,
        models::Label,
        models::Diff,
        deploy_models::CheckStatus,
        deploy_models::CreateCheck,
        deploy_models::CheckResult,
        deploy_models::CreateDeployment,
        deploy_models::Deployment,
        deploy_models::PutEnvironmentConfig,
        deploy_models::EnvironmentConfig,
        deploy_models::CreatePolicy,
        deploy_models::Policy,
        deploy_models::EnvironmentModels,
        deploy_models::ProviderInfo,
        deploy_models::RouteInfo,
        deploy_models::TargetInfo,
        crate::audit::Record,
        crate::auth::Role,
        crate::api::traces::schema::TraceBatch,
        crate::api::traces::schema::TraceRecord,
        crate::api::traces::schema::Trace,
        crate::api::traces::schema::TracePage,
        crate::api::traces::IngestResult,
        crate::api::dashboards::Metrics,
        crate::api::dashboards::MetricsRow,
        crate::api::token::TokenRequest,
        crate::api::token::TokenResponse
    ))
)]
struct Doc;

/// (method, path, summary, request schema, success status, response schema).
type Op = (
    HttpMethod,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
);

#[rustfmt::skip]
const OPERATIONS: &[Op] = &[
    (HttpMethod::Post, "/api/v1/projects", "Create a project (org admin)", Some("CreateProject"), "201", Some("Project")),
    (HttpMethod::Get, "/api/v1/projects", "List visible projects", None, "200", Some("Project")),
    (HttpMethod::Get, "/api/v1/projects/{project_id}", "Get a project (viewer)", None, "200", Some("Project")),
    (HttpMethod::Patch, "/api/v1/projects/{project_id}", "Change description, required approvals, required checks, payload capture (admin)", Some("UpdateProject"), "200", Some("Project")),
    (HttpMethod::Post, "/api/v1/users", "Create a user (org admin)", Some("CreateUser"), "201", Some("User")),
    (HttpMethod::Get, "/api/v1/users", "List users (org admin)", None, "200", Some("User")),
    (HttpMethod::Get, "/api/v1/projects/{project_id}/members", "List members (viewer)", None, "200", Some("Membership")),
    (HttpMethod::Put, "/api/v1/projects/{project_id}/members/{user_id}", "Add or change a member (admin)", Some("PutMember"), "200", Some("Membership")),
    (HttpMethod::Delete, "/api/v1/projects/{project_id}/members/{user_id}", "Remove a member (admin)", None, "204", None),
    (HttpMethod::Post, "/api/v1/projects/{project_id}/api_keys", "Create an API key, shown once (admin)", Some("CreateKey"), "201", Some("CreatedKey")),
    (HttpMethod::Get, "/api/v1/projects/{project_id}/api_keys", "List API keys (admin)", None, "200", Some("ApiKeyInfo")),
    (HttpMethod::Post, "/api/v1/api_keys/{key_id}/revoke", "Revoke an API key (admin)", None, "200", Some("ApiKeyInfo")),
    (HttpMethod::Post, "/api/v1/api_keys/{key_id}/rotate", "Rotate an API key, new key shown once (admin)", None, "201", Some("CreatedKey")),
    (HttpMethod::Post, "/api/v1/projects/{project_id}/prompts", "Create a prompt (editor)", Some("CreatePrompt"), "201", Some("Prompt")),
    (HttpMethod::Get, "/api/v1/projects/{project_id}/prompts", "List prompts (viewer)", None, "200", Some("Prompt")),
    (HttpMethod::Get, "/api/v1/prompts/{prompt_id}", "Get a prompt with its labels (viewer)", None, "200", Some("Prompt")),
    (HttpMethod::Post, "/api/v1/prompts/{prompt_id}/versions", "Create an immutable version (editor)", Some("CreateVersion"), "201", Some("Version")),
    (HttpMethod::Get, "/api/v1/prompts/{prompt_id}/versions", "List versions (viewer)", None, "200", Some("Version")),
    (HttpMethod::Get, "/api/v1/prompts/{prompt_id}/diff", "Unified diff of versions ?from=N&to=M (viewer)", None, "200", Some("Diff")),
    (HttpMethod::Get, "/api/v1/prompt_versions/{version_id}", "Get a version with approvals (viewer)", None, "200", Some("VersionDetail")),
    (HttpMethod::Post, "/api/v1/prompt_versions/{version_id}/submit_for_approval", "Submit a draft (editor)", None, "200", Some("Version")),
    (HttpMethod::Post, "/api/v1/prompt_versions/{version_id}/approve", "Approve (admin, not the author)", Some("Review"), "200", Some("Version")),
    (HttpMethod::Post, "/api/v1/prompt_versions/{version_id}/reject", "Reject with a comment (admin, not the author)", Some("Review"), "200", Some("Version")),
    (HttpMethod::Put, "/api/v1/prompts/{prompt_id}/labels/{label}", "Point a label at a version (editor; admin and approved for prod/staging)", Some("SetLabel"), "200", Some("Label")),
    (HttpMethod::Post, "/api/v1/prompts/{prompt_id}/labels/{label}/rollback", "Re-point a label to the previous approved version", None, "200", Some("Label")),
    (HttpMethod::Get, "/api/v1/audit", "List audit records ?after=SEQ&limit=N (admin)", None, "200", Some("Record")),
    (HttpMethod::Post, "/api/v1/prompt_versions/{version_id}/checks", "Record a check result (editor)", Some("CreateCheck"), "201", Some("CheckResult")),
    (HttpMethod::Get, "/api/v1/prompt_versions/{version_id}/checks", "List check results {data} (viewer)", None, "200", Some("CheckResult")),
    (HttpMethod::Post, "/api/v1/deployments", "Deploy a version: stable, canary 1..99 or clear 0; gated (editor; admin for prod and staging)", Some("CreateDeployment"), "201", Some("Deployment")),
    (HttpMethod::Get, "/api/v1/prompts/{prompt_id}/deployments", "List deployments {data}, newest first (viewer)", None, "200", Some("Deployment")),
    (HttpMethod::Get, "/api/v1/projects/{project_id}/environments", "List environment configs {data} (viewer)", None, "200", Some("EnvironmentConfig")),
    (HttpMethod::Put, "/api/v1/projects/{project_id}/environments/{env}/config", "Set an environment's gateway config, validated (admin)", Some("PutEnvironmentConfig"), "200", Some("EnvironmentConfig")),
    (HttpMethod::Get, "/api/v1/projects/{project_id}/environments/{env}/config", "Get an environment's gateway config (viewer)", None, "200", Some("EnvironmentConfig")),
    (HttpMethod::Post, "/api/v1/policies", "Add a routing policy document, validated (editor)", Some("CreatePolicy"), "201", Some("Policy")),
    (HttpMethod::Get, "/api/v1/projects/{project_id}/policies", "List policy documents {data} (viewer)", None, "200", Some("Policy")),
    (HttpMethod::Delete, "/api/v1/policies/{policy_id}", "Delete a policy document, validated (editor)", None, "204", None),
    (HttpMethod::Get, "/api/v1/models/providers", "Providers and routes per environment {data} ?project_id=N (viewer)", None, "200", Some("EnvironmentModels")),
    (HttpMethod::Get, "/api/v1/gateway/snapshot", "Managed gateway snapshot ?project=P&environment=E&wait=S, ETag / If-None-Match long-poll (gateway key or viewer)", None, "200", None),
    (HttpMethod::Post, "/api/v1/traces", "Ingest a gateway's trace batch, idempotent per trace_id (editor; <= 1000 records, <= 8 MiB)", Some("TraceBatch"), "202", Some("IngestResult")),
    (HttpMethod::Get, "/api/v1/traces/{trace_id}", "Get one trace (viewer)", None, "200", Some("Trace")),
    (HttpMethod::Get, "/api/v1/projects/{project_id}/traces", "List traces newest first ?environment&route&prompt&prompt_version&status&since&until&limit&before (viewer)", None, "200", Some("TracePage")),
    (HttpMethod::Get, "/api/v1/dashboards/metrics", "Latency P50/P95, cost, success and cache hit rates per route and prompt version ?project_id&environment&since&until (viewer)", None, "200", Some("Metrics")),
    (HttpMethod::Post, "/api/v1/auth/token", "OAuth2 client credentials: exchange an API key for a 15-minute access token (no bearer)", Some("TokenRequest"), "200", Some("TokenResponse")),
];

fn json_of(schema: &str) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(RefOr::<Schema>::Ref(Ref::from_schema_name(schema))))
        .build()
}

/// Builds the document (cheap; built per request to keep no global state).
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Doc::openapi();
    let mut paths = PathsBuilder::new();
    for (method, path, summary, request, status, response) in OPERATIONS {
        let mut op = OperationBuilder::new().summary(Some(*summary));
        if *path != "/api/v1/auth/token" {
            op = op.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
        }
        // `{name}` segments become required path parameters (ids are integers).
        for name in path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        {
            let kind = if name == "label" || name == "env" || name == "trace_id" {
                Type::String
            } else {
                Type::Integer
            };
            op = op.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(ObjectBuilder::new().schema_type(kind))),
            );
        }
        if let Some(req) = request {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", json_of(req))
                    .build(),
            ));
        }
        let mut ok = ResponseBuilder::new().description("success");
        if let Some(resp) = response {
            ok = ok.content("application/json", json_of(resp));
        }
        op = op.response(*status, ok.build()).response(
            "default",
            ResponseBuilder::new()
                .description("OpenAI-shaped error")
                .build(),
        );
        paths = paths.path(*path, PathItem::new(method.clone(), op.build()));
    }
    doc.paths = paths.build();
    if let Some(components) = doc.components.as_mut() {
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
    doc
}
