//! Azure error bodies → the OpenAI error shape, and whether another attempt may succeed.
//!
//! Azure answers errors in three shapes:
//! - OpenAI's, sometimes with `type: null` and extra fields: content-filter refusals are
//!   `{"error":{"message","type":null,"param":"prompt","code":"content_filter","status":400,
//!   "innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{...}}}}`;
//! - a bare `{"error":{"code","message"}}`, e.g. `DeploymentNotFound` (404) or a code that
//!   only repeats the status (`"429"`, `"401"`);
//! - the API-management front door's `{"statusCode":401,"message":"..."}`.
//!
//! All become `{"error":{"message","type","param","code",...}}` with the HTTP status Azure
//! sent: a missing `type` comes from the status, a code that merely repeats the status becomes
//! the gateway's code for that status, and Azure's extra fields (`innererror` with the
//! content-filter verdict, `status`) are kept, as Azure SDK users read them. Anything else
//! (HTML from a proxy, an empty body) is left for the gateway to wrap. Content-filter
//! refusals are never retried; otherwise retries follow the status (429 and 5xx are
//! retryable, and the pipeline honours Azure's `retry-after` / `retry-after-ms`).

use bytes::Bytes;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::providers::UpstreamError;
use crate::upstream::retry::is_retryable_status;

#[derive(Deserialize)]
#[serde(untagged)]
enum WireError {
    Nested {
        error: WireErrorBody,
    },
    Gateway {
        #[serde(rename = "statusCode")]
        _status_code: serde::de::IgnoredAny,
        message: String,
    },
}

#[derive(Deserialize)]
struct WireErrorBody {
    message: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    param: Option<Value>,
    #[serde(default)]
    code: Option<Value>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

#[derive(Serialize)]
struct OpenAiError<'a> {
    error: OpenAiErrorBody<'a>,
}

#[derive(Serialize)]
struct OpenAiErrorBody<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

/// Maps one Azure error response.
pub fn map_error(status: StatusCode, body: Bytes) -> UpstreamError {
    let retryable = is_retryable_status(status);
    let Ok(wire) = serde_json::from_slice::<WireError>(&body) else {
        return UpstreamError {
            status,
            body,
            retryable,
        };
    };
    let empty = Map::new();
    let (default_kind, default_code) = status_defaults(status);
    let (message, kind, param, code, extra) = match &wire {
        WireError::Nested { error } => (
            error.message.as_str(),
            error.kind.as_deref(),
            error.param.as_ref().and_then(Value::as_str),
            error.code.as_ref().and_then(|c| code_text(c, status)),
            &error.extra,
        ),
        WireError::Gateway { message, .. } => (message.as_str(), None, None, None, &empty),
    };
    let code = code.or(default_code.map(Into::into));
    let content_filter = code.as_deref() == Some("content_filter");
    let rendered = OpenAiError {
        error: OpenAiErrorBody {
            message,
            kind: kind.unwrap_or(default_kind),
            param,
            code: code.as_deref(),
            extra,
        },
    };
    match serde_json::to_vec(&rendered) {
        Ok(mapped) => UpstreamError {
            status,
            body: Bytes::from(mapped),
            retryable: retryable && !content_filter,
        },
        Err(_) => UpstreamError {
            status,
            body,
            retryable,
        },
    }
}

/// The code as text, or `None` when it only repeats the HTTP status (`"429"`, `429`).
fn code_text(code: &Value, status: StatusCode) -> Option<std::borrow::Cow<'_, str>> {
    let text: std::borrow::Cow<'_, str> = match code {
        Value::String(s) => s.as_str().into(),
        Value::Number(n) => n.to_string().into(),
        _ => return None,
    };
    (text != status.as_str()).then_some(text)
}

/// The OpenAI error type and code the gateway gives an upstream status (as
/// `GatewayError::Upstream` does for bodies it cannot read).
fn status_defaults(status: StatusCode) -> (&'static str, Option<&'static str>) {
    match status.as_u16() {
        401 => ("authentication_error", Some("invalid_api_key")),
        403 => ("permission_error", None),
        404 => ("invalid_request_error", Some("not_found")),
        429 => ("rate_limit_error", Some("rate_limit_exceeded")),
        400..=499 => ("invalid_request_error", None),
        _ => ("server_error", None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CONTENT_FILTER: &str = include_str!("fixtures/error_content_filter.json");
    const RATE_LIMIT: &str = include_str!("fixtures/error_rate_limit.json");
    const DEPLOYMENT_NOT_FOUND: &str = include_str!("fixtures/error_deployment_not_found.json");
    const BAD_TOKEN: &str = include_str!("fixtures/error_unauthorized_token.json");

    fn map(status: u16, body: &str) -> (u16, Value, bool) {
        let mapped = map_error(
            StatusCode::from_u16(status).unwrap(),
            Bytes::copy_from_slice(body.as_bytes()),
        );
        let value = serde_json::from_slice(&mapped.body).unwrap_or(Value::Null);
        (mapped.status.as_u16(), value, mapped.retryable)
    }

    #[test]
    fn content_filter_keeps_the_verdict_and_is_final() {
        let (status, body, retryable) = map(400, CONTENT_FILTER);
        assert_eq!((status, retryable), (400, false));
        let error = &body["error"];
        assert_eq!(error["code"], "content_filter");
        assert_eq!(error["type"], "invalid_request_error");
        assert_eq!(error["param"], "prompt");
        assert!(error["message"]
            .as_str()
            .unwrap()
            .starts_with("The response was filtered"));
        assert_eq!(error["innererror"]["code"], "ResponsibleAIPolicyViolation");
        assert_eq!(
            error["innererror"]["content_filter_result"]["violence"],
            json!({"filtered": true, "severity": "medium"})
        );
    }

    #[test]
    fn a_code_repeating_the_status_gets_the_gateway_code() {
        let (status, body, retryable) = map(429, RATE_LIMIT);
        assert_eq!((status, retryable), (429, true));
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
        assert_eq!(body["error"]["type"], "rate_limit_error");
        assert_eq!(body["error"]["param"], Value::Null);
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Please retry after"));
        let (_, body, _) = map(401, r#"{"error":{"code":401,"message":"Access denied"}}"#);
        assert_eq!(body["error"]["code"], "invalid_api_key");
    }

    #[test]
    fn deployment_not_found_keeps_its_code() {
        let (status, body, retryable) = map(404, DEPLOYMENT_NOT_FOUND);
        assert_eq!((status, retryable), (404, false));
        assert_eq!(
            body,
            json!({"error": {
                "message": "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.",
                "type": "invalid_request_error",
                "param": null,
                "code": "DeploymentNotFound"
            }})
        );
    }

    #[test]
    fn status_code_bodies_become_openai_errors() {
        let (status, body, retryable) = map(401, BAD_TOKEN);
        assert_eq!((status, retryable), (401, false));
        assert_eq!(body["error"]["type"], "authentication_error");
        assert_eq!(body["error"]["code"], "invalid_api_key");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Unauthorized. Access token is missing"));
        let (status, body, retryable) = map(
            429,
            r#"{ "statusCode": 429, "message": "Rate limit is exceeded. Try again in 2 seconds." }"#,
        );
        assert_eq!((status, retryable), (429, true));
        assert_eq!(body["error"]["type"], "rate_limit_error");
    }

    #[test]
    fn openai_shaped_errors_keep_their_fields() {
        let context = r#"{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
        let (status, body, retryable) = map(400, context);
        assert_eq!((status, retryable), (400, false));
        assert_eq!(body, serde_json::from_str::<Value>(context).unwrap());
        let (_, body, retryable) = map(
            503,
            r#"{"error":{"code":"ServiceUnavailable","message":"The service is temporarily unable to process your request."}}"#,
        );
        assert!(retryable);
        assert_eq!(body["error"]["type"], "server_error");
        assert_eq!(body["error"]["code"], "ServiceUnavailable");
    }

    #[test]
    fn unreadable_bodies_are_left_to_the_gateway() {
        for (status, raw) in [
            (502, "<html><body>Bad Gateway</body></html>"),
            (500, ""),
            (400, r#"{"error":"just a string"}"#),
        ] {
            let mapped = map_error(
                StatusCode::from_u16(status).unwrap(),
                Bytes::from_static(raw.as_bytes()),
            );
            assert_eq!(mapped.body, raw.as_bytes());
            assert_eq!(mapped.retryable, status >= 500);
        }
    }
}
