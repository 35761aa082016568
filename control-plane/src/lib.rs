//! promptgate control plane (`promptctl`): projects, users, memberships, API keys, prompts,
//! immutable prompt versions, approvals, labels and a hash-chained audit log, over REST
//! (`/api/v1/...`) on SQLite or PostgreSQL.

use std::sync::Arc;

pub mod api;
pub mod audit;
pub mod auth;
pub mod error;
pub mod extract;
pub mod oidc;
pub mod openapi;
pub mod snapshot;
pub mod store;

pub use store::Store;

/// Shared state of every handler.
pub struct AppState {
    pub store: Store,
    /// Bumped after every committed change that can alter a gateway snapshot; snapshot
    /// long-polls wait on it (and re-check every second for other replicas' changes).
    pub changes: tokio::sync::watch::Sender<u64>,
    /// Verifies OIDC bearer tokens when `--oidc-issuer` is set.
    pub oidc: Option<oidc::OidcVerifier>,
    /// Signing secret of `POST /api/v1/auth/token` access tokens, loaded on first use.
    pub token_secret: tokio::sync::OnceCell<Vec<u8>>,
}

impl AppState {
    pub fn new(store: Store) -> AppState {
        AppState {
            store,
            changes: tokio::sync::watch::Sender::new(0),
            oidc: None,
            token_secret: tokio::sync::OnceCell::new(),
        }
    }

    /// Wakes every waiting snapshot long-poll; call after the change committed.
    pub fn snapshot_changed(&self) {
        self.changes.send_modify(|generation| *generation += 1);
    }

    pub fn with_oidc(mut self, verifier: oidc::OidcVerifier) -> AppState {
        self.oidc = Some(verifier);
        self
    }
}

/// The whole REST service, apart from `main` so tests drive it in-process.
pub fn app(store: Store) -> axum::Router {
    app_with(AppState::new(store))
}

/// The REST service over prepared state (OIDC and such).
pub fn app_with(state: AppState) -> axum::Router {
    api::router(Arc::new(state))
}
