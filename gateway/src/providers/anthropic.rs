//! Anthropic's Messages API behind the OpenAI chat completions interface.
//!
//! ```yaml
//! providers:
//!   claude:
//!     type: anthropic
//!     base_url: https://api.anthropic.com/v1   # the default; ${VAR} / ${VAR:-default} expand
//!     api_key_env: ANTHROPIC_API_KEY           # sent as `x-api-key`
//!     api_version: "2023-06-01"                # the `anthropic-version` header (default)
//!     default_max_tokens: 4096                 # when the request sets no max tokens (default)
//!     timeouts: { connect_ms: 5000, first_byte_ms: 120000, idle_ms: 60000 }
//! ```
//!
//! Only `/v1/chat/completions` is served (`POST {base_url}/messages`); other endpoints, and
//! requests Anthropic cannot express (`n` > 1, `logprobs`, audio, legacy `functions`), are
//! refused with a 400 before anything is sent. What is translated, and how:
//! - `request.rs` (with `messages.rs`, `content.rs` and `tools.rs`): `system` / `developer`
//!   messages (wherever they appear) become the top-level `system`; user and assistant turns
//!   (consecutive turns of one role merged); `image_url` parts (`data:` URLs as base64
//!   sources, http(s) URLs as `url` sources) and PDF `file` parts; assistant `tool_calls` →
//!   `tool_use` blocks; `tool` messages → `tool_result` blocks in one user turn; `tools`,
//!   `tool_choice`, `parallel_tool_calls`; `stop`; `max_completion_tokens` / `max_tokens`;
//!   `temperature` (clamped to Anthropic's 0..1); `top_p`; `user` → `metadata.user_id`;
//!   `response_format` (a forced tool or an instruction, see `request.rs`). Parameters without
//!   an Anthropic equivalent (`seed`, penalties, `logit_bias`, `service_tier`, `store`,
//!   `metadata`, `reasoning_effort`, ...) are ignored.
//! - `response.rs`: text blocks → `message.content`, `tool_use` → `tool_calls`, `stop_reason`
//!   → `finish_reason`, usage with cache reads and writes counted as prompt tokens.
//! - `stream.rs` (with `chunk.rs`): the Messages event stream → `chat.completion.chunk` events.
//! - `error.rs`: Anthropic error bodies → OpenAI error bodies, statuses and retryability.

mod chunk;
mod content;
mod error;
mod messages;
mod request;
mod response;
mod stream;
mod tools;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, ACCEPT};
use http::StatusCode;

use super::{
    AttemptError, Endpoint, Provider, ProviderCall, ProviderResponse, StreamTranslator, Timeouts,
    UpstreamError,
};
use crate::config::http_provider::{secret, sensitive_header, HttpProviderSettings};
use crate::config::raw::RawAnthropicProvider;
use crate::upstream::client::ClientFactory;
use crate::upstream::http::{traceparent, HttpEndpoint};

const API_KEY: HeaderName = HeaderName::from_static("x-api-key");
const VERSION: HeaderName = HeaderName::from_static("anthropic-version");

pub struct AnthropicProvider {
    name: String,
    endpoint: HttpEndpoint,
    api_key: Option<HeaderValue>,
    version: HeaderValue,
    default_max_tokens: u32,
    timeouts: Timeouts,
}

impl AnthropicProvider {
    /// Builds the provider from its config; `env` looks up environment variables.
    pub fn from_config(
        name: &str,
        raw: &RawAnthropicProvider,
        clients: &ClientFactory,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let api_key = match raw
            .api_key_env
            .as_deref()
            .and_then(|var| secret(name, var, env))
        {
            Some(key) => Some(sensitive_header(API_KEY, key)?.1),
            None => None,
        };
        let version = HeaderValue::from_str(&raw.api_version)
            .map_err(|_| "api_version contains characters not allowed in a header".to_owned())?;
        if raw.default_max_tokens == 0 {
            return Err("default_max_tokens must be greater than 0".into());
        }
        let http = HttpProviderSettings::resolve(&raw.base_url, raw.timeouts, false, clients, env)?;
        let timeouts = http.timeouts;
        // No passthrough credentials: Anthropic's other endpoints are not OpenAI's.
        let endpoint = HttpEndpoint::new(&http.base_url, http.client, timeouts.first_byte, None)?;
        Ok(AnthropicProvider {
            name: name.to_owned(),
            endpoint,
            api_key,
            version,
            default_max_tokens: raw.default_max_tokens,
            timeouts,
        })
    }
}

#[async_trait]
impl Provider for AnthropicProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "anthropic"
    }

    fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    async fn send(&self, call: ProviderCall) -> Result<ProviderResponse, AttemptError> {
        if call.endpoint != Endpoint::ChatCompletions {
            return Err(AttemptError::Unsupported(format!(
                "The provider `{}` (Anthropic) serves only /v1/chat/completions, not {}.",
                self.name,
                call.endpoint.client_path()
            )));
        }
        let body = request::translate(&call.body, call.stream, self.default_max_tokens)
            .map_err(AttemptError::Unsupported)?;
        let mut headers = Vec::with_capacity(4);
        if call.stream {
            headers.push((ACCEPT, HeaderValue::from_static("text/event-stream")));
        }
        let key = match &call.client_key {
            Some(key) => Some(key.plain()),
            None => self.api_key.clone(),
        };
        if let Some(key) = key {
            headers.push((API_KEY, key));
        }
        headers.push((VERSION, self.version.clone()));
        headers.extend(traceparent(&call.trace_id));
        self.endpoint
            .post("/messages", headers, Bytes::from(body))
            .await
    }

    fn translate_body(&self, _endpoint: Endpoint, body: Bytes) -> Bytes {
        match response::translate(&body) {
            Ok(translated) => Bytes::from(translated),
            Err(e) => {
                tracing::warn!(provider = %self.name, error = %e, "could not translate an Anthropic response; relaying it as is");
                body
            }
        }
    }

    fn map_error(&self, status: StatusCode, body: Bytes) -> UpstreamError {
        error::map(status, &body)
    }

    fn stream_translator(
        &self,
        _endpoint: Endpoint,
        strip_usage: bool,
    ) -> Box<dyn StreamTranslator> {
        Box::new(stream::Translator::new(strip_usage))
    }
}
