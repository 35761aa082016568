//! The upstream exchange end to end through the pipeline, against an in-process upstream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use promptgate::pipeline::downstream::BufferedDownstream;
use promptgate::providers::Endpoint;
use support::*;

fn two_target_config(a: &Upstream, b: &Upstream, extra: &str) -> String {
    format!(
        "providers:\n  a: {{ type: openai, base_url: '{}', api_key_env: TEST_KEY_UNSET_A }}\n  b: {{ type: openai, base_url: '{}' }}\n\
routes:\n  - model: m\n    targets: [ {{ provider: a }}, {{ provider: b }} ]\n\
prices:\n  m: {{ input_per_million: 1.0, output_per_million: 2.0 }}\n{extra}",
        a.base_url(),
        b.base_url()
    )
}

fn chat_body(content_len: usize) -> String {
    let content = "x".repeat(content_len);
    format!(r#"{{"model":"m","messages":[{{"role":"user","content":"{content}"}}]}}"#)
}

#[tokio::test]
async fn large_body_is_retried_whole_to_the_second_target_after_503() {
    let a = Upstream::start(|_, _| {
        Reply::json(
            503,
            r#"{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}"#,
        )
    })
    .await;
    let b = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let gw = gateway(&two_target_config(&a, &b, ""));
    let body = chat_body(200 * 1024);
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, body.clone()).await;
    assert_eq!(
        status(&down),
        200,
        "{}",
        String::from_utf8_lossy(&down.body())
    );
    assert_eq!(down.body(), CHAT_OK.as_bytes());
    assert_eq!(a.count(), 1);
    assert_eq!(b.count(), 1);
    assert_eq!(
        a.requests()[0].body.as_ref(),
        body.as_bytes(),
        "first target got the whole body"
    );
    assert_eq!(
        b.requests()[0].body.as_ref(),
        body.as_bytes(),
        "retry re-sent the whole body"
    );
    assert_eq!(b.requests()[0].path, "/v1/chat/completions");
    assert_eq!(rec.attempts, 2);
    assert_eq!(rec.usage.unwrap().prompt_tokens, 7);
    let cost: f64 = down
        .header("x-promptgate-cost-usd")
        .unwrap()
        .parse()
        .unwrap();
    assert!((cost - (7.0 + 4.0) / 1e6).abs() < 1e-12, "{cost}");
    assert_eq!(down.header("x-promptgate-route"), Some("m"));
}

#[tokio::test]
async fn client_errors_are_not_retried_and_pass_through() {
    let error = r#"{"error":{"message":"bad messages","type":"invalid_request_error","param":"messages","code":null}}"#;
    let a = Upstream::start(move |_, _| Reply::json(400, error)).await;
    let b = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let gw = gateway(&two_target_config(&a, &b, ""));
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, chat_body(10)).await;
    assert_eq!(status(&down), 400);
    assert_eq!(down.body(), error.as_bytes());
    assert_eq!((a.count(), b.count(), rec.attempts), (1, 0, 1));
}

#[tokio::test]
async fn connect_errors_and_timeouts_fall_back() {
    // Nothing listens on a's port once the listener is dropped.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let slow = Upstream::start(|_, _| Reply {
        head_delay: Duration::from_secs(5),
        ..Reply::json(200, CHAT_OK)
    })
    .await;
    let b = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let yaml = format!(
        "providers:\n  dead: {{ type: openai, base_url: 'http://{closed}/v1' }}\n  slow: {{ type: openai, base_url: '{}', timeouts: {{ first_byte_ms: 200 }} }}\n  b: {{ type: openai, base_url: '{}' }}\n\
routes:\n  - model: m\n    targets: [ {{ provider: dead }}, {{ provider: slow }}, {{ provider: b }} ]\n",
        slow.base_url(),
        b.base_url()
    );
    let gw = gateway(&yaml);
    let started = Instant::now();
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, chat_body(10)).await;
    assert_eq!(status(&down), 200);
    assert_eq!(rec.attempts, 3);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the slow target timed out at 200 ms"
    );
}

#[tokio::test]
async fn retry_after_is_honoured_on_the_same_target() {
    let a = Upstream::start(|n, _| {
        if n == 0 {
            let mut reply = Reply::json(429, r#"{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#);
            reply.headers.push(("retry-after", "0.3".into()));
            reply
        } else {
            Reply::json(200, CHAT_OK)
        }
    })
    .await;
    let yaml = format!(
        "providers:\n  a: {{ type: openai, base_url: '{}' }}\nroutes:\n  - model: m\n    targets: [ {{ provider: a }} ]\nretry: {{ max_attempts: 2 }}\n",
        a.base_url()
    );
    let gw = gateway(&yaml);
    let started = Instant::now();
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, chat_body(10)).await;
    assert_eq!(status(&down), 200);
    assert_eq!(rec.attempts, 2);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_429_storm_stays_within_the_retry_budget() {
    let a = Upstream::start(|_, _| Reply::json(429, r#"{"error":{"message":"no","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#)).await;
    let b = Upstream::start(|_, _| Reply::json(429, r#"{"error":{"message":"no","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#)).await;
    let extra = "retry: { max_attempts: 3, budget_ratio: 0.2, min_retries_per_second: 0, base_backoff_ms: 1, max_backoff_ms: 2 }\n";
    let gw = gateway(&two_target_config(&a, &b, extra));
    let requests = 300;
    for _ in 0..requests {
        let (down, _) = call(&gw, Endpoint::ChatCompletions, chat_body(10)).await;
        assert_eq!(status(&down), 429);
        assert!(String::from_utf8_lossy(&down.body()).contains("rate_limit_exceeded"));
    }
    let attempts = a.count() + b.count();
    assert!(
        attempts as f64 <= 1.2 * requests as f64,
        "{attempts} upstream attempts"
    );
    assert!(attempts > requests, "some retries were still made");
}

const STREAM_WITH_USAGE: &str = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],\"usage\":null}\n\n\
data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}],\"usage\":null}\n\n\
data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n\
data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n\
data: [DONE]\n\n";

fn stream_split_at(offset: usize) -> Reply {
    let bytes = Bytes::from_static(STREAM_WITH_USAGE.as_bytes());
    Reply::sse(vec![
        (Duration::ZERO, bytes.slice(..offset)),
        (Duration::from_millis(1), bytes.slice(offset..)),
    ])
}

#[tokio::test]
async fn sse_events_split_at_every_offset_arrive_intact() {
    let upstream =
        Upstream::start(|n, _| stream_split_at(1 + n % (STREAM_WITH_USAGE.len() - 1))).await;
    let yaml = format!(
        "providers:\n  a: {{ type: openai, base_url: '{}' }}\nroutes:\n  - model: m\n    targets: [ {{ provider: a }} ]\nprices:\n  m: {{ input_per_million: 1.0, output_per_million: 1.0 }}\n",
        upstream.base_url()
    );
    let gw = gateway(&yaml);
    let with_usage = r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#;
    let without_usage =
        r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let stripped = STREAM_WITH_USAGE
        .replace(",\"usage\":null", "")
        .replace("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n", "");
    for offset in 1..STREAM_WITH_USAGE.len() {
        let (body, expected) = if offset % 2 == 0 {
            (with_usage, STREAM_WITH_USAGE)
        } else {
            (without_usage, stripped.as_str())
        };
        let (down, rec) = call(&gw, Endpoint::ChatCompletions, body).await;
        assert_eq!(status(&down), 200);
        assert_eq!(
            String::from_utf8(down.body()).unwrap(),
            expected,
            "split at {offset}"
        );
        assert!(down.ended);
        let usage = rec.usage.unwrap();
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.estimated
            ),
            (5, 2, false)
        );
        assert!(rec.time_to_first_token.is_some());
    }
    // The gateway asked for usage when the client did not.
    let sent: serde_json::Value = serde_json::from_slice(&upstream.requests()[1].body).unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn client_disconnect_mid_stream_still_records_usage() {
    let chunk = Bytes::from_static(
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}],\"usage\":null}\n\n",
    );
    let upstream = Upstream::start(move |_, _| {
        Reply::sse(
            (0..50)
                .map(|_| (Duration::from_millis(5), chunk.clone()))
                .collect(),
        )
    })
    .await;
    let yaml = format!(
        "providers:\n  a: {{ type: openai, base_url: '{}' }}\nroutes:\n  - model: m\n    targets: [ {{ provider: a }} ]\nprices:\n  m: {{ input_per_million: 1.0, output_per_million: 1.0 }}\n",
        upstream.base_url()
    );
    let gw = gateway(&yaml);
    let down = BufferedDownstream {
        disconnect_after: Some(3),
        ..Default::default()
    };
    let body =
        r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hello there"}]}"#;
    let started = Instant::now();
    let (down, rec) = call_with(&gw, Endpoint::ChatCompletions, body, down).await;
    assert!(rec.client_disconnected);
    assert_eq!(down.chunks.len(), 3);
    let usage = rec.usage.expect("usage recorded after the client left");
    assert!(usage.estimated);
    assert!(usage.completion_tokens >= 3, "{usage:?}");
    assert!(usage.prompt_tokens > 0);
    assert!(rec.cost_usd.unwrap() > 0.0);
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "the upstream stream was dropped, not drained"
    );
    gw.metrics.record(&rec);
    let metrics = String::from_utf8(gw.metrics.render()).unwrap();
    assert!(
        metrics.contains("promptgate_usage_estimated_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_target_failing_before_its_first_event_is_retried() {
    let broken = Upstream::start(|_, _| Reply {
        head_delay: Duration::ZERO,
        ..Reply::sse(vec![(
            Duration::from_secs(5),
            Bytes::from_static(b"data: late\n\n"),
        )])
    })
    .await;
    let good = Upstream::start(|_, _| {
        Reply::sse(vec![(
            Duration::ZERO,
            Bytes::from_static(STREAM_WITH_USAGE.as_bytes()),
        )])
    })
    .await;
    let yaml = format!(
        "providers:\n  a: {{ type: openai, base_url: '{}', timeouts: {{ first_byte_ms: 200 }} }}\n  b: {{ type: openai, base_url: '{}' }}\n\
routes:\n  - model: m\n    targets: [ {{ provider: a }}, {{ provider: b }} ]\n",
        broken.base_url(),
        good.base_url()
    );
    let gw = gateway(&yaml);
    let body =
        r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#;
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, body).await;
    assert_eq!(String::from_utf8(down.body()).unwrap(), STREAM_WITH_USAGE);
    assert_eq!(rec.attempts, 2);
}

#[tokio::test]
async fn reload_under_load_drops_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.yaml");
    let config = |text: &str| {
        format!("providers:\n  mock: {{ type: mock, response: fixed, text: '{text}' }}\nroutes:\n  - model: m\n    targets: [ {{ provider: mock }} ]\n")
    };
    std::fs::write(&path, config("one")).unwrap();
    let gw = gateway(&config("one"));
    let watcher = promptgate::config::watch::ConfigWatcher::new(
        gw.clone(),
        path.clone(),
        Duration::from_millis(10),
    );
    let mut tasks = Vec::new();
    for _ in 0..400 {
        let gw: Arc<_> = gw.clone();
        tasks.push(tokio::spawn(async move {
            let (down, _) = call(
                &gw,
                Endpoint::ChatCompletions,
                r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
            )
            .await;
            (status(&down), down.body())
        }));
        tokio::task::yield_now().await;
    }
    let mut swaps = 0;
    for i in 0..40 {
        std::fs::write(&path, config(if i % 2 == 0 { "two" } else { "one" })).unwrap();
        if watcher.reload("test") {
            swaps += 1;
        }
        tokio::task::yield_now().await;
    }
    std::fs::write(&path, "providers: [ not valid").unwrap();
    assert!(!watcher.reload("test"), "an invalid file is rejected");
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, 200);
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let text = body["choices"][0]["message"]["content"].as_str().unwrap();
        assert!(text == "one" || text == "two", "{text}");
    }
    assert!(swaps >= 39, "{swaps}");
    let (down, _) = call(
        &gw,
        Endpoint::ChatCompletions,
        r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
    )
    .await;
    assert_eq!(status(&down), 200, "the last good snapshot keeps serving");
}

#[tokio::test]
async fn bad_requests_get_openai_errors() {
    let gw = gateway("providers:\n  mock: { type: mock }\nroutes:\n  - model: m\n    targets: [ { provider: mock } ]\n");
    for (body, code, needle) in [
        ("{not json", 400, "parse"),
        ("[]", 400, "object"),
        (r#"{"messages":[]}"#, 400, "model"),
        (r#"{"model":7,"messages":[]}"#, 400, "model"),
        (
            r#"{"model":"m","stream":"yes","messages":[]}"#,
            400,
            "stream",
        ),
        (r#"{"model":"nope","messages":[]}"#, 404, "model_not_found"),
    ] {
        let (down, _) = call(&gw, Endpoint::ChatCompletions, body).await;
        assert_eq!(status(&down), code, "{body}");
        let text = String::from_utf8(down.body()).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(json["error"]["message"].is_string(), "{text}");
        assert!(text.contains(needle), "{body}: {text}");
    }
}

#[tokio::test]
async fn responses_api_is_relayed_and_accounted_whole_and_streamed() {
    const WHOLE: &str = r#"{"id":"resp_1","object":"response","status":"completed","model":"m","output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"hi"}]}],"usage":{"input_tokens":11,"output_tokens":3,"output_tokens_details":{"reasoning_tokens":1},"total_tokens":14}}"#;
    const STREAM: &str = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"usage\":null}}\n\n\
event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n\
event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"usage\":{\"input_tokens\":11,\"output_tokens\":3,\"total_tokens\":14}}}\n\n";
    let upstream = Upstream::start(|_, req| {
        if req.body.windows(13).any(|w| w == b"\"stream\":true") {
            Reply::sse(vec![(
                Duration::ZERO,
                Bytes::from_static(STREAM.as_bytes()),
            )])
        } else {
            Reply::json(200, WHOLE)
        }
    })
    .await;
    let yaml = format!(
        "providers:\n  a: {{ type: openai, base_url: '{}' }}\nroutes:\n  - model: m\n    targets: [ {{ provider: a }} ]\nprices:\n  m: {{ input_per_million: 1.0, output_per_million: 1.0 }}\n",
        upstream.base_url()
    );
    let gw = gateway(&yaml);
    let (down, rec) = call(&gw, Endpoint::Responses, r#"{"model":"m","input":"hello"}"#).await;
    assert_eq!(status(&down), 200);
    assert_eq!(down.body(), WHOLE.as_bytes());
    let usage = rec.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.reasoning_tokens
        ),
        (11, 3, 1)
    );
    assert_eq!(upstream.requests()[0].path, "/v1/responses");

    let (down, rec) = call(
        &gw,
        Endpoint::Responses,
        r#"{"model":"m","input":"hello","stream":true}"#,
    )
    .await;
    assert_eq!(
        String::from_utf8(down.body()).unwrap(),
        STREAM,
        "events pass through unchanged"
    );
    let usage = rec.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.estimated
        ),
        (11, 3, false)
    );
    let sent: serde_json::Value = serde_json::from_slice(&upstream.requests()[1].body).unwrap();
    assert!(
        sent.get("stream_options").is_none(),
        "the Responses API has no stream_options"
    );
}
