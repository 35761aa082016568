//! Bring your own key in the real binary with debug logging: the client key reaches the
//! upstream (LLM and passthrough paths) and never the process's stdout or stderr.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use support::process::{read_response, GatewayProcess as Gateway};
use support::{Reply, Upstream, CHAT_OK};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const CLIENT: &str = "sk-byok-binary-secret-4242";

/// One HTTP/1.1 request with extra header lines; returns the status and the whole response.
async fn request(port: u16, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let raw = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\n{headers}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(raw.as_bytes()).await.unwrap();
    read_response(&mut stream).await.unwrap()
}

fn chat(model: &str, stream: bool) -> String {
    format!(
        r#"{{"model":"{model}","stream":{stream},"messages":[{{"role":"user","content":"hi"}}]}}"#
    )
}

#[tokio::test]
async fn the_client_key_reaches_the_upstream_but_never_the_logs() {
    let upstream = Upstream::start(|_, req| {
        if req.path.ends_with("/chat/completions") && req.body.windows(4).any(|w| w == b"fail") {
            // An upstream that echoes the key it was given, as some do.
            let key = req.authorization.clone().unwrap_or_default();
            return Reply::json(401, &format!(r#"{{"error":{{"message":"bad key {key}","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}}}"#));
        }
        if req.path.ends_with("/chat/completions") {
            return Reply::json(200, CHAT_OK);
        }
        Reply::json(200, r#"{"object":"list","data":[]}"#)
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("promptgate.yaml");
    std::fs::write(
        &config,
        format!(
            "providers:\n  up: {{ type: openai, base_url: '{}', api_key_env: BYOK_TEST_KEY }}\n\
routes:\n  - {{ model: own, byok: true, targets: [ {{ provider: up }} ] }}\n  - {{ model: fixed, targets: [ {{ provider: up }} ] }}\n\
default_route: {{ byok: true, targets: [ {{ provider: up }} ] }}\n",
            upstream.base_url()
        ),
    )
    .unwrap();
    let log = dir.path().join("gateway.log");
    let gw = Gateway::spawn_logged(
        &config,
        &[],
        &[("BYOK_TEST_KEY", "sk-configured"), ("RUST_LOG", "debug")],
        Some(&log),
    )
    .await;
    let header = format!("x-promptgate-provider-key: {CLIENT}\r\n");
    let bearer = format!("authorization: Bearer {CLIENT}\r\n");
    let chat_path = "/v1/chat/completions";

    let (status, text) = request(gw.port, "POST", chat_path, &header, &chat("own", false)).await;
    assert_eq!(status, 200, "{text}");
    let (status, _) = request(gw.port, "POST", chat_path, &bearer, &chat("own", false)).await;
    assert_eq!(status, 200);
    let (status, _) = request(gw.port, "POST", chat_path, &header, &chat("own", true)).await;
    assert_eq!(status, 200);
    let (status, text) = request(gw.port, "POST", chat_path, &header, &chat("fixed", false)).await;
    assert_eq!(status, 400);
    assert!(
        text.contains("byok_not_allowed") && !text.contains(CLIENT),
        "{text}"
    );
    let (status, text) = request(gw.port, "POST", chat_path, &header, &chat("fail", false)).await;
    assert_eq!(status, 401);
    assert!(!text.contains(CLIENT), "{text}");
    let (status, text) = request(gw.port, "GET", "/v1/files", &header, "").await;
    assert_eq!(status, 200, "{text}");

    let sent = upstream.requests();
    let with_key = sent
        .iter()
        .filter(|r| r.authorization.as_deref() == Some(&format!("Bearer {CLIENT}")))
        .count();
    assert_eq!(with_key, 5, "every byok request carried the client key");
    assert!(sent
        .iter()
        .all(|r| r.header("x-promptgate-provider-key").is_none()));
    let files = sent.iter().find(|r| r.path.ends_with("/files")).unwrap();
    assert_eq!(
        files.authorization.as_deref(),
        Some(&*format!("Bearer {CLIENT}"))
    );

    drop(gw);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let output = std::fs::read_to_string(&log).unwrap();
    assert!(
        output.contains("DEBUG"),
        "debug logging was on: {}",
        &output[..output.len().min(2000)]
    );
    assert!(
        !output.contains(CLIENT),
        "the client key was written to the process output"
    );
    // Nor a fragment of it long enough to matter.
    assert!(!output.contains(&CLIENT[3..20]));
}
