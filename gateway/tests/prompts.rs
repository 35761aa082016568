//! Routes bound to a prompt release: rendering with `variables`, errors naming the variable,
//! prefix vs replace, canary split and the response headers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use bytes::Bytes;
use http::HeaderMap;
use promptgate::pipeline::downstream::BufferedDownstream;
use promptgate::pipeline::{handle, ApiRoute, GatewayRequest};
use promptgate::providers::Endpoint;
use serde_json::{json, Value};
use support::*;

fn config(upstream: &Upstream, canary_percent: u8) -> String {
    format!(
        r#"
providers:
  up: {{ type: openai, base_url: '{}' }}
routes:
  - model: support
    targets: [ {{ provider: up, model: gpt }} ]
    prompt: {{ name: support, label: prod }}
  - model: rewrite
    targets: [ {{ provider: up }} ]
    prompt: {{ name: rewrite, label: prod }}
  - model: plain
    targets: [ {{ provider: up }} ]
prompts:
  support:
    prod:
      version: 3
      template:
        body: "You help {{{{ customer }}}} ({{{{ tier }}}}).{{% if note %}} {{{{ note }}}}{{% endif %}}"
        variables:
          customer: string
          tier: {{ type: integer }}
          note: {{ type: string, required: false }}
      canary:
        version: 4
        percent: {canary_percent}
        template:
          body: "v4 for {{{{ customer }}}}"
          variables: {{ customer: string, tier: integer }}
  rewrite:
    prod:
      version: 7
      template:
        body: "Rewrite: {{{{ text }}}}"
        role: user
        mode: replace
        variables: {{ text: string }}
"#,
        upstream.base_url()
    )
}

async fn chat(
    gw: &promptgate::pipeline::Gateway,
    body: Value,
    headers: HeaderMap,
) -> (BufferedDownstream, Value) {
    let (down, _) = call_with_headers(
        gw,
        Endpoint::ChatCompletions,
        body.to_string(),
        headers,
        BufferedDownstream::default(),
    )
    .await;
    let json = serde_json::from_slice(&down.body()).unwrap_or(Value::Null);
    (down, json)
}

#[tokio::test]
async fn prefix_renders_variables_and_drops_them_from_the_upstream_body() {
    let up = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let gw = gateway(&config(&up, 0));
    let body = json!({"model": "support", "messages": [{"role": "user", "content": "hi"}],
                      "variables": {"customer": "Ada", "tier": 2}, "temperature": 0.1});
    let (down, _) = chat(&gw, body, HeaderMap::new()).await;
    assert_eq!(
        status(&down),
        200,
        "{}",
        String::from_utf8_lossy(&down.body())
    );
    assert_eq!(down.header("x-promptgate-prompt-version"), Some("3"));
    assert_eq!(down.header("x-promptgate-variant"), Some("stable"));
    let sent = up.requests()[0].json();
    assert_eq!(sent["model"], "gpt");
    assert_eq!(sent["temperature"], 0.1);
    assert!(sent.get("variables").is_none(), "{sent}");
    assert_eq!(
        sent["messages"],
        json!([{"role": "system", "content": "You help Ada (2)."},
               {"role": "user", "content": "hi"}])
    );
}

#[tokio::test]
async fn replace_mode_drops_the_client_messages() {
    let up = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let gw = gateway(&config(&up, 0));
    let body = json!({"model": "rewrite", "messages": [{"role": "user", "content": "ignored"}],
                      "variables": {"text": "make it short"}});
    let (down, _) = chat(&gw, body, HeaderMap::new()).await;
    assert_eq!(status(&down), 200);
    assert_eq!(down.header("x-promptgate-prompt-version"), Some("7"));
    assert_eq!(
        up.requests()[0].json()["messages"],
        json!([{"role": "user", "content": "Rewrite: make it short"}])
    );
}

#[tokio::test]
async fn bad_variables_are_400s_naming_the_variable_and_never_reach_the_upstream() {
    let up = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let gw = gateway(&config(&up, 0));
    let cases = [
        (json!({"tier": 1}), "variables.customer"),
        (json!({"customer": "Ada", "tier": "two"}), "variables.tier"),
        (
            json!({"customer": "Ada", "tier": 1, "extra": 1}),
            "variables.extra",
        ),
    ];
    for (variables, param) in cases {
        let body = json!({"model": "support", "messages": [], "variables": variables});
        let (down, json) = chat(&gw, body, HeaderMap::new()).await;
        assert_eq!(status(&down), 400, "{json}");
        assert_eq!(json["error"]["param"], param, "{json}");
        assert_eq!(json["error"]["type"], "invalid_request_error", "{json}");
    }
    let body = json!({"model": "support", "messages": [], "variables": "nope"});
    let (down, json) = chat(&gw, body, HeaderMap::new()).await;
    assert_eq!(status(&down), 400);
    assert_eq!(json["error"]["param"], "variables");
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn undefined_optional_variable_used_by_the_template_is_named() {
    let up = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let yaml = format!(
        r#"
providers:
  up: {{ type: openai, base_url: '{}' }}
routes:
  - model: r
    targets: [ {{ provider: up }} ]
    prompt: {{ name: p, label: dev }}
prompts:
  p:
    dev:
      version: 1
      template:
        body: "Hello {{{{ name }}}}"
        variables: {{ name: {{ type: string, required: false }} }}
"#,
        up.base_url()
    );
    let gw = gateway(&yaml);
    let (down, json) = chat(&gw, json!({"model": "r", "messages": []}), HeaderMap::new()).await;
    assert_eq!(status(&down), 400, "{json}");
    assert_eq!(json["error"]["param"], "variables.name", "{json}");
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn unbound_routes_forward_the_body_unchanged() {
    let up = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let gw = gateway(&config(&up, 0));
    let body = r#"{"model":"plain","messages":[],"variables":{"x":1}}"#;
    let (down, _) = call(&gw, Endpoint::ChatCompletions, body).await;
    assert_eq!(status(&down), 200);
    assert_eq!(down.header("x-promptgate-prompt-version"), None);
    assert_eq!(up.requests()[0].body.as_ref(), body.as_bytes());
}

#[tokio::test]
async fn canary_takes_its_share_and_sticks_to_the_subject() {
    let up = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let gw = gateway(&config(&up, 30));
    let mut canary = 0;
    let total = 400;
    for i in 0..total {
        let body = json!({"model": "support", "messages": [], "user": format!("user-{i}"),
                          "variables": {"customer": "Ada", "tier": 1}});
        let (down, _) = chat(&gw, body, HeaderMap::new()).await;
        let variant = down.header("x-promptgate-variant").unwrap().to_owned();
        let version = down
            .header("x-promptgate-prompt-version")
            .unwrap()
            .to_owned();
        assert_eq!(version, if variant == "canary" { "4" } else { "3" });
        canary += usize::from(variant == "canary");
    }
    assert!((80..160).contains(&canary), "{canary} of {total}");
    let sent = up.requests();
    let v4 = sent
        .iter()
        .filter(|r| r.json()["messages"][0]["content"] == "v4 for Ada")
        .count();
    assert_eq!(v4, canary);
    // The same subject (header) always lands on the same side.
    for i in 0..20 {
        let mut headers = HeaderMap::new();
        headers.insert("x-promptgate-subject", format!("s{i}").parse().unwrap());
        let mut seen = Vec::new();
        for _ in 0..5 {
            let body = json!({"model": "support", "messages": [],
                              "variables": {"customer": "Ada", "tier": 1}});
            let (down, _) = chat(&gw, body, headers.clone()).await;
            seen.push(down.header("x-promptgate-variant").unwrap().to_owned());
        }
        seen.dedup();
        assert_eq!(seen.len(), 1, "subject s{i}: {seen:?}");
    }
}

#[tokio::test]
async fn generate_renders_the_bound_prompt() {
    let up = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let gw = gateway(&config(&up, 0));
    let generate = |body: Value| GatewayRequest {
        started: std::time::Instant::now(),
        route: ApiRoute::Generate,
        method: http::Method::POST,
        path: "/api/v1/generate".into(),
        body: Bytes::from(body.to_string()),
        trace_id: promptgate::trace_id::new_trace_id(),
        authorization: None,
        policy_header: None,
        provider_key: None,
        subject_header: None,
    };
    let mut down = BufferedDownstream::default();
    let body = json!({"model": "support", "variables": {"customer": "Bo", "tier": 1}});
    handle(&gw, generate(body), &mut down).await;
    assert_eq!(
        status(&down),
        200,
        "{}",
        String::from_utf8_lossy(&down.body())
    );
    assert_eq!(down.header("x-promptgate-prompt-version"), Some("3"));
    let sent = up.requests()[0].json();
    assert_eq!(
        sent["messages"],
        json!([{"role": "system", "content": "You help Bo (1)."}])
    );
    assert!(sent.get("variables").is_none());
    let mut down = BufferedDownstream::default();
    let body = json!({"model": "support", "variables": {"customer": "Bo"}});
    handle(&gw, generate(body), &mut down).await;
    assert_eq!(status(&down), 400);
    let json: Value = serde_json::from_slice(&down.body()).unwrap();
    assert_eq!(json["error"]["param"], "variables.tier");
    let mut down = BufferedDownstream::default();
    let body = json!({"model": "support", "prompt": "{{ x }}", "variables": {"x": 1}});
    handle(&gw, generate(body), &mut down).await;
    assert_eq!(status(&down), 400);
}

#[test]
fn config_errors_name_the_prompt_and_label() {
    let clients = promptgate::upstream::client::ClientFactory::new();
    let base = "providers:\n  m: { type: mock }\nroutes:\n  - model: r\n    targets: [ { provider: m } ]\n";
    let cases = [
        (
            "    prompt: { name: p, label: prod }\n",
            "prompt `p` has no release for label `prod`",
        ),
        ("    prompt: { name: p }\n", "needs a `label`"),
    ];
    for (binding, needle) in cases {
        let yaml = format!("{base}{binding}");
        let err = promptgate::config::load::load_str("t.yaml", &yaml, &clients)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(needle), "{err}");
    }
    let broken = format!(
        "{base}prompts:\n  p:\n    prod:\n      version: 1\n      template: {{ body: '{{{{ x }}}}' }}\n"
    );
    let err = promptgate::config::load::load_str("t.yaml", &broken, &clients)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("prompts.p.prod") && err.contains("`x`"),
        "{err}"
    );
}

#[tokio::test]
async fn environment_values_fill_variables_the_request_leaves_out() {
    let up = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let yaml = config(&up, 0).replace(
        "    prompt: { name: support, label: prod }\n",
        "    prompt: { name: support, label: prod, variables: { tier: 9, note: staging } }\n",
    );
    let gw = gateway(&yaml);
    let body = json!({"model": "support", "messages": [{"role": "user", "content": "hi"}],
                      "variables": {"customer": "Ada"}});
    let (down, _) = chat(&gw, body, HeaderMap::new()).await;
    assert_eq!(
        status(&down),
        200,
        "{}",
        String::from_utf8_lossy(&down.body())
    );
    let sent = up.requests()[0].json();
    assert_eq!(sent["messages"][0]["content"], "You help Ada (9). staging");
    // The request's own value wins over the environment's.
    let body = json!({"model": "support", "messages": [{"role": "user", "content": "hi"}],
                      "variables": {"customer": "Bo", "tier": 1}});
    let (down, _) = chat(&gw, body, HeaderMap::new()).await;
    assert_eq!(status(&down), 200);
    assert_eq!(
        up.requests()[1].json()["messages"][0]["content"],
        "You help Bo (1). staging"
    );
}

#[test]
fn environment_values_must_be_declared_and_typed() {
    let clients = promptgate::upstream::client::ClientFactory::new();
    let prompts = "prompts:\n  p:\n    prod:\n      version: 1\n      template: { body: '{{ x }}', variables: { x: integer } }\n";
    let base = "providers:\n  m: { type: mock }\nroutes:\n  - model: r\n    targets: [ { provider: m } ]\n";
    for (values, needle) in [
        ("{ y: 1 }", "declares no variable `y`"),
        ("{ x: 'one' }", "`variables.x` must be an integer"),
    ] {
        let yaml =
            format!("{base}    prompt: {{ name: p, label: prod, variables: {values} }}\n{prompts}");
        let err = promptgate::config::load::load_str("t.yaml", &yaml, &clients)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains(needle) && err.contains("routes[0] (r)"),
            "{err}"
        );
    }
    let ok =
        format!("{base}    prompt: {{ name: p, label: prod, variables: {{ x: 2 }} }}\n{prompts}");
    assert!(promptgate::config::load::load_str("t.yaml", &ok, &clients).is_ok());
}

#[tokio::test]
async fn a_key_not_allowed_on_the_route_gets_403_before_any_rendering() {
    let up = Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await;
    let yaml = format!(
        "{}virtual_keys:\n  - {{ name: team-b, key_sha256: {}, allowed_models: [plain] }}\n",
        config(&up, 0),
        promptgate::tenants::sha256_hex("sk-b")
    );
    let gw = gateway(&yaml);
    // Missing variables would be a 400 naming them; this key must not learn them.
    let body = json!({"model": "support", "messages": [], "variables": {}});
    let (down, _) = call_as(
        &gw,
        Endpoint::ChatCompletions,
        body.to_string(),
        Some("sk-b"),
        BufferedDownstream::default(),
    )
    .await;
    let json: Value = serde_json::from_slice(&down.body()).unwrap();
    assert_eq!(status(&down), 403, "{json}");
    assert_eq!(json["error"]["type"], "permission_error", "{json}");
    assert!(!json.to_string().contains("customer"), "{json}");
    let plain = json!({"model": "plain", "messages": []});
    let (down, _) = call_as(
        &gw,
        Endpoint::ChatCompletions,
        plain.to_string(),
        Some("sk-b"),
        BufferedDownstream::default(),
    )
    .await;
    assert_eq!(status(&down), 200);
    assert_eq!(up.count(), 1);
}
