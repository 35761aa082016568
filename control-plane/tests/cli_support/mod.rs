//! Runs the real `promptctl` binary against a control plane served on a port-0 listener.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use axum::Router;

/// Serves `router` on 127.0.0.1:0 for the rest of the test; returns its base URL.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// A URL where nothing listens (a port just released).
pub fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// What one `promptctl` run did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "promptctl failed: {self:?}");
        assert!(self.stderr.is_empty() || !self.stderr.contains("panicked"));
        &self.stdout
    }

    /// Asserts a clean failure (no panic, no debug dump) and returns stderr.
    pub fn failed(&self) -> &str {
        assert_ne!(self.code, 0, "promptctl should have failed: {self:?}");
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "{self:?}"
        );
        assert!(
            self.stderr.starts_with("promptctl: ") || self.stderr.starts_with("error: "),
            "errors start with the program name: {self:?}"
        );
        &self.stderr
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

/// One isolated CLI user: its own config file, no settings leaking from the environment.
pub struct Cli {
    /// Sent as PROMPTCTL_URL unless empty.
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl Cli {
    pub fn new(url: &str) -> Cli {
        Cli {
            url: url.to_owned(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("promptctl").join("config.toml")
    }

    /// `promptctl ARGS` with `key` (when given) and this CLI's URL in the environment.
    pub async fn run(&self, key: Option<&str>, args: &[&str]) -> Run {
        self.run_with_stdin(key, args, "").await
    }

    pub async fn run_with_stdin(&self, key: Option<&str>, args: &[&str], stdin: &str) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_promptctl"));
        cmd.args(args)
            .env_remove("DATABASE_URL")
            .env_remove("PROMPTCTL_PROJECT")
            .env_remove("PROMPTCTL_CONFIG")
            .env_remove("PROMPTCTL_API_KEY")
            .env("XDG_CONFIG_HOME", self.dir.path())
            .env("HOME", self.dir.path())
            .env_remove("PROMPTCTL_URL")
            .env("RUST_LOG", "warn")
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(key) = key {
            cmd.env("PROMPTCTL_API_KEY", key);
        }
        if !self.url.is_empty() {
            cmd.env("PROMPTCTL_URL", &self.url);
        }
        let stdin = stdin.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().unwrap();
            // A command that does not read stdin may exit first: a broken pipe is fine.
            let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
            let out = child.wait_with_output().unwrap();
            Run {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        })
        .await
        .unwrap()
    }

    /// Writes `text` to a file in this CLI's directory and returns its path.
    pub fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}
