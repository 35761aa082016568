//! Virtual keys through the real binary: the shell passes `Authorization` to the pipeline
//! and refuses unauthenticated passthrough requests before they reach the upstream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use promptgate::tenants::sha256_hex;
use support::{Reply, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn free_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

struct Binary {
    child: Child,
    port: u16,
    admin: u16,
}

impl Binary {
    fn spawn(config: &std::path::Path) -> Binary {
        let (port, admin) = (free_port(), free_port());
        let sock = std::env::temp_dir().join(format!("promptgate-tenants-{port}.sock"));
        let child = Command::new(env!("CARGO_BIN_EXE_promptgate"))
            .arg("--config")
            .arg(config)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--admin-listen", &format!("127.0.0.1:{admin}")])
            .args(["--upgrade-sock", sock.to_str().unwrap()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Binary { child, port, admin }
    }

    async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok((200, _)) = request(self.admin, "GET /healthz", None, "").await {
                if TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("gateway did not become healthy");
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request on a fresh connection, e.g. `line = "POST /v1/chat/completions"`.
async fn request(
    port: u16,
    line: &str,
    key: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let auth = key.map_or(String::new(), |k| format!("authorization: Bearer {k}\r\n"));
    let text = format!(
        "{line} HTTP/1.1\r\nhost: localhost\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).await?;
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

const CHAT: &str = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;

#[tokio::test]
async fn the_binary_checks_bearer_keys_on_every_api_path() {
    let upstream = Upstream::start(|_, _| Reply::json(200, r#"{"object":"list","data":[]}"#)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("promptgate.yaml");
    let yaml = format!(
        "providers:\n  mock: {{ type: mock }}\n  up: {{ type: openai, base_url: 'http://{}/v1' }}\n\
routes:\n  - model: m\n    targets: [ {{ provider: mock }} ]\n\
default_route:\n  targets: [ {{ provider: up }} ]\n\
virtual_keys:\n  - {{ name: ops, key_sha256: {} }}\n",
        upstream.addr,
        sha256_hex("sk-ops")
    );
    std::fs::write(&config, yaml).unwrap();
    let gw = Binary::spawn(&config);
    gw.wait_healthy().await;
    let chat = "POST /v1/chat/completions";
    for (line, key, body, want) in [
        (chat, None, CHAT, 401),
        (chat, Some("sk-nope"), CHAT, 401),
        (chat, Some("sk-ops"), CHAT, 200),
        ("GET /v1/models", None, "", 401),
        ("GET /v1/models", Some("sk-ops"), "", 200),
        ("GET /v1/files", None, "", 401),
    ] {
        let (status, text) = request(gw.port, line, key, body).await.unwrap();
        assert_eq!(status, want, "{line} {key:?}: {text}");
        if want == 401 {
            assert!(text.contains("invalid_api_key"), "{text}");
        }
    }
    assert_eq!(upstream.count(), 0, "no unauthenticated passthrough");
    let (status, text) = request(gw.port, "GET /v1/files", Some("sk-ops"), "")
        .await
        .unwrap();
    assert_eq!(status, 200, "{text}");
    assert_eq!(upstream.count(), 1);
    assert_eq!(
        upstream.requests()[0].authorization,
        None,
        "the virtual key never reaches the upstream"
    );
}
