//! `POST /api/v1/auth/token`: OAuth2 client credentials (RFC 6749 §4.4). The client id is an
//! API key's public prefix, the client secret the whole key (`pgk_<prefix>_<secret>`); they
//! come in the body (JSON or form-encoded) or as HTTP Basic credentials. The answer is a
//! 15-minute bearer token acting as that key. Errors use OAuth's shape
//! `{error, error_description}` (§5.2), not the API's.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::State;
use crate::auth;
use crate::error::ApiError;
use crate::oidc::access_token;

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    pub grant_type: Option<String>,
    /// The API key's prefix (the 12 hex characters after `pgk_`).
    pub client_id: Option<String>,
    /// The API key.
    pub client_secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// An RFC 6749 §5.2 error.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"promptctl\""),
            );
        }
        response
    }
}

/// The body as JSON or `application/x-www-form-urlencoded` (by content type).
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, OAuthError> {
    if body.is_empty() {
        return Ok(TokenRequest::default());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        serde_urlencoded::from_bytes(body)
            .map_err(|e| OAuthError::invalid_request(format!("bad form body: {e}")))
    } else {
        serde_json::from_slice(body)
            .map_err(|e| OAuthError::invalid_request(format!("bad JSON body: {e}")))
    }
}

/// `Authorization: Basic base64(client_id:client_secret)`, when sent.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::invalid_client("malformed Basic credentials");
    let encoded = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .ok_or_else(bad)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    Ok(Some((id.to_owned(), secret.to_owned())))
}

/// `POST /api/v1/auth/token` (no bearer needed: the credentials are the request).
pub async fn token(headers: HeaderMap, state: State, body: Bytes) -> Response {
    match exchange(&state, &headers, &body).await {
        Ok(token) => {
            let mut response = (StatusCode::OK, Json(token)).into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn exchange(
    state: &State,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<TokenResponse, OAuthError> {
    let request = parse_body(headers, body)?;
    let grant = request
        .grant_type
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    if grant != "client_credentials" {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only the client_credentials grant is supported",
        ));
    }
    let (client_id, secret) = match (
        basic_credentials(headers)?,
        request.client_id,
        request.client_secret,
    ) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "send the client credentials once: in the body or as Basic, not both",
            ))
        }
        (Some(pair), None, None) => pair,
        (None, Some(id), Some(secret)) => (id, secret),
        (None, _, _) => {
            return Err(OAuthError::invalid_request(
                "client_id and client_secret are required",
            ))
        }
    };
    let invalid = || OAuthError::invalid_client("unknown client or bad client secret");
    if secret
        .strip_prefix("pgk_")
        .and_then(|s| s.split_once('_'))
        .map(|(p, _)| p)
        != Some(client_id.as_str())
    {
        return Err(invalid());
    }
    let caller = auth::caller_from_api_key(state, &secret)
        .await
        .map_err(|e| match e {
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "token exchange failed");
                OAuthError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "internal error",
                )
            }
            ApiError::Unauthenticated(_) | ApiError::NotFound(_) => invalid(),
            other => OAuthError::invalid_client(other.to_string()),
        })?;
    let access_token = access_token::issue(state, &caller).await.map_err(|e| {
        tracing::error!(error = %e, "issuing an access token failed");
        OAuthError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error",
        )
    })?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: access_token::TTL_SECS,
    })
}
