//! Policy files in the real binary: an edit is picked up by the file watcher and by SIGHUP,
//! changes the config version, and an invalid edit is rejected while the old config serves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use promptgate::config::load::file_version;
use support::process::{http, GatewayProcess as Gateway};

const CHAT: &str = r#"{"model":"smart","messages":[{"role":"user","content":"hi"}]}"#;

const MAIN: &str = "
providers:
  a: { type: mock, response: fixed, text: 'answer-from-a' }
  b: { type: mock, response: fixed, text: 'answer-from-b' }
policy_files: [ policies/routing.yaml ]
routes:
  - { model: smart, policy: pick }
";

fn policy_file(provider: &str) -> String {
    format!("policies:\n  - name: pick\n    objective: min_cost\n    candidates: [ {{ provider: {provider}, model: x }} ]\n")
}

fn write_policies(dir: &Path, text: &str) {
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(dir.join("policies/routing.yaml"), text).unwrap();
}

/// Asks until the answer contains `want`; returns the admin `/readyz` body then.
async fn wait_for_answer(gw: &Gateway, want: &str, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, text) = http(gw.port, "POST", "/v1/chat/completions", CHAT)
            .await
            .unwrap();
        if text.contains(want) {
            return http(gw.admin, "GET", "/readyz", "").await.unwrap().1;
        }
        assert!(Instant::now() < deadline, "{what}: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn metrics(gw: &Gateway) -> String {
    http(gw.admin, "GET", "/metrics", "").await.unwrap().1
}

#[tokio::test]
async fn an_edited_policy_file_is_reloaded_and_an_invalid_one_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("promptgate.yaml");
    std::fs::write(&config, MAIN).unwrap();
    write_policies(dir.path(), &policy_file("a"));
    let first = file_version(&config).unwrap();
    let gw = Gateway::spawn(&config, &[]).await;
    let ready = wait_for_answer(&gw, "answer-from-a", "first config").await;
    assert!(ready.contains(&first), "{ready}");

    // Only the policy file changes: the watcher reloads and the version moves.
    write_policies(dir.path(), &format!("{}\n", policy_file("b")));
    let second = file_version(&config).unwrap();
    assert_ne!(first, second);
    let ready = wait_for_answer(&gw, "answer-from-b", "policy file edit not picked up").await;
    assert!(ready.contains(&second), "{ready}");
    let m = metrics(&gw).await;
    assert!(
        m.contains("promptgate_config_reloads_total{result=\"ok\"} 1"),
        "{m}"
    );
    assert!(m.contains(&second), "the version metric follows: {m}");

    // An invalid policy file is rejected whole; the previous snapshot keeps serving.
    write_policies(
        dir.path(),
        &policy_file("b").replace("objective", "objectiv"),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !metrics(&gw)
        .await
        .contains("promptgate_config_reloads_total{result=\"rejected\"} 1")
    {
        assert!(
            Instant::now() < deadline,
            "the invalid file was not rejected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, text) = http(gw.port, "POST", "/v1/chat/completions", CHAT)
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(text.contains("answer-from-b"), "{text}");
    let ready = http(gw.admin, "GET", "/readyz", "").await.unwrap().1;
    assert!(ready.contains(&second), "{ready}");
}

#[tokio::test]
async fn sighup_reloads_a_policy_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("promptgate.yaml");
    std::fs::write(&config, MAIN).unwrap();
    write_policies(dir.path(), &policy_file("a"));
    // Poll rarely so that this test exercises SIGHUP, not the file watcher.
    let gw = Gateway::spawn(&config, &["--config-poll-ms", "600000"]).await;
    wait_for_answer(&gw, "answer-from-a", "first config").await;
    write_policies(dir.path(), &policy_file("b"));
    gw.signal("HUP");
    let ready = wait_for_answer(&gw, "answer-from-b", "SIGHUP did not reload").await;
    assert!(ready.contains(&file_version(&config).unwrap()), "{ready}");
}
