use bytes::Bytes;
use http::StatusCode;
use serde_json::Value;

use super::{fixture, json};
use crate::providers::gemini::error::{map_error, openai_error_body};

/// (status, OpenAI `error` object, retryable) for a Google error body.
fn mapped(status: u16, body: &str) -> (u16, Value, bool) {
    let e = map_error(
        StatusCode::from_u16(status).unwrap(),
        Bytes::copy_from_slice(body.as_bytes()),
    );
    (
        e.status.as_u16(),
        json(&e.body)["error"].clone(),
        e.retryable,
    )
}

#[test]
fn fixtures_map_to_openai_statuses_types_codes_and_retryability() {
    let cases = [
        (
            "error_429.json",
            429,
            429,
            "rate_limit_error",
            Some("rate_limit_exceeded"),
            true,
        ),
        ("error_503.json", 503, 503, "server_error", None, true),
        ("error_500.json", 500, 500, "server_error", None, true),
        (
            "error_400_context.json",
            400,
            400,
            "invalid_request_error",
            Some("context_length_exceeded"),
            false,
        ),
        (
            "error_400_invalid.json",
            400,
            400,
            "invalid_request_error",
            None,
            false,
        ),
        (
            "error_400_api_key.json",
            400,
            401,
            "authentication_error",
            Some("invalid_api_key"),
            false,
        ),
        ("error_403.json", 403, 403, "permission_error", None, false),
        (
            "error_404_model.json",
            404,
            404,
            "invalid_request_error",
            Some("model_not_found"),
            false,
        ),
    ];
    for (name, http, want, kind, code, retryable) in cases {
        let body = fixture(name);
        let (status, error, retry) = mapped(http, body);
        let google: Value = serde_json::from_str(body).unwrap();
        assert_eq!(status, want, "{name}");
        assert_eq!(error["type"], kind, "{name}");
        assert_eq!(error["code"].as_str(), code, "{name}");
        assert_eq!(error["message"], google["error"]["message"], "{name}");
        assert_eq!(error["param"], Value::Null, "{name}");
        assert_eq!(retry, retryable, "{name}");
    }
}

#[test]
fn other_statuses() {
    let google = |code: u16, status: &str| {
        format!(r#"{{"error":{{"code":{code},"message":"m","status":"{status}"}}}}"#)
    };
    for (http, status, want, retryable) in [
        (401, "UNAUTHENTICATED", 401, false),
        (504, "DEADLINE_EXCEEDED", 504, true),
        (409, "ABORTED", 409, true),
        (400, "FAILED_PRECONDITION", 400, false),
    ] {
        let (got, _, retry) = mapped(http, &google(http, status));
        assert_eq!((got, retry), (want, retryable), "{status}");
    }
}

#[test]
fn array_wrapped_and_statusless_errors() {
    let (status, error, retry) = mapped(
        503,
        r#"[{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}]"#,
    );
    assert_eq!((status, retry), (503, true));
    assert_eq!(error["message"], "overloaded");
    let (status, error, retry) = mapped(502, r#"{"error":{"code":502,"message":"bad gateway"}}"#);
    assert_eq!((status, retry), (502, true));
    assert_eq!(error["type"], "server_error");
}

#[test]
fn openai_shaped_and_foreign_bodies_pass_through() {
    let own = openai_error_body("no", "invalid_request_error", Some("messages"), None);
    let e = map_error(StatusCode::BAD_REQUEST, own.clone());
    assert_eq!((e.body, e.retryable), (own, false));
    let html = Bytes::from_static(b"<html>502</html>");
    let e = map_error(StatusCode::BAD_GATEWAY, html.clone());
    assert_eq!(
        (e.status, e.body, e.retryable),
        (StatusCode::BAD_GATEWAY, html, true)
    );
}
