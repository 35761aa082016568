//! The caller behind a verified OIDC token: the user whose `email` matches the token's
//! (case-insensitively), with their current memberships. No such user → 401.

use sqlx::Row;

use crate::auth::{Caller, Credential, Role};
use crate::error::ApiError;
use crate::AppState;

pub async fn caller_for_email(state: &AppState, email: &str) -> Result<Caller, ApiError> {
    let users = sqlx::query(
        "SELECT id, name, is_org_admin FROM users WHERE email IS NOT NULL AND LOWER(email) = LOWER($1) \
         ORDER BY id LIMIT 2",
    )
    .bind(email)
    .fetch_all(&state.store.pool)
    .await?;
    let user = match users.as_slice() {
        [one] => one,
        [] => {
            return Err(ApiError::Unauthenticated(
                "no user has the OIDC token's email".into(),
            ))
        }
        _ => {
            return Err(ApiError::Unauthenticated(
                "several users have the OIDC token's email; ask an admin to make it unique".into(),
            ))
        }
    };
    let user_id: i64 = user.try_get("id")?;
    let org_admin = user.try_get::<i64, _>("is_org_admin")? == 1;
    let memberships = sqlx::query(
        "SELECT project_id, role FROM memberships WHERE user_id = $1 ORDER BY project_id",
    )
    .bind(user_id)
    .fetch_all(&state.store.pool)
    .await?;
    let mut project_roles = Vec::with_capacity(memberships.len());
    for m in &memberships {
        let role: String = m.try_get("role")?;
        if let Some(role) = Role::parse(&role) {
            project_roles.push((m.try_get::<i64, _>("project_id")?, role));
        }
    }
    // A user of exactly one project acts in it like a key of that project would.
    let (project_id, role) = match (org_admin, project_roles.as_slice()) {
        (true, _) => (None, Role::Admin),
        (false, [(project, role)]) => (Some(*project), *role),
        (false, _) => (None, Role::Viewer),
    };
    Ok(Caller {
        user_id,
        user_name: user.try_get("name")?,
        key_id: 0,
        project_id,
        role,
        org_admin,
        credential: Credential::Oidc,
        project_roles,
    })
}
