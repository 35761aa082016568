//! Routing policies and passive health end to end through the pipeline, against in-process
//! upstreams.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use promptgate::pipeline::downstream::BufferedDownstream;
use promptgate::providers::Endpoint;
use promptgate::routing::health::BreakerState;
use support::*;

const OVERLOADED: &str =
    r#"{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}"#;

fn chat(extra: &str) -> String {
    format!(r#"{{"model":"m","messages":[{{"role":"user","content":"hi"}}]{extra}}}"#)
}

#[tokio::test]
async fn failing_target_is_ejected_then_probed_and_closed() {
    let healthy = Arc::new(AtomicBool::new(false));
    let flag = healthy.clone();
    let a = Upstream::start(move |_, _| {
        if flag.load(Ordering::SeqCst) {
            Reply::json(200, CHAT_OK)
        } else {
            Reply::json(503, OVERLOADED)
        }
    })
    .await;
    let b = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let gw = gateway(&format!(
        "providers:\n  a: {{ type: openai, base_url: '{}' }}\n  b: {{ type: openai, base_url: '{}' }}\n\
routes:\n  - model: m\n    targets: [ {{ provider: a }}, {{ provider: b }} ]\n\
health: {{ consecutive_failures: 3, open_ms: 2000 }}\nretry: {{ max_attempts: 2, min_retries_per_second: 1000 }}\n",
        a.base_url(),
        b.base_url()
    ));
    for _ in 0..3 {
        let (down, _) = call(&gw, Endpoint::ChatCompletions, chat("")).await;
        assert_eq!(status(&down), 200);
    }
    assert_eq!(a.count(), 3);
    assert_eq!(
        gw.health.view(("a", "m")).unwrap().state,
        BreakerState::Open
    );
    for _ in 0..5 {
        let (down, rec) = call(&gw, Endpoint::ChatCompletions, chat("")).await;
        assert_eq!(status(&down), 200);
        assert_eq!(rec.attempts, 1);
        assert_eq!(
            down.header("x-promptgate-decision"),
            Some("policy=-;chosen=b/m;skipped=a/m(breaker_open)")
        );
    }
    assert_eq!(a.count(), 3, "an open breaker stops traffic to its target");
    let metrics = String::from_utf8(gw.metrics.render()).unwrap();
    assert!(
        metrics.contains(r#"promptgate_upstream_health{model="m",provider="a"} 2"#),
        "{metrics}"
    );
    assert!(metrics.contains("promptgate_upstream_latency_ewma_seconds"));

    healthy.store(true, Ordering::SeqCst);
    // open_ms leaves room for a slow, loaded test machine before the probe is due.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (down, rec) = call(&gw, Endpoint::ChatCompletions, chat("")).await;
    assert_eq!(status(&down), 200);
    assert_eq!((a.count(), rec.attempts), (4, 1), "one probe went to a");
    let view = gw.health.view(("a", "m")).unwrap();
    assert_eq!(
        (view.state, view.consecutive_failures),
        (BreakerState::Closed, 0)
    );
    assert!(down.header("x-promptgate-decision").is_none());
}

#[tokio::test]
async fn flaky_provider_is_absorbed_by_fallback() {
    let a = Upstream::start(|n, _| match n % 10 {
        0 | 4 => Reply::json(503, OVERLOADED),
        7 => Reply::json(
            429,
            r#"{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
        ),
        _ => Reply::json(200, CHAT_OK),
    })
    .await;
    let b = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let gw = gateway(&format!(
        "providers:\n  a: {{ type: openai, base_url: '{}' }}\n  b: {{ type: openai, base_url: '{}' }}\n\
routes:\n  - model: m\n    targets: [ {{ provider: a, priority: 0, weight: 3 }}, {{ provider: b, priority: 0, weight: 1 }} ]\n\
retry: {{ budget_ratio: 1.0, min_retries_per_second: 1000 }}\n",
        a.base_url(),
        b.base_url()
    ));
    let mut ok = 0;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let gw = gw.clone();
        tasks.spawn(async move { status(&call(&gw, Endpoint::ChatCompletions, chat("")).await.0) });
    }
    while let Some(code) = tasks.join_next().await {
        ok += usize::from(code.unwrap() == 200);
    }
    assert!(ok >= 198, "{ok}/200 succeeded");
    assert!(
        a.count() > 100,
        "a still served most traffic: {}",
        a.count()
    );
}

const POLICY_CONFIG: &str = "
providers:
  cheap: { type: openai, base_url: 'CHEAP' }
  dear: { type: openai, base_url: 'DEAR' }
policies:
  - name: cost_first
    objective: min_cost
    constraints: { max_cost_per_request_usd: 0.001 }
    candidates: [ { provider: dear, model: big, quality: 0.9 }, { provider: cheap, model: small, quality: 0.6 } ]
  - name: quality_first
    objective: max_quality
    candidates: [ { provider: cheap, model: small, quality: 0.6 }, { provider: dear, model: big, quality: 0.9 } ]
  - name: impossible
    objective: min_cost
    constraints: { min_quality_score: 0.99 }
    candidates: [ { provider: cheap, model: small, quality: 0.6 } ]
routes:
  - model: m
    targets: [ { provider: dear, model: big } ]
  - model: auto
    policy: cost_first
prices:
  small: { input_per_million: 0.15, output_per_million: 0.6 }
  big: { input_per_million: 10.0, output_per_million: 30.0 }
";

fn policy_config(cheap: &Upstream, dear: &Upstream) -> String {
    POLICY_CONFIG
        .replace("CHEAP", &cheap.base_url())
        .replace("DEAR", &dear.base_url())
}

#[tokio::test]
async fn min_cost_picks_the_cheaper_candidate_and_explains_why() {
    let cheap = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let dear = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let gw = gateway(&policy_config(&cheap, &dear));
    let (down, rec) = call(
        &gw,
        Endpoint::ChatCompletions,
        chat(r#","policy":"cost_first","max_tokens":100"#),
    )
    .await;
    assert_eq!(
        status(&down),
        200,
        "{}",
        String::from_utf8_lossy(&down.body())
    );
    assert_eq!((cheap.count(), dear.count()), (1, 0));
    assert_eq!(
        down.header("x-promptgate-decision"),
        Some("policy=cost_first;chosen=cheap/small;skipped=dear/big(cost>0.001usd)")
    );
    let decision = rec.decision.unwrap();
    assert!(decision.considered[0].estimated_cost_usd.unwrap() > 0.001);
    let sent: serde_json::Value = serde_json::from_slice(&cheap.requests()[0].body).unwrap();
    assert!(
        sent.get("policy").is_none(),
        "the policy field is removed: {sent}"
    );
    assert_eq!(sent["model"], "small");
    assert_eq!(sent["max_tokens"], 100);

    // A route's own policy applies without the client naming it.
    let (down, _) = call(
        &gw,
        Endpoint::ChatCompletions,
        chat("").replace("\"m\"", "\"auto\""),
    )
    .await;
    assert_eq!(status(&down), 200);
    assert_eq!(cheap.count(), 2);
}

#[tokio::test]
async fn policy_header_unknown_policy_and_no_candidate() {
    let cheap = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let dear = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let gw = gateway(&policy_config(&cheap, &dear));
    let mut headers = http::HeaderMap::new();
    headers.insert("x-promptgate-policy", "quality_first".parse().unwrap());
    let (down, _) = call_with_headers(
        &gw,
        Endpoint::ChatCompletions,
        chat(""),
        headers,
        BufferedDownstream::default(),
    )
    .await;
    assert_eq!(status(&down), 200);
    assert_eq!((cheap.count(), dear.count()), (0, 1));
    assert_eq!(
        down.header("x-promptgate-decision"),
        Some("policy=quality_first;chosen=dear/big")
    );

    let (down, _) = call(&gw, Endpoint::ChatCompletions, chat(r#","policy":"nope""#)).await;
    assert_eq!(status(&down), 400);
    let body: serde_json::Value = serde_json::from_slice(&down.body()).unwrap();
    assert_eq!(body["error"]["param"], "policy");

    let (down, _) = call(
        &gw,
        Endpoint::ChatCompletions,
        chat(r#","policy":"impossible""#),
    )
    .await;
    assert_eq!(status(&down), 503);
    let body: serde_json::Value = serde_json::from_slice(&down.body()).unwrap();
    assert_eq!(body["error"]["code"], "no_candidate");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("cheap/small (quality<0.99)"), "{message}");
    assert_eq!(
        down.header("x-promptgate-decision"),
        Some("policy=impossible;chosen=-;skipped=cheap/small(quality<0.99)")
    );
    assert_eq!((cheap.count(), dear.count()), (0, 1));
}

#[tokio::test]
async fn a_half_open_breaker_lets_exactly_one_of_many_concurrent_requests_through() {
    let healthy = Arc::new(AtomicBool::new(false));
    let flag = healthy.clone();
    let a = Upstream::start(move |_, _| {
        if flag.load(Ordering::SeqCst) {
            Reply {
                head_delay: Duration::from_millis(100),
                ..Reply::json(200, CHAT_OK)
            }
        } else {
            Reply::json(503, OVERLOADED)
        }
    })
    .await;
    let b = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let gw = gateway(&format!(
        "providers:\n  a: {{ type: openai, base_url: '{}' }}\n  b: {{ type: openai, base_url: '{}' }}\n\
routes:\n  - model: m\n    targets: [ {{ provider: a }}, {{ provider: b }} ]\n\
health: {{ consecutive_failures: 1, open_ms: 100 }}\nretry: {{ max_attempts: 2, min_retries_per_second: 1000 }}\n",
        a.base_url(),
        b.base_url()
    ));
    let (down, _) = call(&gw, Endpoint::ChatCompletions, chat("")).await;
    assert_eq!((status(&down), a.count()), (200, 1));
    healthy.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let gw = gw.clone();
        tasks.spawn(async move { status(&call(&gw, Endpoint::ChatCompletions, chat("")).await.0) });
    }
    while let Some(code) = tasks.join_next().await {
        assert_eq!(code.unwrap(), 200);
    }
    assert_eq!(a.count(), 2, "exactly one probe while half-open");
    assert_eq!(b.count(), 10);
    assert_eq!(
        gw.health.view(("a", "m")).unwrap().state,
        BreakerState::Closed
    );
}

#[tokio::test]
async fn streams_carry_the_decision_and_drop_the_policy_field() {
    let events = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"small\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\ndata: [DONE]\n\n";
    let cheap = Upstream::start(move |_, _| {
        Reply::sse(vec![(
            Duration::ZERO,
            bytes::Bytes::from_static(events.as_bytes()),
        )])
    })
    .await;
    let dear = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let gw = gateway(&policy_config(&cheap, &dear));
    let (down, rec) = call(
        &gw,
        Endpoint::ChatCompletions,
        chat(r#","stream":true,"policy":"cost_first""#),
    )
    .await;
    assert_eq!(status(&down), 200);
    assert!(String::from_utf8_lossy(&down.body()).contains("[DONE]"));
    assert_eq!(
        down.header("x-promptgate-decision"),
        Some("policy=cost_first;chosen=cheap/small;skipped=dear/big(cost>0.001usd)")
    );
    assert_eq!(rec.decision.unwrap().chosen.as_deref(), Some("cheap/small"));
    let sent: serde_json::Value = serde_json::from_slice(&cheap.requests()[0].body).unwrap();
    assert!(sent.get("policy").is_none(), "{sent}");
    assert_eq!(sent["stream_options"]["include_usage"], true);
}
