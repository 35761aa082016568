//! promptgate control plane (`promptctl`): projects, users, memberships, API keys, prompts,
//! immutable prompt versions, approvals, labels and a hash-chained audit log, over REST
//! (`/api/v1/...`) on SQLite or PostgreSQL.

use std::sync::Arc;

pub mod api;
pub mod audit;
pub mod auth;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod store;

pub use store::Store;

/// Shared state of every handler.
pub struct AppState {
    pub store: Store,
}

/// The whole REST service, apart from `main` so tests drive it in-process.
pub fn app(store: Store) -> axum::Router {
    api::router(Arc::new(AppState { store }))
}
