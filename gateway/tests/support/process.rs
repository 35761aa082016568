//! The real `promptgate` binary in a child process on free ports, and raw HTTP/1.1 calls.

use std::net::TcpListener as StdListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct GatewayProcess {
    pub child: Child,
    pub port: u16,
    pub admin: u16,
}

impl GatewayProcess {
    /// Starts the binary on free ports and waits until it serves. A free port can be taken
    /// by a parallel test between choosing and binding it, so the gateway that answers must
    /// report this config's version; otherwise it is restarted on other ports.
    pub async fn spawn(config: &Path, extra: &[&str]) -> GatewayProcess {
        Self::spawn_env(config, extra, &[]).await
    }

    pub async fn spawn_env(config: &Path, extra: &[&str], env: &[(&str, &str)]) -> GatewayProcess {
        Self::spawn_logged(config, extra, env, None).await
    }

    /// Like [`Self::spawn_env`]; with `log`, the process's stdout and stderr go to that file.
    pub async fn spawn_logged(
        config: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
        log: Option<&Path>,
    ) -> GatewayProcess {
        let version = promptgate::config::load::file_version(config).unwrap();
        for _ in 0..5 {
            let gateway = Self::spawn_to(config, free_port(), free_port(), extra, env, log);
            gateway.wait_healthy().await;
            if let Ok((200, body)) = http(gateway.admin, "GET", "/readyz", "").await {
                if body.contains(&version) {
                    return gateway;
                }
            }
        }
        panic!("could not start a gateway on free ports");
    }

    /// Starts the binary; `--config-poll-ms 100` unless `extra` sets it.
    pub fn spawn_with(
        config: &Path,
        port: u16,
        admin: u16,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> GatewayProcess {
        Self::spawn_to(config, port, admin, extra, env, None)
    }

    fn spawn_to(
        config: &Path,
        port: u16,
        admin: u16,
        extra: &[&str],
        env: &[(&str, &str)],
        log: Option<&Path>,
    ) -> GatewayProcess {
        let output = || match log {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap(),
            ),
            None => Stdio::null(),
        };
        let sock = std::env::temp_dir().join(format!("promptgate-test-{port}.sock"));
        let poll: &[&str] = if extra.contains(&"--config-poll-ms") {
            &[]
        } else {
            &["--config-poll-ms", "100"]
        };
        let child = Command::new(env!("CARGO_BIN_EXE_promptgate"))
            .arg("--config")
            .arg(config)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--admin-listen", &format!("127.0.0.1:{admin}")])
            .args(["--upgrade-sock", sock.to_str().unwrap()])
            .args(poll)
            .args(extra)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(output())
            .stderr(output())
            .spawn()
            .unwrap();
        GatewayProcess { child, port, admin }
    }

    /// Until the admin listener answers and the API listener accepts.
    pub async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok((200, _)) = http(self.admin, "GET", "/healthz", "").await {
                if TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("gateway did not become healthy");
    }

    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name}");
    }

    pub fn wait_exit(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on a fresh connection; returns the status and the whole response.
pub async fn http(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    http_as(port, method, path, None, body).await
}

/// Like [`http`], with `Authorization: Bearer <key>` when a key is given.
pub async fn http_as(
    port: u16,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let auth = key.map_or(String::new(), |k| format!("authorization: Bearer {k}\r\n"));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    read_response(&mut stream).await
}

pub async fn read_response<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<(u16, String)> {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {text:?}")))?;
    Ok((status, text))
}
