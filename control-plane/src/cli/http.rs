//! The client's HTTP(S) connection to the control plane: JSON in, JSON out, the server's
//! OpenAI-shaped errors turned into `CliError::Api`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::CliError;

/// Longest wait for one whole request (connect, send, read the answer).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

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
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| CliError::Local(format!("TLS setup failed: {e}")))?
        .with_root_certificates(rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
        .with_no_client_auth();
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(ControlPlane {
            client: Client::builder(TokioExecutor::new()).build(connector),
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

/// Percent-encodes everything but RFC 3986 unreserved characters (query values, path parts).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
