//! OpenAI and every OpenAI-compatible server (vLLM, Ollama, llama.cpp): the wire format is
//! the gateway's own, so requests and responses pass through unchanged.

pub mod stream;

use std::time::Duration;

use async_trait::async_trait;
use http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Request, Uri};
use http_body_util::Full;

use super::{AttemptError, PassthroughBase, Provider, ProviderCall, ProviderResponse, Timeouts};
use crate::upstream::body::UpstreamBody;
use crate::upstream::client::HttpClient;

pub struct OpenAiProvider {
    name: String,
    /// Base URL without a trailing slash, e.g. `https://api.openai.com/v1`.
    base_url: String,
    authorization: Option<HeaderValue>,
    client: HttpClient,
    timeouts: Timeouts,
    passthrough: PassthroughBase,
}

impl OpenAiProvider {
    pub fn new(
        name: String,
        base_url: &str,
        api_key: Option<String>,
        client: HttpClient,
        timeouts: Timeouts,
    ) -> Result<Self, String> {
        let base_url = base_url.trim_end_matches('/').to_owned();
        let uri: Uri = base_url
            .parse()
            .map_err(|e| format!("base_url `{base_url}` is not a URL: {e}"))?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(format!(
                    "base_url `{base_url}` must start with http:// or https://"
                ))
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| format!("base_url `{base_url}` has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let authorization = match api_key {
            Some(key) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                    "the API key contains characters not allowed in a header".to_owned()
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let passthrough = PassthroughBase {
            tls,
            host,
            port,
            path: uri.path().trim_end_matches('/').to_owned(),
            authorization: authorization.clone(),
        };
        Ok(OpenAiProvider {
            name,
            base_url,
            authorization,
            client,
            timeouts,
            passthrough,
        })
    }
}

#[async_trait]
impl Provider for OpenAiProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "openai"
    }

    fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    async fn send(&self, call: ProviderCall) -> Result<ProviderResponse, AttemptError> {
        let mut url = String::with_capacity(self.base_url.len() + 20);
        url.push_str(&self.base_url);
        url.push_str(call.endpoint.path());
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if call.stream {
            builder = builder.header(http::header::ACCEPT, "text/event-stream");
        }
        if let Some(auth) = &self.authorization {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        if !call.trace_id.is_empty() {
            let mut traceparent = Vec::with_capacity(55);
            traceparent.extend_from_slice(b"00-");
            traceparent.extend_from_slice(&call.trace_id);
            traceparent.extend_from_slice(b"-");
            traceparent.extend_from_slice(&call.trace_id[..16.min(call.trace_id.len())]);
            traceparent.extend_from_slice(b"-01");
            if let Ok(value) = HeaderValue::from_bytes(&traceparent) {
                builder = builder.header("traceparent", value);
            }
        }
        let request = builder
            .body(Full::new(call.body))
            .map_err(|e| AttemptError::Transport(e.to_string()))?;
        let first_byte = self.timeouts.first_byte;
        let response = tokio::time::timeout(first_byte, self.client.request(request))
            .await
            .map_err(|_| AttemptError::Timeout(first_byte))?
            .map_err(|e| AttemptError::Transport(describe_client_error(&e)))?;
        let (parts, body) = response.into_parts();
        Ok(ProviderResponse {
            status: parts.status,
            headers: parts.headers,
            body: UpstreamBody::Network(body),
        })
    }

    fn passthrough_base(&self) -> Option<&PassthroughBase> {
        Some(&self.passthrough)
    }
}

/// hyper-util's errors hide their cause; walk the chain for a useful message.
fn describe_client_error(err: &hyper_util::client::legacy::Error) -> String {
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Default timeouts for tests and examples.
pub fn default_timeouts() -> Timeouts {
    Timeouts {
        first_byte: Duration::from_secs(120),
        idle: Duration::from_secs(60),
    }
}
