//! Shared test harness: a fresh database per test (SQLite temp file or a new PostgreSQL
//! database), the router driven in-process, and small request helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use control_plane::{app, Store};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

#[macro_use]
pub mod fixtures;
pub mod deploy;

/// PostgreSQL server for the suite; override with PROMPTCTL_TEST_PG.
fn pg_base() -> String {
    std::env::var("PROMPTCTL_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// One test's database. Dropping it removes the database (PostgreSQL) or file (SQLite).
pub struct TestDb {
    pub url: String,
    pub backend: &'static str,
    pg_drop: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("promptctl.db").display()
        );
        TestDb {
            url,
            backend: "sqlite",
            pg_drop: None,
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> TestDb {
        sqlx::any::install_default_drivers();
        let base = pg_base();
        let mut buf = [0u8; 6];
        getrandom::fill(&mut buf).unwrap();
        let name = format!("pc_{}", hex_of(&buf));
        let admin = sqlx::AnyPool::connect(&base).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {base} is needed for the postgres suite: {e}")
        });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let (prefix, _) = base.rsplit_once('/').unwrap();
        TestDb {
            url: format!("{prefix}/{name}"),
            backend: "postgres",
            pg_drop: Some((base, name)),
            _dir: None,
        }
    }

    /// A second handle on the same database, for raw SQL (tampering, triggers).
    pub async fn store(&self) -> Store {
        Store::connect(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, name)) = self.pg_drop.take() {
            // Runs even when the test panicked; FORCE ends the test's open connections.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(admin) = sqlx::AnyPool::connect(&base).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&admin)
                                .await;
                        admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

fn hex_of(buf: &[u8]) -> String {
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// The service under test plus the bootstrap admin key.
pub struct Api {
    pub router: Router,
    pub admin: String,
}

impl Api {
    pub async fn start(db: &TestDb) -> Api {
        let store = Store::connect(&db.url).await.unwrap();
        let admin = store
            .bootstrap()
            .await
            .unwrap()
            .expect("fresh database bootstraps");
        assert!(
            store.bootstrap().await.unwrap().is_none(),
            "bootstrap key is issued once"
        );
        Api {
            router: app(store),
            admin,
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path);
        if let Some(key) = key {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, value)
    }

    /// Like `call`, with extra request headers, returning the response headers too.
    pub async fn call_full(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path);
        if let Some(key) = key {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, headers, value)
    }

    /// Calls and asserts the status, returning the body.
    pub async fn ok(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<Value>,
        want: u16,
    ) -> Value {
        let (status, value) = self.call(method, path, Some(key), body).await;
        assert_eq!(status.as_u16(), want, "{method} {path}: {value}");
        value
    }

    pub async fn new_user(&self, name: &str) -> i64 {
        let v = self
            .ok(
                "POST",
                "/api/v1/users",
                &self.admin.clone(),
                Some(serde_json::json!({"name": name})),
                201,
            )
            .await;
        v["id"].as_i64().unwrap()
    }

    /// Makes `user` a member with `role` and returns a key for them with that role.
    pub async fn member_key(&self, project: i64, user: i64, role: &str) -> String {
        let admin = self.admin.clone();
        self.ok(
            "PUT",
            &format!("/api/v1/projects/{project}/members/{user}"),
            &admin,
            Some(serde_json::json!({"role": role})),
            200,
        )
        .await;
        let v = self.ok("POST", &format!("/api/v1/projects/{project}/api_keys"), &admin,
            Some(serde_json::json!({"name": format!("{role}-key"), "user_id": user, "role": role})), 201).await;
        v["key"].as_str().unwrap().to_owned()
    }
}

/// Asserts an OpenAI-shaped error body.
pub fn assert_error_shape(v: &Value) {
    let e = &v["error"];
    assert!(e["message"].is_string(), "no error.message in {v}");
    assert!(e["type"].is_string(), "no error.type in {v}");
    assert!(
        e.get("param").is_some() && e.get("code").is_some(),
        "param/code missing in {v}"
    );
}
