//! Short-lived access tokens for API keys (`POST /api/v1/auth/token`, OAuth2 client
//! credentials): HS256 JWTs signed with a per-installation secret kept in the database
//! (`installation_secrets`, created on first use). A token names its key; every use re-reads
//! the key's row, so revoking the key (or removing its user from the project) ends the token
//! at its next use.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::auth::{self, Caller, Credential};
use crate::error::ApiError;
use crate::store::now_rfc3339;
use crate::AppState;

/// Lifetime of an access token.
pub const TTL_SECS: u64 = 15 * 60;
const ISSUER: &str = "promptctl";
const AUDIENCE: &str = "promptctl-api";
const SECRET_NAME: &str = "access_token_hs256";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    /// `key:<id>`.
    sub: String,
    key_id: i64,
    user_id: i64,
    project_id: Option<i64>,
    role: String,
    iat: u64,
    exp: u64,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The installation's signing secret, created on first use and cached.
async fn signing_secret(state: &AppState) -> Result<&[u8], ApiError> {
    state
        .token_secret
        .get_or_try_init(|| async {
            let mut fresh = [0u8; 32];
            getrandom::fill(&mut fresh).map_err(|_| ApiError::from(auth::RngError))?;
            // Concurrent first uses (or replicas) race here; the first row wins for all.
            sqlx::query(
                "INSERT INTO installation_secrets (name, value, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(SECRET_NAME)
            .bind(hex::encode(fresh))
            .bind(now_rfc3339())
            .execute(&state.store.pool)
            .await?;
            let stored: String =
                sqlx::query("SELECT value FROM installation_secrets WHERE name = $1")
                    .bind(SECRET_NAME)
                    .fetch_one(&state.store.pool)
                    .await?
                    .try_get("value")?;
            hex::decode(stored)
                .map_err(|_| ApiError::Internal("the stored token secret is not hex".into()))
        })
        .await
        .map(Vec::as_slice)
}

/// A token for the API-key caller `caller`, valid [`TTL_SECS`].
pub async fn issue(state: &AppState, caller: &Caller) -> Result<String, ApiError> {
    let secret = signing_secret(state).await?;
    let iat = now_secs();
    let claims = Claims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: format!("key:{}", caller.key_id),
        key_id: caller.key_id,
        user_id: caller.user_id,
        project_id: caller.project_id,
        role: caller.role.as_str().into(),
        iat,
        exp: iat + TTL_SECS,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|e| ApiError::Internal(format!("signing an access token: {e}")))
}

fn rejected(reason: &str) -> ApiError {
    ApiError::Unauthenticated(format!("access token rejected: {reason}"))
}

/// The caller behind an access token: its signature and lifetime, then its key as of now.
pub async fn caller(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let secret = signing_secret(state).await?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 0;
    let claims =
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret), &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => rejected("it has expired"),
                _ => rejected("it is not a valid promptctl access token"),
            })?
            .claims;
    let row = sqlx::query(&format!("{} WHERE k.id = $1", auth::KEY_ROW_SELECT))
        .bind(claims.key_id)
        .fetch_optional(&state.store.pool)
        .await?
        .ok_or_else(|| rejected("its API key no longer exists"))?;
    let caller = auth::caller_from_key_row(state, &row).await?;
    if caller.user_id != claims.user_id || caller.credential != Credential::ApiKey {
        return Err(rejected("it does not match its API key"));
    }
    Ok(caller)
}
