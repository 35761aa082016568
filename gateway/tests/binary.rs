//! The `promptgate` binary as operators run it: listeners, signals, TLS, upgrade.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use support::process::{http, read_response, GatewayProcess as Gateway};
use support::{Reply, Upstream};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn write_config(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("promptgate.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

const CHAT: &str = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;

fn mock_config(text: &str) -> String {
    format!("providers:\n  mock: {{ type: mock, response: fixed, text: '{text}' }}\nroutes:\n  - model: m\n    targets: [ {{ provider: mock }} ]\nlimits: {{ max_body_bytes: 4096 }}\n")
}

#[tokio::test]
async fn sigterm_drains_an_in_flight_stream_then_exits() {
    let chunk = Bytes::from_static(
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n",
    );
    let upstream = Upstream::start(move |_, _| {
        let mut chunks: Vec<_> = (0..10)
            .map(|_| (Duration::from_millis(100), chunk.clone()))
            .collect();
        chunks.push((Duration::ZERO, Bytes::from_static(b"data: [DONE]\n\n")));
        Reply::sse(chunks)
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!("providers:\n  up: {{ type: openai, base_url: '{}' }}\ndefault_route:\n  targets: [ {{ provider: up }} ]\n", upstream.base_url()),
    );
    let mut gw = Gateway::spawn(&config, &[]).await;
    let port = gw.port;
    let stream = tokio::spawn(async move {
        http(
            port,
            "POST",
            "/v1/chat/completions",
            r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#,
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    gw.signal("TERM");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        http(gw.port, "GET", "/v1/models", "").await.is_err(),
        "no new connections while draining"
    );
    let (status, text) = stream.await.unwrap().unwrap();
    assert_eq!(status, 200);
    assert_eq!(text.matches("\"content\":\"x\"").count(), 10, "{text}");
    assert!(text.contains("data: [DONE]"));
    assert!(
        gw.wait_exit(Duration::from_secs(5)),
        "exits once drained, long before the 30 s grace period"
    );
}

#[tokio::test]
async fn sighup_reloads_and_an_invalid_file_keeps_the_old_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock_config("first"));
    // Poll rarely so that this test exercises SIGHUP, not the file watcher.
    let gw = Gateway::spawn(&config, &["--config-poll-ms", "600000"]).await;
    let (_, text) = http(gw.port, "POST", "/v1/chat/completions", CHAT)
        .await
        .unwrap();
    assert!(text.contains("first"), "{text}");

    std::fs::write(&config, mock_config("second")).unwrap();
    gw.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, text) = http(gw.port, "POST", "/v1/chat/completions", CHAT)
            .await
            .unwrap();
        if text.contains("second") {
            break;
        }
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, metrics) = http(gw.admin, "GET", "/metrics", "").await.unwrap();
    assert!(
        metrics.contains("promptgate_config_reloads_total{result=\"ok\"} 1"),
        "{metrics}"
    );

    std::fs::write(&config, "providers:\n  mock: { type: mock, bogus: 1 }\n").unwrap();
    gw.signal("HUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, text) = http(gw.port, "POST", "/v1/chat/completions", CHAT)
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(text.contains("second"), "old snapshot still serves: {text}");
    let (_, metrics) = http(gw.admin, "GET", "/metrics", "").await.unwrap();
    assert!(
        metrics.contains("promptgate_config_reloads_total{result=\"rejected\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn oversized_bodies_get_413_and_admin_endpoints_answer() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock_config("ok"));
    let gw = Gateway::spawn(&config, &[]).await;
    let big = format!(
        r#"{{"model":"m","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(8192)
    );
    let (status, text) = http(gw.port, "POST", "/v1/chat/completions", &big)
        .await
        .unwrap();
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("request_too_large"), "{text}");
    let (status, text) = http(gw.admin, "GET", "/readyz", "").await.unwrap();
    assert_eq!(status, 200);
    assert!(text.contains("config_version"), "{text}");
    let (status, text) = http(gw.admin, "GET", "/metrics", "").await.unwrap();
    assert_eq!(status, 200);
    assert!(
        text.contains("promptgate_requests_total{endpoint=\"chat\",route=\"\",status=\"413\"} 1"),
        "{text}"
    );
    let (status, _) = http(gw.port, "GET", "/nothing-here", "").await.unwrap();
    assert_eq!(status, 404);
    let (status, _) = http(gw.port, "GET", "/v1/chat/completions", "")
        .await
        .unwrap();
    assert_eq!(status, 405);
}

#[tokio::test]
async fn terminates_tls_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock_config("over tls"));
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let gw = Gateway::spawn(
        &config,
        &[
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ],
    )
    .await;
    gw.wait_healthy().await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let tcp = TcpStream::connect(("127.0.0.1", gw.port)).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut stream = connector.connect(name, tcp).await.unwrap();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{CHAT}",
        CHAT.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let (status, text) = read_response(&mut stream).await.unwrap();
    assert_eq!(status, 200);
    assert!(text.contains("over tls"), "{text}");
}

#[tokio::test]
async fn graceful_upgrade_hands_over_the_listener_without_dropping_requests() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock_config("old"));
    let mut old = Gateway::spawn(&config, &[]).await;
    let (port, admin) = (old.port, old.admin);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let done = done.clone();
        tokio::spawn(async move {
            let (mut ok, mut failed) = (0, 0);
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                match http(port, "POST", "/v1/chat/completions", CHAT).await {
                    Ok((200, _)) => ok += 1,
                    _ => failed += 1,
                }
            }
            (ok, failed)
        })
    };
    let config_new = dir.path().join("new.yaml");
    std::fs::write(&config_new, mock_config("new")).unwrap();
    let new = Gateway::spawn_with(&config_new, port, admin, &["--upgrade"], &[]);
    // The new process waits for the listeners; SIGQUIT makes the old one send them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    old.signal("QUIT");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok((_, text)) = http(port, "POST", "/v1/chat/completions", CHAT).await {
            if text.contains("new") {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the new process never took over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed) = load.await.unwrap();
    assert!(ok > 0);
    assert_eq!(
        failed, 0,
        "{failed} requests failed during the upgrade ({ok} succeeded)"
    );
    assert!(
        old.wait_exit(Duration::from_secs(15)),
        "the old process exits"
    );
    drop(new);
}

#[tokio::test]
async fn other_v1_paths_pass_through_with_the_gateway_credentials() {
    let upstream = Upstream::start(|_, _| Reply::json(200, r#"{"object":"list","data":[]}"#)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "providers:\n  up: {{ type: openai, base_url: 'http://{}/openai/v1', api_key_env: PASSTHROUGH_TEST_KEY }}\ndefault_route:\n  targets: [ {{ provider: up }} ]\n",
            upstream.addr
        ),
    );
    let gw = Gateway::spawn_env(
        &config,
        &[],
        &[("PASSTHROUGH_TEST_KEY", "sk-gateway-secret")],
    )
    .await;
    gw.wait_healthy().await;
    let mut stream = TcpStream::connect(("127.0.0.1", gw.port)).await.unwrap();
    let request = "GET /v1/files?purpose=batch HTTP/1.1\r\nhost: evil.example\r\nauthorization: Bearer client-key\r\nconnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let (status, text) = read_response(&mut stream).await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(r#"{"object":"list","data":[]}"#), "{text}");
    let received = upstream.requests();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].path, "/openai/v1/files",
        "re-rooted under the base URL"
    );
    assert_eq!(
        received[0].authorization.as_deref(),
        Some("Bearer sk-gateway-secret"),
        "the client's key never reaches the upstream"
    );
}

#[tokio::test]
async fn an_edited_config_file_is_picked_up_without_a_signal() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mock_config("before"));
    let gw = Gateway::spawn(&config, &[]).await;
    std::fs::write(&config, mock_config("after")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, text) = http(gw.port, "POST", "/v1/chat/completions", CHAT)
            .await
            .unwrap();
        if text.contains("after") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the file change was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
