use http::StatusCode;
use serde_json::Value;

use super::{
    ERROR_AUTHENTICATION, ERROR_INVALID_REQUEST, ERROR_NOT_FOUND, ERROR_OVERLOADED,
    ERROR_PROMPT_TOO_LONG, ERROR_RATE_LIMIT,
};
use crate::providers::anthropic::error::map;

/// (status, type, code, retryable, message) of a mapped error.
fn mapped(status: u16, body: &str) -> (u16, String, Value, bool, String) {
    let err = map(StatusCode::from_u16(status).unwrap(), body.as_bytes());
    let json: Value = serde_json::from_slice(&err.body).unwrap();
    assert_eq!(json["error"]["param"], Value::Null);
    (
        err.status.as_u16(),
        json["error"]["type"].as_str().unwrap().to_owned(),
        json["error"]["code"].clone(),
        err.retryable,
        json["error"]["message"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn documented_errors() {
    let cases = [
        (
            429,
            ERROR_RATE_LIMIT,
            429,
            "rate_limit_error",
            "rate_limit_exceeded",
            true,
        ),
        (
            529,
            ERROR_OVERLOADED,
            503,
            "server_error",
            "overloaded",
            true,
        ),
        (
            400,
            ERROR_PROMPT_TOO_LONG,
            400,
            "invalid_request_error",
            "context_length_exceeded",
            false,
        ),
        (
            401,
            ERROR_AUTHENTICATION,
            401,
            "authentication_error",
            "invalid_api_key",
            false,
        ),
        (
            404,
            ERROR_NOT_FOUND,
            404,
            "invalid_request_error",
            "model_not_found",
            false,
        ),
    ];
    for (status, body, want_status, kind, code, retryable) in cases {
        let (s, k, c, r, message) = mapped(status, body);
        assert_eq!(
            (s, k.as_str(), c.as_str(), r),
            (want_status, kind, Some(code), retryable),
            "{body}"
        );
        let original: Value = serde_json::from_str(body).unwrap();
        assert_eq!(message, original["error"]["message"].as_str().unwrap());
    }
    let (status, kind, code, retryable, message) = mapped(400, ERROR_INVALID_REQUEST);
    assert_eq!(
        (status, kind.as_str(), code, retryable),
        (400, "invalid_request_error", Value::Null, false)
    );
    assert!(message.starts_with("messages.1.content.0.image"));
}

#[test]
fn every_documented_type() {
    let body =
        |kind: &str| format!(r#"{{"type":"error","error":{{"type":"{kind}","message":"m"}}}}"#);
    for (status, kind, want_status, want_kind, retryable) in [
        (403, "permission_error", 403, "permission_error", false),
        (
            413,
            "request_too_large",
            413,
            "invalid_request_error",
            false,
        ),
        (500, "api_error", 500, "server_error", true),
        (504, "timeout_error", 504, "server_error", true),
        (418, "teapot_error", 418, "invalid_request_error", false),
        (503, "brand_new_error", 503, "server_error", true),
    ] {
        let (s, k, _, r, _) = mapped(status, &body(kind));
        assert_eq!(
            (s, k.as_str(), r),
            (want_status, want_kind, retryable),
            "{kind}"
        );
    }
}

#[test]
fn bodies_that_are_not_anthropic_errors_keep_their_status() {
    let (status, kind, _, retryable, message) = mapped(529, "<html>overloaded</html>");
    assert_eq!(
        (status, kind.as_str(), retryable),
        (503, "server_error", true)
    );
    assert!(message.contains("<html>overloaded</html>"));
    let (status, _, _, retryable, message) = mapped(502, "");
    assert_eq!((status, retryable), (502, true));
    assert!(message.contains("502"));
    let (status, kind, _, retryable, _) = mapped(400, "{\"message\":\"no\"}");
    assert_eq!(
        (status, kind.as_str(), retryable),
        (400, "invalid_request_error", false)
    );
}
