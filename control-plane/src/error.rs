//! API errors in the OpenAI error shape: `{"error":{"message","type","param","code"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Every failure a handler can answer with. Messages never carry secrets or SQL text.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// 404 with code `environment_not_configured`: the environment has no config yet.
    #[error("{0}")]
    EnvironmentNotConfigured(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{message}")]
    Unprocessable {
        message: String,
        param: Option<String>,
    },
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn unprocessable(message: impl Into<String>, param: Option<&str>) -> Self {
        ApiError::Unprocessable {
            message: message.into(),
            param: param.map(str::to_owned),
        }
    }

    pub fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        ApiError::NotFound(format!("{what} {id} not found"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::EnvironmentNotConfigured(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn kind_and_code(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => ("invalid_request_error", "bad_request"),
            ApiError::Unauthenticated(_) => ("authentication_error", "invalid_api_key"),
            ApiError::Forbidden(_) => ("permission_error", "forbidden"),
            ApiError::NotFound(_) => ("invalid_request_error", "not_found"),
            ApiError::EnvironmentNotConfigured(_) => {
                ("invalid_request_error", "environment_not_configured")
            }
            ApiError::MethodNotAllowed(_) => ("invalid_request_error", "method_not_allowed"),
            ApiError::Conflict(_) => ("invalid_request_error", "conflict"),
            ApiError::PayloadTooLarge(_) => ("invalid_request_error", "payload_too_large"),
            ApiError::Unprocessable { .. } => ("invalid_request_error", "invalid_value"),
            ApiError::Internal(_) => ("server_error", "internal_error"),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                return ApiError::Conflict(
                    "an object with these unique fields already exists".into(),
                );
            }
        }
        ApiError::Internal(err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (kind, code) = self.kind_and_code();
        let (message, param) = match self {
            ApiError::Internal(detail) => {
                // The detail (a database error) goes to the log, never to the client.
                tracing::error!(error = %detail, "internal error");
                ("internal error".to_owned(), None)
            }
            ApiError::Unprocessable { message, param } => (message, param),
            other => (other.to_string(), None),
        };
        let body =
            json!({"error": {"message": message, "type": kind, "param": param, "code": code}});
        (status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
