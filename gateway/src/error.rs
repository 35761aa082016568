//! Errors returned to clients, always in the OpenAI error shape.
//!
//! Every failure the gateway produces becomes one [`GatewayError`]; [`GatewayError::status`]
//! and [`GatewayError::to_body`] are the one place that maps it onto the wire.

use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;

/// A failure that ends a request with an OpenAI-shaped error body.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    #[error("{message}")]
    InvalidRequest {
        message: String,
        param: Option<String>,
        code: Option<&'static str>,
    },
    #[error("The model `{0}` does not exist or you do not have access to it.")]
    ModelNotFound(String),
    #[error("Request body is larger than the limit of {limit} bytes.")]
    BodyTooLarge { limit: usize },
    #[error("Unknown endpoint: {0}")]
    NotFound(String),
    #[error("Method {method} is not allowed for {path}.")]
    MethodNotAllowed { method: String, path: String },
    #[error("{0}")]
    Unsupported(String),
    /// The upstream answered with an error; its status and OpenAI-shaped body go back as they came.
    #[error("upstream returned {status}")]
    Upstream { status: StatusCode, body: Bytes },
    #[error("Upstream request failed: {0}")]
    UpstreamUnavailable(String),
    #[error("Upstream timed out: {0}")]
    UpstreamTimeout(String),
    /// The model answered, but not in the shape the caller required.
    #[error("The model output does not match the requested schema: {0}")]
    OutputInvalid(String),
    /// A routing policy's constraints left no candidate; the message says why.
    #[error("{0}")]
    NoCandidate(String),
    #[error("Internal gateway error: {0}")]
    Internal(String),
    /// No `Authorization: Bearer` key, or one that matches no virtual key.
    #[error("Incorrect API key provided.")]
    InvalidApiKey,
    #[error("The model `{0}` is not allowed for this API key.")]
    ModelNotAllowed(String),
    #[error("Rate limit reached for key `{key}` on {limit}. Please try again in {retry_after}s.")]
    RateLimited {
        key: String,
        limit: &'static str,
        retry_after: u64,
    },
    #[error("Key `{key}` has exceeded its {period} budget.")]
    QuotaExceeded { key: String, period: &'static str },
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

impl GatewayError {
    pub fn invalid(message: impl Into<String>) -> Self {
        GatewayError::InvalidRequest {
            message: message.into(),
            param: None,
            code: None,
        }
    }

    pub fn invalid_param(message: impl Into<String>, param: &str) -> Self {
        GatewayError::InvalidRequest {
            message: message.into(),
            param: Some(param.to_owned()),
            code: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::InvalidRequest { .. } | GatewayError::Unsupported(_) => {
                StatusCode::BAD_REQUEST
            }
            GatewayError::ModelNotFound(_) | GatewayError::NotFound(_) => StatusCode::NOT_FOUND,
            GatewayError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            GatewayError::Upstream { status, .. } => *status,
            GatewayError::UpstreamUnavailable(_) | GatewayError::OutputInvalid(_) => {
                StatusCode::BAD_GATEWAY
            }
            GatewayError::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::NoCandidate(_) => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            GatewayError::InvalidApiKey => StatusCode::UNAUTHORIZED,
            GatewayError::ModelNotAllowed(_) => StatusCode::FORBIDDEN,
            GatewayError::RateLimited { .. } | GatewayError::QuotaExceeded { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
        }
    }

    /// A short, low-cardinality label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            GatewayError::InvalidRequest { .. } => "invalid_request",
            GatewayError::ModelNotFound(_) => "model_not_found",
            GatewayError::BodyTooLarge { .. } => "body_too_large",
            GatewayError::NotFound(_) => "not_found",
            GatewayError::MethodNotAllowed { .. } => "method_not_allowed",
            GatewayError::Unsupported(_) => "unsupported",
            GatewayError::Upstream { .. } => "upstream_status",
            GatewayError::UpstreamUnavailable(_) => "upstream_unavailable",
            GatewayError::UpstreamTimeout(_) => "upstream_timeout",
            GatewayError::OutputInvalid(_) => "output_invalid",
            GatewayError::NoCandidate(_) => "no_candidate",
            GatewayError::Internal(_) => "internal",
            GatewayError::InvalidApiKey => "invalid_api_key",
            GatewayError::ModelNotAllowed(_) => "model_not_allowed",
            GatewayError::RateLimited { .. } => "rate_limited",
            GatewayError::QuotaExceeded { .. } => "insufficient_quota",
        }
    }

    /// The JSON body sent to the client.
    pub fn to_body(&self) -> Bytes {
        if let GatewayError::Upstream { body, .. } = self {
            if looks_like_openai_error(body) {
                return body.clone();
            }
        }
        let message = match self {
            GatewayError::Upstream { status, body } => upstream_message(*status, body),
            other => other.to_string(),
        };
        let (kind, code, param) = self.kind_code_param();
        let envelope = ErrorEnvelope {
            error: ErrorBody {
                message: &message,
                kind,
                param,
                code,
            },
        };
        serde_json::to_vec(&envelope)
            .map(Bytes::from)
            .unwrap_or_else(|_| Bytes::from_static(b"{\"error\":{\"message\":\"internal error\",\"type\":\"server_error\",\"param\":null,\"code\":null}}"))
    }

    fn kind_code_param(&self) -> (&'static str, Option<&str>, Option<&str>) {
        match self {
            GatewayError::InvalidRequest { param, code, .. } => {
                ("invalid_request_error", *code, param.as_deref())
            }
            GatewayError::ModelNotFound(_) => (
                "invalid_request_error",
                Some("model_not_found"),
                Some("model"),
            ),
            GatewayError::BodyTooLarge { .. } => {
                ("invalid_request_error", Some("request_too_large"), None)
            }
            GatewayError::NotFound(_) => ("invalid_request_error", Some("unknown_url"), None),
            GatewayError::MethodNotAllowed { .. } => {
                ("invalid_request_error", Some("method_not_allowed"), None)
            }
            GatewayError::Unsupported(_) => ("invalid_request_error", Some("unsupported"), None),
            GatewayError::Upstream { status, .. } => match status.as_u16() {
                401 => ("authentication_error", Some("invalid_api_key"), None),
                403 => ("permission_error", None, None),
                404 => ("invalid_request_error", Some("not_found"), None),
                429 => ("rate_limit_error", Some("rate_limit_exceeded"), None),
                400..=499 => ("invalid_request_error", None, None),
                _ => ("server_error", None, None),
            },
            GatewayError::UpstreamUnavailable(_) => ("server_error", Some("upstream_error"), None),
            GatewayError::UpstreamTimeout(_) => ("server_error", Some("upstream_timeout"), None),
            GatewayError::OutputInvalid(_) => {
                ("server_error", Some("output_schema_mismatch"), None)
            }
            GatewayError::NoCandidate(_) => ("server_error", Some("no_candidate"), None),
            GatewayError::Internal(_) => ("server_error", None, None),
            GatewayError::InvalidApiKey => ("invalid_request_error", Some("invalid_api_key"), None),
            GatewayError::ModelNotAllowed(_) => {
                ("permission_error", Some("model_not_allowed"), Some("model"))
            }
            GatewayError::RateLimited { .. } => {
                ("rate_limit_error", Some("rate_limit_exceeded"), None)
            }
            GatewayError::QuotaExceeded { .. } => {
                ("insufficient_quota", Some("insufficient_quota"), None)
            }
        }
    }
}

fn looks_like_openai_error(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[allow(dead_code)]
        error: ProbeInner,
    }
    #[derive(serde::Deserialize)]
    struct ProbeInner {
        #[allow(dead_code)]
        message: serde::de::IgnoredAny,
    }
    serde_json::from_slice::<Probe>(body).is_ok()
}

/// A message for an upstream error whose body is not OpenAI-shaped: a bounded, printable excerpt.
fn upstream_message(status: StatusCode, body: &[u8]) -> String {
    const MAX: usize = 512;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]);
    let text = text.trim();
    if text.is_empty() {
        format!("Upstream returned HTTP {status}")
    } else {
        format!("Upstream returned HTTP {status}: {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(err: &GatewayError) -> serde_json::Value {
        serde_json::from_slice(&err.to_body()).unwrap()
    }

    #[test]
    fn model_not_found_is_404_with_code() {
        let err = GatewayError::ModelNotFound("nope".into());
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
        let body = parse(&err);
        assert_eq!(body["error"]["code"], "model_not_found");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"]["message"].as_str().unwrap().contains("nope"));
    }

    #[test]
    fn openai_shaped_upstream_errors_pass_through_unchanged() {
        let raw = Bytes::from_static(br#"{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#);
        let err = GatewayError::Upstream {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: raw.clone(),
        };
        assert_eq!(err.to_body(), raw);
        assert_eq!(err.status(), StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn foreign_upstream_errors_are_wrapped() {
        let err = GatewayError::Upstream {
            status: StatusCode::BAD_GATEWAY,
            body: Bytes::from_static(b"<html>bad gateway</html>"),
        };
        let body = parse(&err);
        assert_eq!(body["error"]["type"], "server_error");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bad gateway"));
    }

    #[test]
    fn every_variant_renders_valid_json() {
        let all = [
            GatewayError::invalid("x"),
            GatewayError::invalid_param("x", "messages"),
            GatewayError::ModelNotFound("m".into()),
            GatewayError::BodyTooLarge { limit: 1 },
            GatewayError::NotFound("/x".into()),
            GatewayError::MethodNotAllowed {
                method: "GET".into(),
                path: "/v1/chat/completions".into(),
            },
            GatewayError::Unsupported("x".into()),
            GatewayError::UpstreamUnavailable("x".into()),
            GatewayError::UpstreamTimeout("x".into()),
            GatewayError::OutputInvalid("x".into()),
            GatewayError::Internal("x".into()),
            GatewayError::InvalidApiKey,
            GatewayError::ModelNotAllowed("m".into()),
            GatewayError::RateLimited {
                key: "k".into(),
                limit: "rpm",
                retry_after: 1,
            },
            GatewayError::QuotaExceeded {
                key: "k".into(),
                period: "daily",
            },
        ];
        for err in all {
            let body = parse(&err);
            assert!(body["error"]["message"].is_string(), "{err:?}");
            assert!(body["error"]["type"].is_string(), "{err:?}");
        }
    }
}
