//! The client's HTTP(S) connection to the control plane: JSON in, JSON out, the server's
//! OpenAI-shaped errors turned into `CliError::Api`.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request};
use promptgate::upstream::client::{ClientFactory, ClientKey, HttpClient};
use serde_json::Value;

use super::CliError;

pub use promptgate::managed::control::encode;

/// Longest wait for one whole request (connect, send, read the answer).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT_MS: u64 = 10_000;

/// A control plane at `base` (e.g. `http://127.0.0.1:7070`), called with one API key.
pub struct ControlPlane {
    client: HttpClient,
    base: String,
    key: Option<String>,
}

impl ControlPlane {
    pub fn new(base: &str, key: Option<String>) -> Result<ControlPlane, CliError> {
        let base = base.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(CliError::Usage(format!(
                "control plane URL must start with http:// or https://, got {base:?}"
            )));
        }
        // The gateway's own pooled client (rustls, webpki roots), as its managed mode uses.
        let client = ClientFactory::default()
            .client(ClientKey {
                connect_timeout_ms: CONNECT_TIMEOUT_MS,
                http2_prior_knowledge: false,
            })
            .map_err(CliError::Local)?;
        Ok(ControlPlane {
            client,
            base: base.to_owned(),
            key,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, CliError> {
        self.call(Method::DELETE, path, None).await
    }

    /// Sends one request to `base + path`; a 2xx answer's JSON (or `null` when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        let url = format!("{}{path}", self.base);
        let mut req = Request::builder().method(method).uri(&url);
        if let Some(key) = &self.key {
            let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                CliError::Usage("the API key contains characters a header cannot carry".into())
            })?;
            value.set_sensitive(true);
            req = req.header(AUTHORIZATION, value);
        }
        let payload = match body {
            Some(b) => {
                req = req.header(CONTENT_TYPE, "application/json");
                Bytes::from(b.to_string())
            }
            None => Bytes::new(),
        };
        let req = req
            .body(Full::new(payload))
            .map_err(|e| CliError::Usage(format!("bad request URL {url:?}: {e}")))?;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| self.failed(&e))?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| self.failed(&e))?
                .to_bytes();
            Ok::<_, CliError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| {
                CliError::Unreachable(format!(
                    "control plane at {} did not answer within {}s",
                    self.base,
                    REQUEST_TIMEOUT.as_secs()
                ))
            })??;
        let json = if bytes.is_empty() {
            Ok(Value::Null)
        } else {
            serde_json::from_slice::<Value>(&bytes)
        };
        if status.is_success() {
            return json.map_err(|_| {
                CliError::Local(format!(
                    "the control plane answered {path} with something other than JSON"
                ))
            });
        }
        let message = json
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| {
                let text = String::from_utf8_lossy(&bytes);
                let text: String = text.trim().chars().take(200).collect();
                if text.is_empty() {
                    status.canonical_reason().unwrap_or("error").to_owned()
                } else {
                    text
                }
            });
        Err(CliError::Api {
            status: status.as_u16(),
            message,
        })
    }

    /// A transport failure, named by its innermost cause ("Connection refused", ...).
    fn failed(&self, err: &(dyn std::error::Error + 'static)) -> CliError {
        let mut cause = err;
        while let Some(next) = cause.source() {
            cause = next;
        }
        CliError::Unreachable(format!(
            "cannot reach control plane at {}: {cause}",
            self.base
        ))
    }
}

/// `?a=1&b=x` from the pairs that have a value, percent-encoded.
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_skips_absent_values_and_encodes() {
        assert_eq!(query(&[("a", None)]), "");
        assert_eq!(
            query(&[
                ("route", Some("chat/v1 x".into())),
                ("limit", None),
                ("since", Some("2026-01-01T00:00:00+01:00".into()))
            ]),
            "?route=chat%2Fv1%20x&since=2026-01-01T00%3A00%3A00%2B01%3A00"
        );
    }
}
