//! Virtual keys through the real binary: the shell passes `Authorization` to the pipeline
//! and refuses unauthenticated passthrough requests before they reach the upstream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use promptgate::tenants::sha256_hex;
use support::process::{http_as, GatewayProcess};
use support::{Reply, Upstream};

/// One request on a fresh connection, e.g. `line = "POST /v1/chat/completions"`.
async fn request(
    port: u16,
    line: &str,
    key: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let (method, path) = line.split_once(' ').unwrap();
    http_as(port, method, path, key, body).await
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
    let gw = GatewayProcess::spawn(&config, &[]).await;
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

#[tokio::test]
async fn two_gateway_processes_sharing_redis_enforce_one_limit() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("promptgate.yaml");
    // A fresh key name per run keeps runs (and other tests) from sharing counters.
    let name = format!("shared-{:016x}", fastrand::u64(..));
    let yaml = format!(
        "providers:\n  mock: {{ type: mock }}\nroutes:\n  - model: m\n    targets: [ {{ provider: mock }} ]\n\
redis_url: redis://127.0.0.1:6379\n\
virtual_keys:\n  - {{ name: {name}, key_sha256: {}, rpm: 4 }}\n",
        sha256_hex("sk-shared")
    );
    std::fs::write(&config, yaml).unwrap();
    let a = GatewayProcess::spawn(&config, &[]).await;
    let b = GatewayProcess::spawn(&config, &[]).await;
    let chat = "POST /v1/chat/completions";
    let mut statuses = Vec::new();
    for port in [a.port, b.port, a.port, b.port, a.port, b.port] {
        let (status, _) = request(port, chat, Some("sk-shared"), CHAT).await.unwrap();
        statuses.push(status);
    }
    // Unless the minute turned between requests, exactly 4 pass across both processes.
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        ok == 4 || (ok > 4 && ok <= 6 && statuses[..4] == [200; 4]),
        "{statuses:?}"
    );
    assert_eq!(&statuses[..4], &[200, 200, 200, 200], "{statuses:?}");
    if ok == 4 {
        assert_eq!(&statuses[4..], &[429, 429], "{statuses:?}");
    }
}
