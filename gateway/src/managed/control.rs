//! The control plane as a managed gateway calls it: the snapshot long-poll and trace
//! batches, over the gateway's pooled HTTP client. The key never appears in errors or logs.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};

use super::snapshot::ManagedSnapshot;
use super::trace_record::TraceBatch;
use crate::upstream::client::{ClientFactory, ClientKey, HttpClient};

/// Snapshots larger than this are refused (a config, policies and prompt templates).
const MAX_SNAPSHOT_BYTES: usize = 32 * 1024 * 1024;
/// Error bodies are read only this far, for the log line.
const MAX_ERROR_BYTES: usize = 4096;
/// Connection setup to the control plane.
const CONNECT_TIMEOUT_MS: u64 = 3_000;

pub struct ControlPlane {
    base: String,
    authorization: HeaderValue,
    client: HttpClient,
}

/// What a snapshot request answered.
#[derive(Debug)]
pub enum SnapshotReply {
    Changed(Box<ManagedSnapshot>),
    NotModified,
    /// The control plane answered but refused (bad key, unknown environment, ...).
    Refused {
        status: StatusCode,
        message: String,
    },
}

/// What a trace batch POST answered.
#[derive(Debug)]
pub enum PostReply {
    Accepted,
    /// Retrying cannot help (4xx other than 408/429): the batch is dropped.
    Rejected {
        status: StatusCode,
        message: String,
    },
}

impl ControlPlane {
    /// `base` is the control plane's URL (e.g. `http://127.0.0.1:7070`), `key` a gateway key.
    pub fn new(base: &str, key: &str, clients: &ClientFactory) -> Result<Self, String> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!(
                "--control-plane must be an http(s) URL, got `{base}`"
            ));
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {key}"))
            .map_err(|_| "the control plane key contains invalid characters".to_owned())?;
        authorization.set_sensitive(true);
        let client = clients.client(ClientKey {
            connect_timeout_ms: CONNECT_TIMEOUT_MS,
            http2_prior_knowledge: false,
        })?;
        Ok(ControlPlane {
            base,
            authorization,
            client,
        })
    }

    /// `GET /api/v1/gateway/snapshot`, waiting up to `wait` for a version other than `known`.
    pub async fn snapshot(
        &self,
        project: &str,
        environment: &str,
        known: Option<&str>,
        wait: Duration,
    ) -> Result<SnapshotReply, String> {
        let uri = format!(
            "{}/api/v1/gateway/snapshot?project={}&environment={}&wait={}",
            self.base,
            encode(project),
            encode(environment),
            wait.as_secs()
        );
        let mut request = self.request(Method::GET, &uri, Bytes::new())?;
        if let Some(version) = known {
            if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
                request.headers_mut().insert(http::header::IF_NONE_MATCH, v);
            }
        }
        let deadline = wait + Duration::from_secs(10);
        let (status, body) = self.send(request, deadline, MAX_SNAPSHOT_BYTES).await?;
        match status {
            StatusCode::OK => serde_json::from_slice::<ManagedSnapshot>(&body)
                .map(|s| SnapshotReply::Changed(Box::new(s)))
                .map_err(|e| format!("the control plane sent an unreadable snapshot: {e}")),
            StatusCode::NOT_MODIFIED => Ok(SnapshotReply::NotModified),
            status if status.is_server_error() => Err(format!(
                "control plane answered {status}: {}",
                error_message(&body)
            )),
            status => Ok(SnapshotReply::Refused {
                status,
                message: error_message(&body),
            }),
        }
    }

    /// `POST /api/v1/traces`; `Err` for failures worth retrying.
    pub async fn post_traces(&self, batch: &TraceBatch) -> Result<PostReply, String> {
        let body = serde_json::to_vec(batch).map_err(|e| format!("encoding traces: {e}"))?;
        let uri = format!("{}/api/v1/traces", self.base);
        let mut request = self.request(Method::POST, &uri, Bytes::from(body))?;
        request.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let (status, body) = self
            .send(request, Duration::from_secs(15), MAX_ERROR_BYTES)
            .await?;
        if status.is_success() {
            return Ok(PostReply::Accepted);
        }
        let message = error_message(&body);
        if status.is_server_error()
            || status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
        {
            return Err(format!("control plane answered {status}: {message}"));
        }
        Ok(PostReply::Rejected { status, message })
    }

    fn request(
        &self,
        method: Method,
        uri: &str,
        body: Bytes,
    ) -> Result<Request<Full<Bytes>>, String> {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::AUTHORIZATION, self.authorization.clone())
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(body))
            .map_err(|e| format!("building the control plane request: {e}"))
    }

    async fn send(
        &self,
        request: Request<Full<Bytes>>,
        deadline: Duration,
        limit: usize,
    ) -> Result<(StatusCode, Bytes), String> {
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("control plane unreachable: {e}"))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), limit)
                .collect()
                .await
                .map_err(|e| format!("reading the control plane's answer: {e}"))?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(deadline, exchange)
            .await
            .map_err(|_| format!("control plane did not answer within {deadline:?}"))?
    }
}

/// The `error.message` of an OpenAI-shaped error body, else the start of the body.
fn error_message(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    if let Some(message) = parsed
        .as_ref()
        .and_then(|v| v.pointer("/error/message"))
        .and_then(|m| m.as_str())
    {
        return message.to_owned();
    }
    String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
}

/// Percent-encodes everything but RFC 3986 unreserved characters (query values, path
/// segments); `promptctl` uses it too.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_query_values_and_reads_error_messages() {
        assert_eq!(encode("my project/1"), "my%20project%2F1");
        assert_eq!(encode("prod"), "prod");
        assert_eq!(
            error_message(br#"{"error":{"message":"no such env","type":"x"}}"#),
            "no such env"
        );
        assert_eq!(error_message(b"plain"), "plain");
    }

    #[test]
    fn refuses_non_http_urls_and_keeps_the_key_out_of_debug_output() {
        let clients = ClientFactory::new();
        assert!(ControlPlane::new("ftp://x", "k", &clients).is_err());
        let cp = ControlPlane::new("http://127.0.0.1:1/", "secret-key", &clients).unwrap();
        assert_eq!(cp.base, "http://127.0.0.1:1");
        assert!(!format!("{:?}", cp.authorization).contains("secret-key"));
    }
}
