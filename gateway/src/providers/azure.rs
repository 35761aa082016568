//! Azure OpenAI: OpenAI's wire format, addressed by deployment.
//!
//! ```yaml
//! providers:
//!   azure:
//!     type: azure
//!     base_url: https://my-resource.openai.azure.com   # the resource endpoint, without /openai
//!     api_key_env: AZURE_OPENAI_API_KEY   # sent as `api-key`
//!     # bearer_token_env: AZURE_TOKEN     # or a Microsoft Entra ID token, `Authorization: Bearer`
//!     api_version: 2024-10-21             # required
//!     deployments:                        # upstream model -> deployment (optional)
//!       gpt-4o: prod-gpt-4o               # a model not listed is its own deployment
//!     timeouts: { connect_ms: 5000, first_byte_ms: 120000, idle_ms: 60000 }
//! ```
//!
//! **Requests.** Chat, completions and embeddings go to
//! `POST {base_url}/openai/deployments/{deployment}/{chat/completions|completions|embeddings}?api-version={api_version}`
//! with the body byte for byte (Azure ignores its `model`). The Responses API goes to
//! `POST {base_url}/openai/v1/responses`: Azure documents it on the v1 surface only, which
//! takes no dated `api-version` (v1 is its default) and picks the deployment from the body's
//! `model`, so there `model` is rewritten to the deployment. Nothing is removed from bodies;
//! streamed requests carry the `stream_options.include_usage` the gateway adds for
//! accounting, which Azure accepts from API version 2024-09-01-preview on (older versions get
//! a warning at load). Deployment names and the API version go into URLs unescaped, so they
//! may only hold letters, digits, `.`, `_` and `-` (checked at load; a request for an unmapped
//! model whose name breaks that rule is refused with a 400).
//!
//! **Responses** are OpenAI's shape plus Azure's content-filter fields
//! (`prompt_filter_results`, `content_filter_results`), all relayed untouched, as is
//! `finish_reason: "content_filter"`. Streams go through the OpenAI
//! [`PassThrough`](super::openai::stream::PassThrough): Azure's first chunk (empty `choices`,
//! `prompt_filter_results`, no usage) is relayed, since only an empty-`choices` chunk that
//! carries usage is taken for the usage chunk. Errors: see [`error`].
//!
//! **Not supported:** proxying other `/v1/*` paths (files, batches, ...): Azure's paths and
//! auth differ from OpenAI's, so `passthrough_base` is `None` and those paths get a 404.
//! An Entra ID token is read once per config load and never refreshed.

pub mod error;
pub mod request;

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION};
use http::StatusCode;

use super::{AttemptError, Provider, ProviderCall, ProviderResponse, Timeouts, UpstreamError};
use crate::config::http_provider::{secret, sensitive_header, HttpProviderSettings};
use crate::config::raw::RawAzureProvider;
use crate::upstream::client::ClientFactory;
use crate::upstream::http::{traceparent, HttpEndpoint};
use request::Deployments;

const API_KEY: HeaderName = HeaderName::from_static("api-key");

/// The first API version that accepts `stream_options`.
const STREAM_OPTIONS_SINCE: &str = "2024-09-01";

pub struct AzureProvider {
    name: String,
    endpoint: HttpEndpoint,
    /// `api-key: <key>` or `authorization: Bearer <token>`, marked sensitive.
    auth: Option<(HeaderName, HeaderValue)>,
    deployments: Deployments,
    timeouts: Timeouts,
}

impl AzureProvider {
    /// Builds the provider from its config, reading secrets through `env`.
    pub fn from_config(
        name: &str,
        raw: &RawAzureProvider,
        clients: &ClientFactory,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let http = HttpProviderSettings::resolve(&raw.base_url, raw.timeouts, false, clients, env)?;
        let base_url = &http.base_url;
        let path = base_url.trim_end_matches('/');
        if path.ends_with("/openai") || path.ends_with("/openai/v1") {
            return Err(format!(
                "base_url `{base_url}` must be the resource endpoint without `/openai` (e.g. https://my-resource.openai.azure.com); the gateway adds the API paths"
            ));
        }
        let auth = match (&raw.api_key_env, &raw.bearer_token_env) {
            (Some(_), Some(_)) => {
                return Err("set api_key_env or bearer_token_env, not both".into());
            }
            (Some(var), None) => secret(name, var, env)
                .map(|key| sensitive_header(API_KEY, key))
                .transpose()?,
            (None, Some(var)) => secret(name, var, env)
                .map(|token| sensitive_header(AUTHORIZATION, format!("Bearer {token}")))
                .transpose()?,
            (None, None) => None,
        };
        let deployments = Deployments::new(&raw.api_version, &raw.deployments)?;
        if raw.api_version.starts_with(|c: char| c.is_ascii_digit())
            && raw.api_version.as_str() < STREAM_OPTIONS_SINCE
        {
            tracing::warn!(provider = name, api_version = %raw.api_version, "this API version rejects the stream_options the gateway adds to streamed requests; use 2024-10-21 or later");
        }
        let timeouts = http.timeouts;
        Ok(AzureProvider {
            name: name.to_owned(),
            endpoint: HttpEndpoint::new(base_url, http.client, timeouts.first_byte, None)?,
            auth,
            deployments,
            timeouts,
        })
    }
}

#[async_trait]
impl Provider for AzureProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "azure"
    }

    fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    async fn send(&self, call: ProviderCall) -> Result<ProviderResponse, AttemptError> {
        let (path, body) = self.deployments.target(call.endpoint, call.body)?;
        let mut headers = Vec::with_capacity(3);
        if call.stream {
            headers.push((ACCEPT, HeaderValue::from_static("text/event-stream")));
        }
        // A client key is a resource key, whatever the configured credential is.
        let auth = match &call.client_key {
            Some(key) => Some((API_KEY, key.plain())),
            None => self.auth.clone(),
        };
        if let Some(auth) = auth {
            headers.push(auth);
        }
        headers.extend(traceparent(&call.trace_id));
        self.endpoint.post(&path, headers, body).await
    }

    fn map_error(&self, status: StatusCode, body: Bytes) -> UpstreamError {
        error::map_error(status, body)
    }
}

#[cfg(test)]
mod tests;
