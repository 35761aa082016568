//! One HTTP upstream (a base URL) and the POST exchange every HTTP provider uses.
//! Providers build the path, headers and body of their wire format; this sends them over the
//! gateway's pooled client and enforces the first-byte timeout.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Uri};
use http_body_util::Full;

use super::body::UpstreamBody;
use super::client::HttpClient;
use crate::providers::{AttemptError, PassthroughBase, ProviderResponse};

pub struct HttpEndpoint {
    /// Without a trailing slash, e.g. `https://api.openai.com/v1`.
    base_url: String,
    client: HttpClient,
    first_byte_timeout: Duration,
    passthrough: PassthroughBase,
}

impl HttpEndpoint {
    /// `authorization` is what passthrough requests carry (providers add their own headers
    /// to `post` calls).
    pub fn new(
        base_url: &str,
        client: HttpClient,
        first_byte_timeout: Duration,
        authorization: Option<HeaderValue>,
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
        if uri.query().is_some() {
            return Err(format!(
                "base_url `{base_url}` must not have a query string"
            ));
        }
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let passthrough = PassthroughBase {
            tls,
            host,
            port,
            path: uri.path().trim_end_matches('/').to_owned(),
            authorization,
        };
        Ok(HttpEndpoint {
            base_url,
            client,
            first_byte_timeout,
            passthrough,
        })
    }

    pub fn passthrough(&self) -> &PassthroughBase {
        &self.passthrough
    }

    /// POSTs a JSON body to `base_url + path_and_query` with the given extra headers.
    pub async fn post(
        &self,
        path_and_query: &str,
        headers: Vec<(HeaderName, HeaderValue)>,
        body: Bytes,
    ) -> Result<ProviderResponse, AttemptError> {
        let mut url = String::with_capacity(self.base_url.len() + path_and_query.len());
        url.push_str(&self.base_url);
        url.push_str(path_and_query);
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(Full::new(body))
            .map_err(|e| AttemptError::Transport(e.to_string()))?;
        let first_byte = self.first_byte_timeout;
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
}

/// A W3C `traceparent` header for a 32-hex trace id (the span id reuses its first half).
pub fn traceparent(trace_id: &[u8]) -> Option<(HeaderName, HeaderValue)> {
    if trace_id.len() != 32 {
        return None;
    }
    let mut value = Vec::with_capacity(55);
    value.extend_from_slice(b"00-");
    value.extend_from_slice(trace_id);
    value.extend_from_slice(b"-");
    value.extend_from_slice(&trace_id[..16]);
    value.extend_from_slice(b"-01");
    HeaderValue::from_bytes(&value)
        .ok()
        .map(|v| (HeaderName::from_static("traceparent"), v))
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
