//! Policy ordering, constraints, cost estimates and the ejection cap, on compiled configs.

use std::time::{Duration, Instant};

use super::health::{HealthConfig, HealthRegistry};
use super::policy::{estimate_cost, Facts};
use super::*;
use crate::accounting::Price;
use crate::config::load::parse_yaml;
use crate::config::snapshot::compile;
use crate::config::Snapshot;
use crate::upstream::client::ClientFactory;

const CONFIG: &str = "
providers:
  a: { type: mock }
  b: { type: mock }
  c: { type: mock }
policies:
  - name: p
    objective: min_cost
    constraints: { max_p95_latency_ms: 1200, min_quality_score: 0.6, max_cost_per_request_usd: 0.01 }
    candidates:
      - { provider: a, model: dear, quality: 0.9 }
      - { provider: b, model: cheap, quality: 0.7 }
      - { provider: c, model: free }
routes:
  - { model: m, targets: [ { provider: a }, { provider: b }, { provider: c } ] }
  - { model: pm, policy: p }
prices:
  dear: { input_per_million: 10.0, output_per_million: 10.0 }
  cheap: { input_per_million: 1.0, output_per_million: 1.0 }
";

fn snapshot(text: &str) -> Snapshot {
    compile(
        parse_yaml(text).unwrap(),
        "v".into(),
        &ClientFactory::default(),
        |_| None,
    )
    .unwrap()
}

fn with_objective(objective: &str) -> Snapshot {
    snapshot(&CONFIG.replace("objective: min_cost", &format!("objective: {objective}")))
}

fn facts(p95: [Option<f64>; 3]) -> Vec<Facts> {
    let cost = [Some(0.005), Some(0.001), None];
    (0..3)
        .map(|i| Facts {
            estimated_cost_usd: cost[i],
            p95_ms: p95[i],
            ewma_ms: None,
        })
        .collect()
}

#[test]
fn cost_estimate_uses_prompt_tokens_and_max_tokens() {
    let price = Price {
        input_per_million: 1.0,
        output_per_million: 2.0,
        cached_input_per_million: 1.0,
    };
    let cost = estimate_cost(Some(price), 1000, None).unwrap();
    assert!(
        (cost - (1000.0 + 2.0 * 256.0) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    let cost = estimate_cost(Some(price), 0, Some(1000)).unwrap();
    assert!((cost - 2000.0 / 1e6).abs() < 1e-12, "{cost}");
    assert_eq!(estimate_cost(None, 10, None), None);
}

#[test]
fn constraints_skip_with_reasons_and_objectives_order() {
    let snap = snapshot(CONFIG);
    let p = snap.policy("p").unwrap();
    // c has quality 0.5 < 0.6; a's p95 is too high.
    let (order, considered) = p.evaluate(&facts([Some(1500.0), None, None]));
    assert_eq!(order, vec![1]);
    assert_eq!(considered[0].skipped.as_deref(), Some("p95>1200ms"));
    assert_eq!(considered[2].skipped.as_deref(), Some("quality<0.6"));
    let mut expensive = facts([None, None, None]);
    expensive[0].estimated_cost_usd = Some(0.5);
    let (order, considered) = p.evaluate(&expensive);
    assert_eq!(order, vec![1]);
    assert_eq!(considered[0].skipped.as_deref(), Some("cost>0.01usd"));

    let open = CONFIG.replace("constraints: { max_p95_latency_ms: 1200, min_quality_score: 0.6, max_cost_per_request_usd: 0.01 }", "");
    let p = snapshot(&open);
    let p = p.policy("p").unwrap();
    assert_eq!(
        p.evaluate(&facts([None, None, None])).0,
        vec![1, 0, 2],
        "cheapest first, unpriced last"
    );
    let max_quality = with_objective("max_quality");
    let order = max_quality
        .policy("p")
        .unwrap()
        .evaluate(&facts([None, None, None]))
        .0;
    assert_eq!(order, vec![0, 1], "c is below min quality");
    let latency = snapshot(&open.replace("min_cost", "min_latency"));
    let order = latency
        .policy("p")
        .unwrap()
        .evaluate(&facts([Some(300.0), Some(100.0), None]))
        .0;
    assert_eq!(order, vec![2, 1, 0], "unmeasured first, then lowest p95");
}

#[test]
fn weighted_objective_follows_weights() {
    let text = CONFIG
        .replace("min_cost", "weighted")
        .replace("min_quality_score: 0.6, ", "")
        .replace("quality: 0.9 }", "quality: 0.9, weight: 3 }")
        .replace("quality: 0.7 }", "quality: 0.7, weight: 1 }")
        .replace("model: free }", "model: free, weight: 0 }");
    let snap = snapshot(&text);
    let p = snap.policy("p").unwrap();
    let firsts = (0..4000)
        .filter(|_| p.evaluate(&facts([None, None, None])).0[0] == 0)
        .count();
    assert!((2700..3300).contains(&firsts), "{firsts}");
    assert_eq!(
        p.evaluate(&facts([None, None, None])).0[2],
        2,
        "zero weight last"
    );
}

fn names(plan: &Plan<'_>) -> Vec<String> {
    plan.targets
        .iter()
        .map(|t| t.provider.name().to_owned())
        .collect()
}

#[test]
fn open_breakers_are_skipped_but_never_all() {
    let snap = snapshot(CONFIG);
    let route = snap.route("m").unwrap();
    let health = HealthRegistry::default();
    let cfg = HealthConfig {
        consecutive_failures: 1,
        open: Duration::from_secs(60),
        ..HealthConfig::default()
    };
    let facts = RequestFacts {
        model: "m",
        body: b"{}",
        max_tokens: None,
    };
    let t0 = Instant::now();
    health.record(("a", "m"), &cfg, false, None, t0);
    let plan = super::plan(&health, &cfg, &snap, route, None, facts, 3, t0).unwrap();
    assert_eq!(names(&plan), vec!["b", "c", "b"]);
    let decision = plan.decision.unwrap();
    assert_eq!(
        decision.header_value(),
        "policy=-;chosen=-;skipped=a/m(breaker_open)"
    );
    health.record(("c", "m"), &cfg, false, None, t0 + Duration::from_millis(1));
    health.record(("b", "m"), &cfg, false, None, t0 + Duration::from_millis(2));
    let plan = super::plan(&health, &cfg, &snap, route, None, facts, 3, t0).unwrap();
    assert_eq!(
        names(&plan),
        vec!["a", "c", "b"],
        "all open: least recently failed first"
    );
}

#[test]
fn policy_plan_explains_and_fails_with_no_candidate() {
    let snap = snapshot(CONFIG);
    let route = snap.route("pm").unwrap();
    let health = HealthRegistry::default();
    let cfg = HealthConfig::default();
    // 9 prompt tokens (see tokens.rs); counted with the real encoding once it is loaded.
    let body = br#"{"model":"pm","messages":[{"role":"user","content":"hello world"}]}"#;
    assert_eq!(super::tokens::prompt_tokens_blocking(body), 9);
    let facts = RequestFacts {
        model: "pm",
        body,
        max_tokens: Some(100),
    };
    let now = Instant::now();
    let plan = super::plan(
        &health,
        &cfg,
        &snap,
        route,
        route.policy.as_deref(),
        facts,
        2,
        now,
    )
    .unwrap();
    assert_eq!(names(&plan), vec!["b", "a"]);
    let decision = plan.decision.unwrap();
    assert_eq!(
        decision.header_value(),
        "policy=p;chosen=-;skipped=c/free(quality<0.6)"
    );
    let dear = decision.considered[0].estimated_cost_usd.unwrap();
    assert!(
        (dear - (9.0 * 10.0 + 100.0 * 10.0) / 1e6).abs() < 1e-12,
        "{dear}"
    );

    // A long prompt pushes the dear model over the cost constraint.
    let long = format!(
        r#"{{"model":"pm","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "hello world ".repeat(1000)
    );
    let long_facts = RequestFacts {
        body: long.as_bytes(),
        ..facts
    };
    let plan = super::plan(
        &health,
        &cfg,
        &snap,
        route,
        route.policy.as_deref(),
        long_facts,
        2,
        now,
    )
    .unwrap();
    assert_eq!(names(&plan), vec!["b", "b"]);
    assert_eq!(
        plan.decision.unwrap().header_value(),
        "policy=p;chosen=-;skipped=a/dear(cost>0.01usd),c/free(quality<0.6)"
    );

    let strict = snapshot(&CONFIG.replace("min_quality_score: 0.6", "min_quality_score: 0.95"));
    let route = strict.route("pm").unwrap();
    let Err(rejected) = super::plan(
        &health,
        &cfg,
        &strict,
        route,
        route.policy.as_deref(),
        facts,
        2,
        now,
    ) else {
        panic!("expected no candidate");
    };
    let (err, decision) = *rejected;
    assert_eq!(err.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    assert!(err.to_string().contains("a/dear (quality<0.95)"), "{err}");
    assert_eq!(decision.policy.as_deref(), Some("p"));
}

#[test]
fn invalid_policies_are_rejected() {
    let cases = [
        ("routes:\n  - { model: x, policy: nope }", "unknown policy"),
        ("policies:\n  - { name: q, objective: min_cost, candidates: [] }", "at least one candidate"),
        ("policies:\n  - { name: q, objective: min_cost, candidates: [ { provider: z, model: m } ] }", "unknown provider"),
        ("policies:\n  - { name: q, objective: min_cost, candidates: [ { provider: a, model: m, quality: 2 } ] }", "quality"),
        ("health: { ewma_alpha: 0 }", "ewma_alpha"),
    ];
    for (extra, needle) in cases {
        let text = format!("providers:\n  a: {{ type: mock }}\n{extra}\n");
        let err = compile(
            parse_yaml(&text).unwrap(),
            "v".into(),
            &ClientFactory::default(),
            |_| None,
        )
        .err()
        .unwrap_or_default();
        assert!(err.contains(needle), "{extra}: {err}");
    }
}
