//! Google's Gemini API (`generativelanguage.googleapis.com`): OpenAI requests are translated
//! to Gemini's `generateContent` wire format and the answers back to the OpenAI shape.
//!
//! ```yaml
//! providers:
//!   google:
//!     type: gemini
//!     base_url: https://generativelanguage.googleapis.com/v1beta   # the default
//!     api_key_env: GEMINI_API_KEY     # sent as `x-goog-api-key`
//!     timeouts: { connect_ms: 5000, first_byte_ms: 120000, idle_ms: 60000 }
//! routes:
//!   - model: gemini-flash
//!     targets: [ { provider: google, model: gemini-2.5-flash } ]
//! ```
//!
//! # Endpoints
//!
//! - `/v1/chat/completions` → `POST {base_url}/models/{model}:generateContent`, or for
//!   `stream: true` `POST {base_url}/models/{model}:streamGenerateContent?alt=sse`. A `model`
//!   of `models/x` is sent as `x`.
//! - `/v1/embeddings` → `POST {base_url}/models/{model}:batchEmbedContents`, one request per
//!   input string (`dimensions` → `outputDimensionality`; `encoding_format: base64` gives the
//!   little-endian `f32` bytes). Gemini reports no token counts for embeddings: `usage` is the
//!   gateway's estimate of `ceil(chars / 4)` tokens per input. Token-id inputs are refused;
//!   an answer that is not one embedding per input is a transport error (502, retried).
//! - `/v1/completions` and `/v1/responses` are not implemented: 400 `unsupported_endpoint`.
//! - Other `/v1/*` paths are not proxied to Gemini (its API has no such paths).
//!
//! # Request (see [`request`])
//!
//! - `system` and `developer` messages → `systemInstruction` (all of them, wherever they are
//!   in the conversation, in order); `user` → role `user`; `assistant` → role `model`;
//!   consecutive messages of the same Gemini role are merged into one `Content`.
//! - Content parts: `text`; `image_url` with a `data:` URL → `inlineData {mimeType, data}`,
//!   any other URL → `fileData {fileUri}` (with a `mimeType` guessed from a known image
//!   extension); `input_audio` → `inlineData` (`audio/wav`, `audio/mp3`, ...); `file` with
//!   `file_data` → `inlineData` (`file_id` is refused). Empty text parts are dropped.
//! - `assistant.tool_calls` → `functionCall {name, args}` parts (arguments must be a JSON
//!   object); `tool` messages → `functionResponse {name, response}` parts in a `user` turn,
//!   the name taken from the nearest earlier assistant tool call with that `tool_call_id`.
//!   The response is the tool output when it is a JSON object, else `{"output": "<text>"}`.
//! - Thought signatures: a tool call the gateway returned carries Gemini's
//!   `thoughtSignature` in `extra_content.google.thought_signature` (as Google's own OpenAI
//!   endpoint does); sent back, it is restored on the `functionCall` part. When the first
//!   call of an assistant turn has none (history from another model or a client that drops
//!   unknown fields), the documented placeholder `skip_thought_signature_validator` is sent
//!   so that Gemini 3 models accept the history.
//! - `tools` (function tools) → `tools: [{functionDeclarations: [{name, description,
//!   parameters}]}]`. Gemini's `parameters` accept only an OpenAPI subset of JSON Schema, so
//!   the schema is rewritten (see [`schema`]): local `$ref`s are inlined, `oneOf` becomes
//!   `anyOf`, `const` a one-value `enum`, `"type": [t, "null"]` becomes `type` + `nullable`,
//!   `allOf` is merged, and every keyword Gemini rejects (`additionalProperties`, `$schema`,
//!   `$defs`, `patternProperties`, `exclusiveMinimum`, `not`, formats other than `date-time`,
//!   `enum`, `int32`, `int64`, `float`, `double`, ...) is dropped; a function whose parameters
//!   are an object without properties is declared without `parameters`.
//! - `tool_choice` → `toolConfig.functionCallingConfig`: `auto` → `AUTO`, `none` → `NONE`,
//!   `required` → `ANY`, a named function → `ANY` + `allowedFunctionNames`;
//!   `allowed_tools` keeps only the listed functions (`ANY` + `allowedFunctionNames` for
//!   `required`). `parallel_tool_calls` has no Gemini counterpart and is ignored.
//! - `response_format`: `json_object` → `generationConfig.responseMimeType:
//!   application/json`; `json_schema` → the same plus `responseJsonSchema` (Gemini's field
//!   that takes JSON Schema as is, `additionalProperties` and `$ref` included, rather than
//!   `responseSchema`'s OpenAPI subset).
//! - `generationConfig`: `temperature`, `top_p` → `topP`, `max_completion_tokens` (or
//!   `max_tokens`) → `maxOutputTokens`, `stop` → `stopSequences`, `n` → `candidateCount`,
//!   `seed`, `presence_penalty` → `presencePenalty`, `frequency_penalty` →
//!   `frequencyPenalty`.
//! - `reasoning_effort` → `generationConfig.thinkingConfig`: for `gemini-2*` models a
//!   `thinkingBudget` (`none` 0, `minimal` and `low` 1024, `medium` 8192, `high` 24576, the
//!   budgets Google's own OpenAI endpoint uses), for other models a `thinkingLevel`
//!   (`minimal`, `low`, `medium`, `high`; `none` → `minimal`, as they cannot turn thinking
//!   off).
//! - Ignored: `logprobs`, `top_logprobs`, `logit_bias`, `user`, `metadata`, `store`,
//!   `service_tier`, `stream_options`, `modalities`, `audio`, `prediction`,
//!   `web_search_options`.
//! - A request Gemini cannot express (an unknown role or part type, `file_id`, a tool
//!   message that answers no earlier tool call, a system-only conversation, a wrongly typed
//!   field, ...) is refused before anything is sent: 400 `unsupported_endpoint` with a
//!   message naming the field.
//!
//! # Response (see [`response`])
//!
//! `chat.completion` with `id` `chatcmpl-<responseId>`, `model` = Gemini's `modelVersion`;
//! each candidate is a choice: its text parts joined (parts marked `thought` are left out);
//! `functionCall` parts → `tool_calls` with ids `call_<12 hex digits>_<n>` (unique per
//! response) and the arguments as a JSON string. `finishReason`: `STOP` → `stop` (or
//! `tool_calls` when the candidate called a function), `MAX_TOKENS` → `length`, `SAFETY`,
//! `RECITATION`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `SPII`, `IMAGE_SAFETY` → `content_filter`,
//! anything else → `stop`. A prompt Gemini blocked (`promptFeedback.blockReason`, no
//! candidates) is one choice with empty content and `finish_reason: content_filter`.
//! `usageMetadata`: `prompt_tokens` = `promptTokenCount` (+ `toolUsePromptTokenCount`),
//! `completion_tokens` = `candidatesTokenCount` + `thoughtsTokenCount`, `total_tokens` =
//! `totalTokenCount`, `cachedContentTokenCount` → `prompt_tokens_details.cached_tokens`,
//! `thoughtsTokenCount` → `completion_tokens_details.reasoning_tokens`.
//!
//! # Streaming (see [`stream`])
//!
//! Each SSE event of Gemini's stream is one response chunk; it becomes `chat.completion.chunk`
//! events: a role chunk per choice first, text deltas, each function call as two tool-call
//! deltas (`index`, `id`, `type`, `function.name` and empty `arguments`, then the whole
//! `arguments`), and a chunk with the `finish_reason`. Once every choice has finished (Gemini
//! sends the last `finishReason` with the final `usageMetadata`), a usage chunk (`choices:
//! []`) when the client asked for `stream_options.include_usage` (every other chunk then has
//! `"usage": null`), then `data: [DONE]`. An error event inside the stream becomes an OpenAI
//! error event and no `[DONE]` follows.
//!
//! # Errors (see [`error`])
//!
//! Google's `{"error":{"code","message","status","details"}}` becomes the OpenAI shape by
//! `status`: `INVALID_ARGUMENT`, `FAILED_PRECONDITION`, `OUT_OF_RANGE` → 400
//! `invalid_request_error` (`code: context_length_exceeded` when the input token count
//! exceeds the model's limit; an invalid API key, reason `API_KEY_INVALID`, → 401),
//! `UNAUTHENTICATED` → 401 `authentication_error`, `PERMISSION_DENIED` → 403
//! `permission_error`, `NOT_FOUND` → 404 (`model_not_found` for models), `RESOURCE_EXHAUSTED`
//! → 429 `rate_limit_error`, `ABORTED` → 409, `INTERNAL`, `UNKNOWN` → 500, `UNAVAILABLE` →
//! 503, `DEADLINE_EXCEEDED` → 504 (`server_error`); 409, 429 and 5xx are retried.

pub mod embeddings;
pub mod error;
pub mod request;
pub mod response;
pub mod schema;
pub mod stream;
mod wire;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};

use super::{
    AttemptError, Endpoint, Provider, ProviderCall, ProviderResponse, StreamTranslator, Timeouts,
    UpstreamError,
};
use crate::upstream::body::{BodyError, UpstreamBody};
use crate::upstream::client::HttpClient;
use crate::upstream::http::{traceparent, HttpEndpoint};

const API_KEY: HeaderName = HeaderName::from_static("x-goog-api-key");

/// The largest embeddings response read to translate it.
const MAX_EMBEDDINGS_BODY: usize = 256 * 1024 * 1024;

pub struct GeminiProvider {
    name: String,
    endpoint: HttpEndpoint,
    api_key: Option<HeaderValue>,
    timeouts: Timeouts,
}

impl GeminiProvider {
    pub fn new(
        name: String,
        base_url: &str,
        api_key: Option<String>,
        client: HttpClient,
        timeouts: Timeouts,
    ) -> Result<Self, String> {
        let api_key = match api_key {
            Some(key) => {
                let mut value = HeaderValue::from_str(&key).map_err(|_| {
                    "the API key contains characters not allowed in a header".to_owned()
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        // Other `/v1/*` paths have no Gemini counterpart: no passthrough credentials.
        let endpoint = HttpEndpoint::new(base_url, client, timeouts.first_byte, None)?;
        Ok(GeminiProvider {
            name,
            endpoint,
            api_key,
            timeouts,
        })
    }

    fn headers(&self, call: &ProviderCall, stream: bool) -> Vec<(HeaderName, HeaderValue)> {
        let mut headers = Vec::with_capacity(3);
        if stream {
            headers.push((ACCEPT, HeaderValue::from_static("text/event-stream")));
        }
        let key = match &call.client_key {
            Some(key) => Some(key.plain()),
            None => self.api_key.clone(),
        };
        if let Some(key) = key {
            headers.push((API_KEY, key));
        }
        headers.extend(traceparent(&call.trace_id));
        headers
    }

    async fn chat(&self, call: ProviderCall) -> Result<ProviderResponse, AttemptError> {
        let translated = request::translate(&call.body).map_err(AttemptError::Unsupported)?;
        let method = if call.stream {
            "streamGenerateContent?alt=sse"
        } else {
            "generateContent"
        };
        let path = format!("/models/{}:{method}", translated.model);
        let headers = self.headers(&call, call.stream);
        self.endpoint
            .post(&path, headers, Bytes::from(translated.body))
            .await
    }

    /// Embeddings are translated here, whole, because the OpenAI answer needs the request
    /// (the model name and the input sizes for the usage estimate).
    async fn embeddings(&self, call: ProviderCall) -> Result<ProviderResponse, AttemptError> {
        let mut translated =
            embeddings::translate(&call.body).map_err(AttemptError::Unsupported)?;
        let path = format!("/models/{}:batchEmbedContents", translated.model);
        let headers = self.headers(&call, false);
        let body = Bytes::from(std::mem::take(&mut translated.body));
        let response = self.endpoint.post(&path, headers, body).await?;
        if !response.status.is_success() {
            return Ok(response);
        }
        let body = response
            .body
            .collect(self.timeouts.idle, MAX_EMBEDDINGS_BODY)
            .await
            .map_err(|e| match e {
                BodyError::Idle(d) => AttemptError::Timeout(d),
                other => AttemptError::Transport(other.to_string()),
            })?;
        let body =
            embeddings::translate_response(&body, &translated).map_err(AttemptError::Transport)?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(ProviderResponse {
            status: response.status,
            headers,
            body: UpstreamBody::memory([body]),
        })
    }
}

#[async_trait]
impl Provider for GeminiProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "gemini"
    }

    fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    async fn send(&self, call: ProviderCall) -> Result<ProviderResponse, AttemptError> {
        match call.endpoint {
            Endpoint::ChatCompletions => self.chat(call).await,
            Endpoint::Embeddings => self.embeddings(call).await,
            Endpoint::Completions | Endpoint::Responses => Err(AttemptError::Unsupported(format!(
                "The gemini provider does not implement {}; use /v1/chat/completions.",
                call.endpoint.client_path()
            ))),
        }
    }

    fn translate_body(&self, endpoint: Endpoint, body: Bytes) -> Bytes {
        match endpoint {
            Endpoint::ChatCompletions => response::translate(&body).unwrap_or(body),
            // Embeddings were translated in `send`.
            _ => body,
        }
    }

    fn map_error(&self, status: StatusCode, body: Bytes) -> UpstreamError {
        error::map_error(status, body)
    }

    fn stream_translator(
        &self,
        _endpoint: Endpoint,
        strip_usage: bool,
    ) -> Box<dyn StreamTranslator> {
        Box::new(stream::GeminiStream::new(!strip_usage))
    }
}
