//! The `mock` provider: deterministic OpenAI-shaped answers with no network, for the
//! quickstart, demos and tests.
//!
//! ```yaml
//! providers:
//!   fake:
//!     type: mock
//!     response: echo          # `echo` (default) or `fixed`
//!     text: "Hello!"          # the answer in `fixed` mode (default "This is a mock response.")
//!     words_per_chunk: 1      # words per streamed content chunk (default 1)
//! ```
//!
//! # What it answers
//!
//! **Reply text.** In `echo` mode, the text of the last `user` message: its string content, or
//! the concatenated `text` parts of an array content, followed by ` [N image(s)]` when it has
//! `image_url` parts and ` [N audio clip(s)]` when it has `input_audio` parts (empty when there
//! is no user message). In `fixed` mode, the configured `text`.
//!
//! **`/v1/chat/completions`.** A `chat.completion` object like OpenAI's: `id`
//! (`chatcmpl-mock-` and 16 hex digits hashed from the request body, so the same request gets
//! the same id), `created` (now), the request's `model`, `system_fingerprint: "fp_mock"`,
//! `n` identical choices (default 1, at most 128) and `usage`.
//! - `max_completion_tokens` / `max_tokens` cut the reply to that many words, with
//!   `finish_reason: "length"`; otherwise `"stop"`.
//! - `logprobs: true` adds one `logprobs.content` entry per word (logprob 0, the UTF-8 bytes,
//!   and `top_logprobs` (0 to 20) alternatives: the word, then placeholders at -9999).
//! - `response_format: {type: json_object}` answers `{"response": <reply text>}`;
//!   `{type: json_schema, json_schema: {schema}}` answers compact JSON synthesised to validate
//!   against the schema (objects with their properties, strings `"string"` or the first
//!   `enum`/`const` value, numbers 0 or their minimum, booleans `true`, arrays with one item
//!   or `minItems`, `anyOf`/`oneOf` first branch, `allOf` merged, local `$ref`s; `pattern` and
//!   `not` are ignored). `max_tokens` cuts the reply inside `json_object` output and does not
//!   cut `json_schema` output, so both stay valid JSON.
//! - Tools: when `tools` has functions and `tool_choice` is not `"none"`, and the last message
//!   is not a `tool` result, the answer is `tool_calls` (content null, `finish_reason:
//!   "tool_calls"`) with ids `call_mock_0`, `call_mock_1`, ... and arguments synthesised from
//!   each function's `parameters`: only the named function for `tool_choice: {type: function,
//!   function: {name}}`, only the first function with `parallel_tool_calls: false`, otherwise
//!   every function once. After a `tool` message the answer is text, so agent loops end.
//!
//! **Streaming** (`stream: true`). `text/event-stream`, one `data: {json}\n\n` event per body
//! chunk, every chunk a `chat.completion.chunk` with the same id: a role chunk per choice, then
//! content chunks of `words_per_chunk` words (each word keeps its leading whitespace, so the
//! deltas concatenate to exactly the whole answer; choices interleave), or for tool calls a
//! chunk per call with `id`, `type`, `function.name` and empty arguments followed by argument
//! fragments of about 8 bytes; then a final chunk per choice with an empty delta and the
//! `finish_reason`; with `stream_options.include_usage`, a last chunk with `choices: []` and
//! `usage` (every earlier chunk then has `"usage": null`); then `data: [DONE]`.
//!
//! **`/v1/completions`.** A `text_completion` object (`id` `cmpl-mock-...`); `prompt` is a
//! string, an array of strings, or token ids; `echo` mode answers each prompt with itself, one
//! choice per prompt (times `n`); `max_tokens` cuts words; `echo: true` prefixes the prompt.
//! Streams `text_completion` chunks the same way as chat (no role chunk).
//!
//! **`/v1/embeddings`.** `input` is a string, an array of strings, an array of token ids, or an
//! array of arrays of token ids; each input gets a unit-length (L2) vector of `dimensions`
//! (default 8, 1 to 4096) pseudo-random numbers seeded by a hash of the input, so the same
//! input always embeds the same. `encoding_format: base64` gives the little-endian `f32` bytes
//! in standard base64.
//!
//! **`/v1/responses`** is not implemented: 400.
//!
//! **Token estimate.** Chat `prompt_tokens` is the sum over messages of `3 + ceil(chars / 4)`
//! of the message text; completions and embeddings count `ceil(chars / 4)` per prompt (token
//! id prompts count their ids). `completion_tokens` is the number of whitespace-separated words
//! generated (at least 1 per choice; arguments' words for tool calls), summed over choices.
//! Cached and reasoning tokens are always 0.
//!
//! **Errors.** Requests a real upstream would reject (a body that is not a JSON object, missing
//! or invalid `messages`, `prompt` or `input`, out-of-range `n`, `dimensions`, `max_tokens`,
//! wrongly typed parameters) get 400 with an OpenAI error body
//! (`{"error":{"message","type":"invalid_request_error","param","code":null}}`). Every response
//! has an `x-request-id: req_mock_<hash>` header.

mod chat;
mod completions;
mod embeddings;
mod request;
mod schema;
mod stream;
mod text;
mod tools;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::{AttemptError, Endpoint, Provider, ProviderCall, ProviderResponse, Timeouts};
use crate::config::raw::{MockResponseMode, RawMockProvider};
use crate::upstream::body::UpstreamBody;
use request::{BadRequest, Ctx, Output};

const DEFAULT_TEXT: &str = "This is a mock response.";

pub struct MockProvider {
    name: String,
    mode: MockResponseMode,
    text: String,
    words_per_chunk: usize,
}

impl MockProvider {
    pub fn new(name: String, raw: &RawMockProvider) -> MockProvider {
        MockProvider {
            name,
            mode: raw.response,
            text: raw.text.clone().unwrap_or_else(|| DEFAULT_TEXT.to_owned()),
            words_per_chunk: raw.words_per_chunk.unwrap_or(1).max(1),
        }
    }

    /// The whole exchange, synchronously: status, content type and body chunks.
    fn respond(&self, call: &ProviderCall) -> ProviderResponse {
        let hash = text::hex16(&call.body);
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let ctx = Ctx {
            mode: self.mode,
            fixed_text: &self.text,
            words_per_chunk: self.words_per_chunk,
            hash: &hash,
            created,
        };
        let (status, content_type, chunks) = match answer(call, &ctx) {
            Ok(Output::Json(value)) => (
                StatusCode::OK,
                "application/json",
                vec![Bytes::from(value.to_string())],
            ),
            Ok(Output::Sse(events)) => (StatusCode::OK, "text/event-stream", events),
            Err(bad) => (
                StatusCode::BAD_REQUEST,
                "application/json",
                vec![bad.to_body()],
            ),
        };
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Ok(id) = HeaderValue::from_str(&format!("req_mock_{hash}")) {
            headers.insert("x-request-id", id);
        }
        ProviderResponse {
            status,
            headers,
            body: UpstreamBody::memory(chunks),
        }
    }
}

fn answer(call: &ProviderCall, ctx: &Ctx<'_>) -> Result<Output, BadRequest> {
    let responses_unsupported = || {
        BadRequest::new(
            "The mock provider does not implement the Responses API (/v1/responses); \
             use /v1/chat/completions.",
            None,
        )
    };
    if call.endpoint == Endpoint::Responses {
        return Err(responses_unsupported());
    }
    let req = match serde_json::from_slice::<Value>(&call.body) {
        Ok(Value::Object(req)) => req,
        Ok(_) => {
            return Err(BadRequest::new(
                "The request body must be a JSON object.",
                None,
            ))
        }
        Err(e) => {
            return Err(BadRequest::new(
                format!("We could not parse the JSON body of your request: {e}"),
                None,
            ))
        }
    };
    let stream = call.stream || request::opt_bool(&req, "stream")?.unwrap_or(false);
    match call.endpoint {
        Endpoint::ChatCompletions => chat::respond(&req, ctx, stream),
        Endpoint::Completions => completions::respond(&req, ctx, stream),
        Endpoint::Embeddings => embeddings::respond(&req),
        Endpoint::Responses => Err(responses_unsupported()),
    }
}

#[async_trait]
impl Provider for MockProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "mock"
    }

    fn timeouts(&self) -> Timeouts {
        Timeouts {
            first_byte: Duration::from_secs(60),
            idle: Duration::from_secs(60),
        }
    }

    async fn send(&self, call: ProviderCall) -> Result<ProviderResponse, AttemptError> {
        Ok(self.respond(&call))
    }
}
