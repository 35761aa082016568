//! Storage: one `sqlx::AnyPool` over SQLite or PostgreSQL, one query code path.
//!
//! Queries use `$N` placeholders (both drivers accept them), 64-bit integers, RFC 3339 UTC
//! text for times and text for JSON, so the same SQL runs on both dialects. Each dialect has
//! its own migrations folder (`migrations/sqlite`, `migrations/postgres`), embedded in the
//! binary.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

pub use promptgate::civil_time::format_rfc3339;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Row};
use tokio::sync::{Mutex, MutexGuard};

use crate::auth::{self, Role};

const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "deployments",
        include_str!("../../migrations/sqlite/0002_deployments.sql"),
    ),
    (
        3,
        "traces",
        include_str!("../../migrations/sqlite/0003_traces.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "deployments",
        include_str!("../../migrations/postgres/0002_deployments.sql"),
    ),
    (
        3,
        "traces",
        include_str!("../../migrations/postgres/0003_traces.sql"),
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported DATABASE_URL scheme (use sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Rng(#[from] auth::RngError),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The control plane's database handle.
pub struct Store {
    pub pool: AnyPool,
    pub backend: Backend,
    /// Serialises mutating transactions inside this process so the audit chain's
    /// read-last-then-append never races (the chain's primary key catches other writers).
    write_lock: Mutex<()>,
}

impl Store {
    /// Connects (creating a SQLite file when the URL says `mode=rwc`) and applies migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .connect(url)
            .await?;
        let store = Store {
            pool,
            backend,
            write_lock: Mutex::new(()),
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let files = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        let migrations: Vec<Migration> = files
            .iter()
            .map(|(version, name, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*name),
                    MigrationType::Simple,
                    Cow::Borrowed(*sql),
                    false,
                )
            })
            .collect();
        let migrator = Migrator {
            migrations: Cow::Owned(migrations),
            ..Migrator::DEFAULT
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Taken by every mutating handler for the length of its transaction.
    pub async fn write_guard(&self) -> MutexGuard<'_, ()> {
        self.write_lock.lock().await
    }

    /// On a fresh database: creates the default organization, the `admin` user and an
    /// org-wide admin API key, and returns that key (the only time it exists in clear).
    /// Returns `None` when the database was already bootstrapped.
    pub async fn bootstrap(&self) -> Result<Option<String>, StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let existing: Option<AnyRow> = sqlx::query("SELECT id FROM organizations LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        if existing.is_some() {
            return Ok(None);
        }
        let now = now_rfc3339();
        let org_id: i64 = sqlx::query(
            "INSERT INTO organizations (name, created_at) VALUES ($1, $2) RETURNING id",
        )
        .bind("default")
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let user_id: i64 = sqlx::query(
            "INSERT INTO users (org_id, name, is_org_admin, created_at) VALUES ($1, $2, 1, $3) RETURNING id",
        )
        .bind(org_id)
        .bind("admin")
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let key = auth::new_key()?;
        sqlx::query(
            "INSERT INTO api_keys (prefix, hash, name, user_id, project_id, role, created_at) \
             VALUES ($1, $2, $3, $4, NULL, $5, $6)",
        )
        .bind(&key.prefix)
        .bind(&key.hash)
        .bind("bootstrap")
        .bind(user_id)
        .bind(Role::Admin.as_str())
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        crate::audit::append(
            &mut tx,
            &crate::audit::Entry {
                actor: "system",
                project_id: None,
                action: "bootstrap",
                entity: format!("api_key:{}", key.prefix),
                before: None,
                after: Some(serde_json::json!({"user": "admin", "role": "admin", "scope": "org"})),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Some(key.secret))
    }
}

/// The current time as RFC 3339 UTC with milliseconds (fixed width, so text order = time order).
pub fn now_rfc3339() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(now.as_secs() as i64, now.subsec_millis())
}
