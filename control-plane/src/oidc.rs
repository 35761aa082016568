//! Bearer tokens that are not API keys (JWTs):
//! - access tokens issued by `POST /api/v1/auth/token` (HS256, [`access_token`]);
//! - tokens from an OIDC issuer (`promptctl serve --oidc-issuer URL --oidc-audience AUD`),
//!   RS256 or ES256, verified against the issuer's JWKS ([`jwks`]) and mapped to a user by
//!   their `email` claim ([`session`]).

use jsonwebtoken::Algorithm;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;

pub mod access_token;
pub mod jwks;
pub mod session;

pub use jwks::{OidcConfig, OidcVerifier};

fn unauthenticated(message: impl Into<String>) -> ApiError {
    ApiError::Unauthenticated(message.into())
}

/// The caller behind a JWT bearer token; 401 for anything not verifiable. Messages say why
/// without echoing the token.
pub async fn caller_from_jwt(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| {
        unauthenticated(
            "missing or invalid API key or bearer token (send Authorization: Bearer <key>)",
        )
    })?;
    match header.alg {
        Algorithm::HS256 => access_token::caller(state, token).await,
        Algorithm::RS256 | Algorithm::ES256 => {
            let verifier = state
                .oidc
                .as_ref()
                .ok_or_else(|| unauthenticated("OIDC tokens are not enabled on this server"))?;
            let identity = verifier
                .verify(token)
                .await
                .map_err(|reason| unauthenticated(format!("OIDC token rejected: {reason}")))?;
            session::caller_for_email(state, &identity.email).await
        }
        _ => Err(unauthenticated(
            "unsupported token algorithm (RS256 or ES256 OIDC tokens, or promptctl access tokens)",
        )),
    }
}
