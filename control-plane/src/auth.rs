//! API keys and role-based access control.
//!
//! A key reads `pgk_<prefix>_<secret>`: the prefix (public, unique) finds the row, the
//! stored sha256 of the whole key is compared in constant time. A key belongs to a user and is
//! scoped to one project with a role; the bootstrap key is org-wide (no project). A project
//! key's effective role is the lower of its own role and the user's current membership.
//!
//! A `gateway` key (role [`Role::Gateway`]) is a machine credential for managed gateways: it
//! passes only on [`GATEWAY_PATHS`] and only for its own project; everything else answers 403.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::store::now_rfc3339;
use crate::AppState;

/// Project roles, ordered by privilege. `Gateway` ranks below `Viewer`: it never satisfies a
/// member role; only [`Caller::authorize_gateway`] accepts it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Gateway,
    Viewer,
    Editor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Gateway => "gateway",
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "gateway" => Some(Role::Gateway),
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The only endpoints a gateway key may call (paths inside `/api/v1`).
pub const GATEWAY_PATHS: &[&str] = &["/gateway/snapshot", "/traces"];

fn gateway_only() -> ApiError {
    ApiError::Forbidden(
        "gateway keys may only fetch snapshots and send traces of their own project".into(),
    )
}

/// A freshly generated key: `secret` is shown once, only `prefix` and `hash` are stored.
pub struct NewKey {
    pub prefix: String,
    pub secret: String,
    pub hash: String,
}

/// The OS random source failed: no key can be made safely.
#[derive(Debug, thiserror::Error)]
#[error("the OS random number generator failed")]
pub struct RngError;

impl From<RngError> for ApiError {
    fn from(err: RngError) -> Self {
        ApiError::Internal(err.to_string())
    }
}

fn random_hex(n: usize) -> Result<String, RngError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|_| RngError)?;
    Ok(hex::encode(buf))
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Generates `pgk_<12 hex>_<64 hex>` (32 random bytes of secret).
pub fn new_key() -> Result<NewKey, RngError> {
    let prefix = random_hex(6)?;
    let secret = format!("pgk_{prefix}_{}", random_hex(32)?);
    let hash = hash_key(&secret);
    Ok(NewKey {
        prefix,
        secret,
        hash,
    })
}

/// How a caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An API key (`Caller::key_id`), sent as is or exchanged for an access token.
    ApiKey,
    /// A token from the configured OIDC issuer, mapped to a user by email; there is no key
    /// (`Caller::key_id` is 0).
    Oidc,
}

/// Who is calling, resolved from `Authorization: Bearer <key or token>`.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub user_name: String,
    pub key_id: i64,
    /// `None` for an org-wide key (org admins only) and for an OIDC user with several projects.
    pub project_id: Option<i64>,
    /// The role in `project_id`.
    pub role: Role,
    pub org_admin: bool,
    pub credential: Credential,
    /// An OIDC user's role in each of their projects; empty for API keys (one project each).
    pub project_roles: Vec<(i64, Role)>,
}

impl Caller {
    /// Allows the call when the caller may act on `project_id` with at least `need`.
    /// Another project's objects answer 404 (same message as a missing object), so a key
    /// cannot probe what exists elsewhere; too low a role in its own project answers 403.
    pub fn authorize(
        &self,
        project_id: i64,
        need: Role,
        not_found: ApiError,
    ) -> Result<(), ApiError> {
        if self.org_admin {
            return Ok(());
        }
        if self.role == Role::Gateway {
            return Err(gateway_only());
        }
        let Some(role) = self.role_in(project_id) else {
            return Err(not_found);
        };
        if role < need {
            return Err(ApiError::Forbidden(format!(
                "this action needs the {} role in the project",
                need.as_str()
            )));
        }
        Ok(())
    }

    /// For the gateway endpoints: allows a gateway key of `project_id`, or a member holding
    /// at least `need` there (snapshot: Viewer; trace ingestion: Editor).
    pub fn authorize_gateway(
        &self,
        project_id: i64,
        need: Role,
        not_found: ApiError,
    ) -> Result<(), ApiError> {
        if self.role == Role::Gateway {
            return if self.project_id == Some(project_id) {
                Ok(())
            } else {
                Err(not_found)
            };
        }
        self.authorize(project_id, need, not_found)
    }

    /// The caller's role in `project_id`, if it has one (org admins aside).
    pub fn role_in(&self, project_id: i64) -> Option<Role> {
        if self.project_id == Some(project_id) {
            return Some(self.role);
        }
        self.project_roles
            .iter()
            .find(|(p, _)| *p == project_id)
            .map(|(_, r)| *r)
    }

    pub fn require_org_admin(&self) -> Result<(), ApiError> {
        if self.org_admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this action needs an org-wide admin key".into(),
            ))
        }
    }

    /// The actor string written to the audit log.
    pub fn actor(&self) -> String {
        match self.credential {
            Credential::ApiKey => format!("user:{}/key:{}", self.user_id, self.key_id),
            Credential::Oidc => format!("user:{}/oidc", self.user_id),
        }
    }
}

fn unauthenticated() -> ApiError {
    ApiError::Unauthenticated(
        "missing or invalid API key (send Authorization: Bearer <key>)".into(),
    )
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(unauthenticated)?;
        let key = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(unauthenticated)?;
        let caller = if key.starts_with("pgk_") {
            caller_from_api_key(state, key).await?
        } else {
            // Not an API key: an access token from `POST /api/v1/auth/token` or an OIDC token.
            crate::oidc::caller_from_jwt(state, key).await?
        };
        if caller.role == Role::Gateway
            && !GATEWAY_PATHS.contains(&gateway_relative(parts.uri.path()))
        {
            return Err(gateway_only());
        }
        Ok(caller)
    }
}

/// The caller holding API key `key` (`pgk_<prefix>_<secret>`), checked against its stored hash.
pub async fn caller_from_api_key(state: &AppState, key: &str) -> Result<Caller, ApiError> {
    let prefix = key
        .strip_prefix("pgk_")
        .and_then(|rest| rest.split_once('_'))
        .map(|(prefix, _)| prefix)
        .filter(|p| p.len() == 12)
        .ok_or_else(unauthenticated)?;
    let row = sqlx::query(&format!("{KEY_ROW_SELECT} WHERE k.prefix = $1"))
        .bind(prefix)
        .fetch_optional(&state.store.pool)
        .await?
        .ok_or_else(unauthenticated)?;
    let stored: String = row.try_get("hash")?;
    let presented = hash_key(key);
    if !bool::from(stored.as_bytes().ct_eq(presented.as_bytes())) {
        return Err(unauthenticated());
    }
    caller_from_key_row(state, &row).await
}

/// Selects what [`caller_from_key_row`] reads; append a `WHERE` on `k.`.
pub const KEY_ROW_SELECT: &str =
    "SELECT k.id, k.hash, k.user_id, k.project_id, k.role, k.expires_at, k.revoked_at, \
     u.name AS user_name, u.is_org_admin FROM api_keys k JOIN users u ON u.id = k.user_id";

/// The caller behind an authenticated key's row: refused when the key is revoked or expired
/// or its user left the project. Access tokens re-run this at every use.
pub async fn caller_from_key_row(state: &AppState, row: &AnyRow) -> Result<Caller, ApiError> {
    let revoked: Option<String> = row.try_get("revoked_at")?;
    let expires: Option<String> = row.try_get("expires_at")?;
    if revoked.is_some() || expires.is_some_and(|e| e <= now_rfc3339()) {
        return Err(ApiError::Unauthenticated(
            "API key revoked or expired".into(),
        ));
    }
    let user_id: i64 = row.try_get("user_id")?;
    let project_id: Option<i64> = row.try_get("project_id")?;
    let key_role = row
        .try_get::<String, _>("role")
        .ok()
        .as_deref()
        .and_then(Role::parse)
        .ok_or_else(unauthenticated)?;
    let is_org_admin: i64 = row.try_get("is_org_admin")?;
    let (role, org_admin) = match project_id {
        None if is_org_admin == 1 && key_role == Role::Admin => (Role::Admin, true),
        None => return Err(unauthenticated()),
        Some(pid) => {
            let member: Option<String> =
                sqlx::query("SELECT role FROM memberships WHERE project_id = $1 AND user_id = $2")
                    .bind(pid)
                    .bind(user_id)
                    .fetch_optional(&state.store.pool)
                    .await?
                    .map(|r| r.try_get("role"))
                    .transpose()?;
            let member = member.as_deref().and_then(Role::parse);
            match member {
                Some(m) => (m.min(key_role), false),
                None => {
                    return Err(ApiError::Forbidden(
                        "the key's user is no longer a member of its project".into(),
                    ))
                }
            }
        }
    };
    Ok(Caller {
        user_id,
        user_name: row.try_get("user_name")?,
        key_id: row.try_get("id")?,
        project_id,
        role,
        org_admin,
        credential: Credential::ApiKey,
        project_roles: Vec::new(),
    })
}

/// The request path relative to `/api/v1` (nested routers see it stripped already).
fn gateway_relative(path: &str) -> &str {
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    path.strip_suffix('/').unwrap_or(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_hashes_match() {
        let a = new_key().unwrap();
        let b = new_key().unwrap();
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.secret.len(), 4 + 12 + 1 + 64);
        assert!(a.secret.starts_with(&format!("pgk_{}_", a.prefix)));
        assert_eq!(hash_key(&a.secret), a.hash);
        assert_ne!(hash_key(&b.secret), a.hash);
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Gateway < Role::Viewer);
        assert!(Role::Viewer < Role::Editor && Role::Editor < Role::Admin);
        assert_eq!(Role::parse("gateway"), Some(Role::Gateway));
        assert_eq!(Role::parse("editor"), Some(Role::Editor));
        assert_eq!(Role::parse("owner"), None);
    }
}
