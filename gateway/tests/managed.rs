//! Managed mode against an in-process fake control plane: picking up changes, rejecting
//! invalid snapshots, persisting and restarting from disk, shipping and dropping traces.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pingora::services::background::BackgroundService;
use promptgate::config::load::parse_yaml;
use promptgate::config::snapshot::compile;
use promptgate::managed::control::ControlPlane;
use promptgate::managed::traces::{ShipperIdentity, TraceShipper, TraceSink, MAX_BATCH};
use promptgate::managed::watch::{ManagedSettings, SnapshotWatcher};
use promptgate::managed::TraceStatus;
use promptgate::pipeline::Gateway;
use promptgate::providers::Endpoint;
use promptgate::upstream::client::ClientFactory;
use support::control_plane::{snapshot, FakeControlPlane, GATEWAY_KEY};
use support::process::{free_port, http, GatewayProcess};
use support::*;
use tokio::sync::watch;

const CONFIG: &str = "
providers:
  m: { type: mock, response: fixed, text: pong }
routes:
  - model: chat
    targets: [ { provider: m } ]
";

fn config_with_route(name: &str) -> String {
    format!("{CONFIG}  - model: {name}\n    targets: [ {{ provider: m }} ]\n")
}

/// A gateway with no config yet, as a managed gateway starts without a persisted snapshot.
fn unconfigured_gateway() -> Arc<Gateway> {
    let clients = ClientFactory::new();
    let empty = compile(
        parse_yaml("providers: {}").unwrap(),
        String::new(),
        &clients,
        |_| None,
    )
    .unwrap();
    let gw = Gateway::new(empty, clients).unwrap();
    gw.set_configured(false);
    Arc::new(gw)
}

/// Starts the watcher on `gw`; dropping the returned sender stops it.
fn watch_snapshots(
    gw: &Arc<Gateway>,
    cp: &FakeControlPlane,
    state_dir: &Path,
) -> watch::Sender<bool> {
    let control = Arc::new(ControlPlane::new(&cp.url(), GATEWAY_KEY, &gw.clients).unwrap());
    let watcher = SnapshotWatcher {
        gateway: gw.clone(),
        control,
        settings: ManagedSettings {
            project: "p".into(),
            environment: "prod".into(),
            state_dir: state_dir.to_owned(),
            wait: Duration::from_secs(30),
        },
    };
    let (stop, shutdown) = watch::channel(false);
    tokio::spawn(async move { watcher.start(shutdown).await });
    stop
}

/// Starts trace shipping for `gw` with a queue of `capacity`.
fn ship_traces(gw: &Arc<Gateway>, cp: &FakeControlPlane, capacity: usize) -> watch::Sender<bool> {
    let control = Arc::new(ControlPlane::new(&cp.url(), GATEWAY_KEY, &gw.clients).unwrap());
    let (sink, queue) = TraceSink::channel(capacity);
    assert!(gw.traces.set(sink).is_ok());
    let identity = ShipperIdentity {
        project: "p".into(),
        environment: "prod".into(),
        gateway: "gw-1".into(),
    };
    let shipper = TraceShipper::new(gw.clone(), control, identity, queue);
    let (stop, shutdown) = watch::channel(false);
    tokio::spawn(async move { shipper.start(shutdown).await });
    stop
}

async fn until(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done()
}

fn metrics(gw: &Gateway) -> String {
    String::from_utf8(gw.metrics.render()).unwrap()
}

#[tokio::test]
async fn picks_up_a_change_within_two_seconds_and_persists_it() {
    let cp = FakeControlPlane::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = unconfigured_gateway();
    assert!(!gw.is_ready());
    let _stop = watch_snapshots(&gw, &cp, dir.path());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!gw.is_ready(), "no config yet: not ready");
    cp.publish(snapshot("v1", CONFIG));
    assert!(until(Duration::from_secs(3), || gw.snapshot().version == "v1").await);
    assert!(gw.is_ready());
    // Now long-polling on v1: a change is answered at once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let published = Instant::now();
    cp.publish(snapshot("v2", &config_with_route("chat2")));
    assert!(until(Duration::from_secs(2), || gw.snapshot().version == "v2").await);
    assert!(published.elapsed() < Duration::from_secs(2));
    assert!(gw.snapshot().has_route("chat2"));
    let text = metrics(&gw);
    assert!(
        text.contains("promptgate_config_version{version=\"v2\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("promptgate_control_plane_connected 1"),
        "{text}"
    );
    let saved = std::fs::read_to_string(dir.path().join("snapshot-p-prod.json")).unwrap();
    let saved: promptgate::managed::ManagedSnapshot = serde_json::from_str(&saved).unwrap();
    assert_eq!(saved.version, "v2");
    // Long-polls, not a busy loop: a handful of requests for two versions.
    assert!(cp.snapshot_requests() < 10, "{}", cp.snapshot_requests());
}

#[tokio::test]
async fn invalid_snapshot_is_rejected_and_the_previous_one_keeps_serving() {
    let cp = FakeControlPlane::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = unconfigured_gateway();
    cp.publish(snapshot("v1", CONFIG));
    let _stop = watch_snapshots(&gw, &cp, dir.path());
    assert!(until(Duration::from_secs(3), || gw.snapshot().version == "v1").await);
    let unbound = format!("{CONFIG}    prompt: {{ name: missing }}\n");
    cp.publish(snapshot("v2", &unbound));
    let rejected =
        || metrics(&gw).contains("promptgate_config_reloads_total{result=\"rejected\"} 1");
    assert!(
        until(Duration::from_secs(3), rejected).await,
        "{}",
        metrics(&gw)
    );
    assert_eq!(gw.snapshot().version, "v1");
    let (down, _) = call(
        &gw,
        Endpoint::ChatCompletions,
        r#"{"model":"chat","messages":[{"role":"user","content":"hi"}]}"#,
    )
    .await;
    assert_eq!(status(&down), 200);
    let saved = std::fs::read_to_string(dir.path().join("snapshot-p-prod.json")).unwrap();
    assert!(
        saved.contains("\"v1\""),
        "the rejected snapshot is not persisted"
    );
    cp.publish(snapshot("v3", &config_with_route("chat3")));
    assert!(until(Duration::from_secs(2), || gw.snapshot().version == "v3").await);
}

#[tokio::test]
async fn ships_traces_with_prompt_and_usage_fields() {
    let cp = FakeControlPlane::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = unconfigured_gateway();
    let mut s = snapshot("v1", &format!("{CONFIG}    prompt: {{ name: support }}\n"));
    let release = serde_json::json!({"version": 5, "template": {"body": "Help {{ who }}",
                                     "variables": {"who": "string"}}});
    s.prompts
        .entry("support".into())
        .or_default()
        .insert("prod".into(), serde_json::from_value(release).unwrap());
    s.capture_payloads = true;
    cp.publish(s);
    let _watch = watch_snapshots(&gw, &cp, dir.path());
    let _ship = ship_traces(&gw, &cp, 100);
    assert!(until(Duration::from_secs(3), || gw.is_ready()).await);
    let body = r#"{"model":"chat","temperature":0.3,"messages":[{"role":"user","content":"mail a@b.io"}],"variables":{"who":"Ada"}}"#;
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, body).await;
    assert_eq!(
        status(&down),
        200,
        "{}",
        String::from_utf8_lossy(&down.body())
    );
    gw.finish(rec);
    let (down, rec) = call(
        &gw,
        Endpoint::ChatCompletions,
        r#"{"model":"chat","messages":[{"role":"user","content":"hi"}]}"#,
    )
    .await;
    assert_eq!(status(&down), 400);
    gw.finish(rec);
    assert!(until(Duration::from_secs(3), || cp.traces().len() == 2).await);
    let traces = cp.traces();
    let ok = &traces[0];
    assert_eq!(ok.route, "chat");
    assert_eq!(ok.endpoint, "/v1/chat/completions");
    assert_eq!(ok.prompt.as_deref(), Some("support"));
    assert_eq!(ok.prompt_version, Some(5));
    assert_eq!(ok.prompt_label.as_deref(), Some("prod"));
    assert_eq!(ok.variant.as_deref(), Some("stable"));
    assert_eq!(ok.provider.as_deref(), Some("mock"));
    assert_eq!(ok.status, TraceStatus::Ok);
    assert_eq!(ok.http_status, 200);
    assert!(ok.prompt_tokens > 0 && ok.completion_tokens > 0, "{ok:?}");
    assert!(ok.latency_ms > 0.0);
    assert_eq!(ok.decoding.as_ref().unwrap()["temperature"], 0.3);
    let request = ok.request.as_ref().unwrap().to_string();
    assert!(
        request.contains("[REDACTED_EMAIL]") && !request.contains("a@b.io"),
        "{request}"
    );
    assert!(ok.response.is_some());
    let failed = &traces[1];
    assert_eq!(failed.status, TraceStatus::Error);
    assert_eq!(failed.http_status, 400);
    assert!(failed.error.is_some());
    assert_eq!(cp.batches()[0], ("p".into(), "prod".into(), "gw-1".into()));
    // The fake records the batch before it answers; the counter moves on the answer.
    let shipped = || metrics(&gw).contains("promptgate_traces_shipped_total 2");
    assert!(
        until(Duration::from_secs(3), shipped).await,
        "{}",
        metrics(&gw)
    );
}

#[tokio::test]
async fn full_queue_drops_with_a_counter_while_the_control_plane_is_down_and_requests_stay_fast() {
    let cp = FakeControlPlane::start().await;
    let gw = gateway(CONFIG);
    cp.set_down(true);
    let queue = 10;
    let _ship = ship_traces(&gw, &cp, queue);
    let requests = MAX_BATCH + 200;
    let mut slowest = Duration::ZERO;
    for _ in 0..requests {
        let started = Instant::now();
        let (down, rec) = call(
            &gw,
            Endpoint::ChatCompletions,
            r#"{"model":"chat","messages":[{"role":"user","content":"hi"}]}"#,
        )
        .await;
        gw.finish(rec);
        slowest = slowest.max(started.elapsed());
        assert_eq!(status(&down), 200);
    }
    assert!(
        slowest < Duration::from_millis(500),
        "slowest request {slowest:?}"
    );
    // One batch is in the shipper's hands and `queue` wait; the rest were dropped at once.
    let dropped = gw.metrics.traces_dropped.get() as usize;
    assert!(dropped >= requests - MAX_BATCH - queue, "{dropped}");
    assert_eq!(gw.metrics.traces_shipped.get(), 0);
    assert!(metrics(&gw).contains("promptgate_traces_dropped_total"));
    // Once the retries give up, the batch in hand is dropped too.
    let all_dropped = || gw.metrics.traces_dropped.get() as usize >= requests - queue;
    assert!(
        until(Duration::from_secs(10), all_dropped).await,
        "{}",
        gw.metrics.traces_dropped.get()
    );
    assert!(cp.traces().is_empty());
}

fn spawn_managed(cp_url: &str, state_dir: &Path) -> GatewayProcess {
    let port = free_port();
    let admin = free_port();
    let sock = std::env::temp_dir().join(format!("promptgate-managed-test-{port}.sock"));
    let child = Command::new(env!("CARGO_BIN_EXE_promptgate"))
        .args([
            "--control-plane",
            cp_url,
            "--project",
            "p",
            "--environment",
            "prod",
        ])
        .arg("--state-dir")
        .arg(state_dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--admin-listen", &format!("127.0.0.1:{admin}")])
        .args(["--upgrade-sock", sock.to_str().unwrap()])
        .args([
            "--pid-file",
            &format!("/tmp/promptgate-managed-test-{port}.pid"),
        ])
        .env("PROMPTGATE_CONTROL_PLANE_KEY", GATEWAY_KEY)
        .env_remove("PROMPTGATE_CONFIG")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    GatewayProcess { child, port, admin }
}

async fn readyz(gw: &GatewayProcess) -> (u16, String) {
    http(gw.admin, "GET", "/readyz", "")
        .await
        .unwrap_or((0, String::new()))
}

#[tokio::test]
async fn binary_persists_ships_traces_and_restarts_from_disk_with_the_control_plane_down() {
    let cp = FakeControlPlane::start().await;
    cp.publish(snapshot("v1", CONFIG));
    let dir = tempfile::tempdir().unwrap();
    let chat = r#"{"model":"chat","messages":[{"role":"user","content":"ping"}]}"#;

    let mut first = spawn_managed(&cp.url(), dir.path());
    first.wait_healthy().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while readyz(&first).await.0 != 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, body) = readyz(&first).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"config_version\":\"v1\""), "{body}");
    let (code, response) = http(first.port, "POST", "/v1/chat/completions", chat)
        .await
        .unwrap();
    assert_eq!(code, 200, "{response}");
    assert!(until(Duration::from_secs(5), || !cp.traces().is_empty()).await);
    assert_eq!(cp.traces()[0].route, "chat");
    let (_, text) = http(first.admin, "GET", "/metrics", "").await.unwrap();
    assert!(
        text.contains("promptgate_control_plane_connected 1"),
        "{text}"
    );
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    // The control plane is gone: a closed port.
    let down_url = format!("http://127.0.0.1:{}", free_port());
    let second = spawn_managed(&down_url, dir.path());
    second.wait_healthy().await;
    let (code, body) = readyz(&second).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"config_version\":\"v1\""), "{body}");
    let (code, response) = http(second.port, "POST", "/v1/chat/completions", chat)
        .await
        .unwrap();
    assert_eq!(code, 200, "{response}");
    assert!(response.contains("pong"), "{response}");
    let (_, text) = http(second.admin, "GET", "/metrics", "").await.unwrap();
    assert!(
        text.contains("promptgate_control_plane_connected 0"),
        "{text}"
    );
    drop(second);

    // Nothing persisted and the control plane down: alive but not ready.
    let empty = tempfile::tempdir().unwrap();
    let third = spawn_managed(&down_url, empty.path());
    third.wait_healthy().await;
    assert_eq!(readyz(&third).await.0, 503);
}

#[test]
fn config_and_control_plane_are_exclusive() {
    let out = Command::new(env!("CARGO_BIN_EXE_promptgate"))
        .args([
            "--config",
            "x.yaml",
            "--control-plane",
            "http://127.0.0.1:1",
        ])
        .args(["--project", "p", "--environment", "prod"])
        .env_remove("PROMPTGATE_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
    let out = Command::new(env!("CARGO_BIN_EXE_promptgate"))
        .args([
            "--control-plane",
            "http://127.0.0.1:1",
            "--project",
            "p",
            "--environment",
            "prod",
        ])
        .env_remove("PROMPTGATE_CONFIG")
        .env_remove("PROMPTGATE_CONTROL_PLANE_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PROMPTGATE_CONTROL_PLANE_KEY"));
}
