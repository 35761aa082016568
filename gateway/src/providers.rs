//! Provider adapters: one folder per upstream wire format.
//!
//! A provider takes an OpenAI-shaped request for one [`Endpoint`] and returns an
//! OpenAI-shaped response: whole bodies through [`Provider::translate_body`], streams through
//! a [`StreamTranslator`]. Adding a wire format (Anthropic, Gemini, Azure) is one new folder
//! implementing this trait plus one arm in `config::snapshot`.

pub mod anthropic;
pub mod azure;
pub mod gemini;
pub mod mock;
pub mod openai;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::byok::ClientKey;
use crate::openai::sse::SseEvent;
use crate::openai::usage::Usage;
use crate::upstream::body::UpstreamBody;

/// The LLM endpoints whose exchange the gateway owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Completions,
    Embeddings,
    Responses,
}

impl Endpoint {
    /// The path below the provider's base URL (which ends in `/v1` for OpenAI).
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "/chat/completions",
            Endpoint::Completions => "/completions",
            Endpoint::Embeddings => "/embeddings",
            Endpoint::Responses => "/responses",
        }
    }

    /// The path the client called, e.g. `/v1/chat/completions`, for messages.
    pub fn client_path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "/v1/chat/completions",
            Endpoint::Completions => "/v1/completions",
            Endpoint::Embeddings => "/v1/embeddings",
            Endpoint::Responses => "/v1/responses",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Responses => "responses",
        }
    }

    /// Whether `stream_options.include_usage` exists for this endpoint.
    pub fn has_stream_usage_option(self) -> bool {
        matches!(self, Endpoint::ChatCompletions | Endpoint::Completions)
    }
}

/// One attempt at one target.
pub struct ProviderCall {
    pub endpoint: Endpoint,
    /// The OpenAI-shaped request body, already rewritten for the target.
    pub body: Bytes,
    pub stream: bool,
    /// The W3C trace id, forwarded as `traceparent`.
    pub trace_id: Bytes,
    /// A client's own provider key (byok routes only): sent instead of the configured key,
    /// in the provider's own auth scheme.
    pub client_key: Option<ClientKey>,
}

/// What came back from the upstream, before its body was read.
pub struct ProviderResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: UpstreamBody,
}

/// A failure to get any response (nothing was received): always worth another target.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    #[error("connect/transport error: {0}")]
    Transport(String),
    #[error("no response within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Unsupported(String),
}

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub first_byte: Duration,
    pub idle: Duration,
}

#[async_trait]
pub trait Provider: Send + Sync {
    /// The name the config gave this provider.
    fn name(&self) -> &str;

    /// The provider type, for metrics and traces (`openai`, `mock`, ...).
    fn kind(&self) -> &'static str;

    fn timeouts(&self) -> Timeouts;

    /// Sends the request; the response body is read later by the pipeline.
    async fn send(&self, call: ProviderCall) -> Result<ProviderResponse, AttemptError>;

    /// Turns a whole successful upstream body into the OpenAI shape.
    fn translate_body(&self, _endpoint: Endpoint, body: Bytes) -> Bytes {
        body
    }

    /// Maps an upstream error response (any non-2xx) onto the OpenAI error shape and decides
    /// whether another attempt may succeed. OpenAI-compatible upstreams already speak the
    /// shape; other wire formats translate their error bodies here.
    fn map_error(&self, status: StatusCode, body: Bytes) -> UpstreamError {
        UpstreamError {
            status,
            body,
            retryable: crate::upstream::retry::is_retryable_status(status),
        }
    }

    /// A translator for one streamed response.
    fn stream_translator(
        &self,
        endpoint: Endpoint,
        strip_usage: bool,
    ) -> Box<dyn StreamTranslator> {
        Box::new(openai::stream::PassThrough::new(endpoint, strip_usage))
    }

    /// Where other `/v1/*` paths are proxied for this provider, if it has an HTTP upstream.
    fn passthrough_base(&self) -> Option<&PassthroughBase> {
        None
    }
}

/// An upstream error, already in the OpenAI shape.
#[derive(Debug, Clone)]
pub struct UpstreamError {
    pub status: StatusCode,
    /// An OpenAI-shaped error body (`{"error":{"message","type","param","code"}}`), or the raw
    /// body when it could not be understood (the gateway then wraps it).
    pub body: Bytes,
    pub retryable: bool,
}

/// Turns a provider's streamed events into OpenAI-shaped SSE bytes.
pub trait StreamTranslator: Send {
    /// Appends the client-facing bytes for one upstream event to `out`, and records usage.
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<u8>, usage: &mut Option<Usage>);

    /// Number of events that carried generated content so far (for usage estimates).
    fn content_events(&self) -> u64;
}

/// The parts of an HTTP provider's base URL that passthrough proxying needs.
#[derive(Debug, Clone)]
pub struct PassthroughBase {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// The base path, e.g. `/v1`; client paths under `/v1` are re-rooted here.
    pub path: String,
    pub authorization: Option<http::HeaderValue>,
}
