//! OpenAI and every OpenAI-compatible server (vLLM, Ollama, llama.cpp): the wire format is
//! the gateway's own, so requests and responses pass through unchanged.

pub mod stream;

use async_trait::async_trait;
use http::header::{HeaderValue, ACCEPT, AUTHORIZATION};

use super::{AttemptError, PassthroughBase, Provider, ProviderCall, ProviderResponse, Timeouts};
use crate::upstream::client::HttpClient;
use crate::upstream::http::{traceparent, HttpEndpoint};

pub struct OpenAiProvider {
    name: String,
    endpoint: HttpEndpoint,
    authorization: Option<HeaderValue>,
    timeouts: Timeouts,
}

impl OpenAiProvider {
    pub fn new(
        name: String,
        base_url: &str,
        api_key: Option<String>,
        client: HttpClient,
        timeouts: Timeouts,
    ) -> Result<Self, String> {
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
        let endpoint =
            HttpEndpoint::new(base_url, client, timeouts.first_byte, authorization.clone())?;
        Ok(OpenAiProvider {
            name,
            endpoint,
            authorization,
            timeouts,
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
        let mut headers = Vec::with_capacity(3);
        if call.stream {
            headers.push((ACCEPT, HeaderValue::from_static("text/event-stream")));
        }
        let auth = match &call.client_key {
            Some(key) => Some(key.bearer()),
            None => self.authorization.clone(),
        };
        if let Some(auth) = auth {
            headers.push((AUTHORIZATION, auth));
        }
        headers.extend(traceparent(&call.trace_id));
        self.endpoint
            .post(call.endpoint.path(), headers, call.body)
            .await
    }

    fn passthrough_base(&self) -> Option<&PassthroughBase> {
        Some(self.endpoint.passthrough())
    }
}
