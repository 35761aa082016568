//! Bring your own key through the pipeline, against the in-process upstream: which key each
//! provider type receives, the precedence of client keys, refusals and redaction.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use http::{HeaderMap, HeaderValue};
use promptgate::byok::PROVIDER_KEY_HEADER;
use promptgate::pipeline::downstream::BufferedDownstream;
use promptgate::pipeline::Gateway;
use promptgate::providers::Endpoint;
use promptgate::tenants::sha256_hex;
use support::*;

const CONFIGURED: &str = "sk-configured-0001";
const CLIENT: &str = "sk-client-owned-7777";

fn chat(model: &str) -> String {
    format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#)
}

fn env(name: &str) -> Option<String> {
    (name == "UP_KEY").then(|| CONFIGURED.to_owned())
}

/// Routes `own` (byok) and `fixed` (not) on an OpenAI-type upstream, plus `extra`.
fn openai_config(up: &Upstream, extra: &str) -> String {
    format!(
        "providers:\n  up: {{ type: openai, base_url: '{}', api_key_env: UP_KEY }}\n\
routes:\n  - {{ model: own, byok: true, targets: [ {{ provider: up }} ] }}\n  - {{ model: fixed, targets: [ {{ provider: up }} ] }}\n{extra}",
        up.base_url()
    )
}

async fn ok_upstream() -> Upstream {
    Upstream::start(|_, _| Reply::json(200, CHAT_OK)).await
}

/// Sends a chat request for `model` with an optional bearer token and provider-key header.
async fn send(
    gw: &Arc<Gateway>,
    model: &str,
    bearer: Option<&str>,
    provider_key: Option<&str>,
) -> BufferedDownstream {
    let mut headers = HeaderMap::new();
    if let Some(key) = provider_key {
        headers.insert(PROVIDER_KEY_HEADER, HeaderValue::from_str(key).unwrap());
    }
    let down = BufferedDownstream::default();
    call_full(
        gw,
        Endpoint::ChatCompletions,
        chat(model),
        bearer,
        headers,
        down,
    )
    .await
    .0
}

fn last_auth(up: &Upstream) -> Option<String> {
    up.requests().last().unwrap().authorization.clone()
}

#[tokio::test]
async fn byok_route_sends_the_client_key_by_precedence() {
    let up = ok_upstream().await;
    let gw = gateway_with_env(&openai_config(&up, ""), env);

    // The header wins over the bearer token.
    let down = send(&gw, "own", Some("sk-bearer-2"), Some(CLIENT)).await;
    assert_eq!(status(&down), 200);
    assert_eq!(last_auth(&up), Some(format!("Bearer {CLIENT}")));
    assert!(up.requests()[0]
        .header("x-promptgate-provider-key")
        .is_none());

    // Without tenant auth the bearer token is the provider key.
    send(&gw, "own", Some("sk-bearer-2"), None).await;
    assert_eq!(last_auth(&up).as_deref(), Some("Bearer sk-bearer-2"));

    // Nothing offered: the configured key.
    send(&gw, "own", None, None).await;
    assert_eq!(last_auth(&up), Some(format!("Bearer {CONFIGURED}")));
    assert_eq!(up.count(), 3);
}

#[tokio::test]
async fn other_routes_refuse_the_header_and_never_forward_the_bearer() {
    let up = ok_upstream().await;
    let gw = gateway_with_env(&openai_config(&up, ""), env);

    let down = send(&gw, "fixed", None, Some(CLIENT)).await;
    assert_eq!(status(&down), 400);
    let body: serde_json::Value = serde_json::from_slice(&down.body()).unwrap();
    assert_eq!(body["error"]["code"], "byok_not_allowed");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(!String::from_utf8_lossy(&down.body()).contains(CLIENT));
    assert_eq!(up.count(), 0, "nothing was sent upstream");

    let down = send(&gw, "fixed", Some(CLIENT), None).await;
    assert_eq!(status(&down), 200);
    assert_eq!(last_auth(&up), Some(format!("Bearer {CONFIGURED}")));

    // A malformed header on a byok route is a 400 that does not echo it.
    let down = send(&gw, "own", None, Some("two words")).await;
    assert_eq!(status(&down), 400);
    assert!(!String::from_utf8_lossy(&down.body()).contains("two words"));
    assert_eq!(up.count(), 1);
}

#[tokio::test]
async fn with_tenant_auth_the_bearer_is_the_virtual_key() {
    let up = ok_upstream().await;
    let keys = format!(
        "virtual_keys:\n  - {{ name: team, key_sha256: {} }}\n",
        sha256_hex("vk-team")
    );
    let gw = gateway_with_env(&openai_config(&up, &keys), env);

    let down = send(&gw, "own", Some("vk-team"), None).await;
    assert_eq!(status(&down), 200);
    assert_eq!(last_auth(&up), Some(format!("Bearer {CONFIGURED}")));

    let down = send(&gw, "own", Some("vk-team"), Some(CLIENT)).await;
    assert_eq!(status(&down), 200);
    assert_eq!(last_auth(&up), Some(format!("Bearer {CLIENT}")));

    // The tenant stage still runs first: no virtual key, no request.
    let down = send(&gw, "own", None, Some(CLIENT)).await;
    assert_eq!(status(&down), 401);
    assert_eq!(up.count(), 2);
    assert!(up.requests().iter().all(|r| !r
        .authorization
        .as_deref()
        .unwrap_or("")
        .contains("vk-team")));
}

#[tokio::test]
async fn each_provider_type_gets_the_key_in_its_own_scheme() {
    let anthropic = ok_upstream().await;
    let gemini = ok_upstream().await;
    let azure = ok_upstream().await;
    let yaml = format!(
        "providers:\n  an: {{ type: anthropic, base_url: '{}', api_key_env: UP_KEY }}\n  ge: {{ type: gemini, base_url: '{}', api_key_env: UP_KEY }}\n  az: {{ type: azure, base_url: '{}', bearer_token_env: UP_KEY, api_version: 2024-10-21 }}\n\
routes:\n  - {{ model: an, byok: true, targets: [ {{ provider: an }} ] }}\n  - {{ model: ge, byok: true, targets: [ {{ provider: ge }} ] }}\n  - {{ model: az, byok: true, targets: [ {{ provider: az }} ] }}\n",
        anthropic.base_url(),
        gemini.base_url(),
        azure.origin()
    );
    let gw = gateway_with_env(&yaml, env);
    for (model, up, header) in [
        ("an", &anthropic, "x-api-key"),
        ("ge", &gemini, "x-goog-api-key"),
        ("az", &azure, "api-key"),
    ] {
        send(&gw, model, None, None).await;
        send(&gw, model, None, Some(CLIENT)).await;
        let sent = up.requests();
        assert_eq!(sent.len(), 2, "{model}");
        let configured = match model {
            "az" => sent[0].authorization.clone(),
            _ => sent[0].header(header).map(str::to_owned),
        };
        assert_eq!(
            configured.as_deref().map(|v| v.ends_with(CONFIGURED)),
            Some(true),
            "{model}"
        );
        assert_eq!(sent[1].header(header), Some(CLIENT), "{model}");
        assert!(
            sent[1].authorization.is_none(),
            "{model}: only one credential"
        );
    }
}

#[tokio::test]
async fn an_upstream_error_echoing_the_key_is_redacted() {
    let body = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {CLIENT}.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}}}"#
    );
    let up = Upstream::start(move |_, _| Reply::json(401, &body)).await;
    let gw = gateway_with_env(&openai_config(&up, ""), env);
    let down = send(&gw, "own", None, Some(CLIENT)).await;
    assert_eq!(status(&down), 401);
    let text = String::from_utf8_lossy(&down.body()).into_owned();
    assert!(!text.contains(CLIENT), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
}

#[tokio::test]
async fn a_request_policy_on_a_byok_route_keeps_the_key_on_its_provider() {
    let up = ok_upstream().await;
    let other = ok_upstream().await;
    let yaml = format!(
        "providers:\n  up: {{ type: openai, base_url: '{}' }}\n  other: {{ type: openai, base_url: '{}' }}\n\
routes:\n  - {{ model: own, byok: true, targets: [ {{ provider: up }} ] }}\n  - {{ model: chosen, byok: true, policy: mine }}\n\
policies:\n  - {{ name: mine, objective: min_cost, candidates: [ {{ provider: up, model: m }} ] }}\n  - {{ name: elsewhere, objective: min_cost, candidates: [ {{ provider: other, model: m }} ] }}\n",
        up.base_url(),
        other.base_url()
    );
    let gw = gateway_with_env(&yaml, env);
    let ask = |model: &'static str, policy: &'static str| {
        let mut headers = HeaderMap::new();
        headers.insert(PROVIDER_KEY_HEADER, HeaderValue::from_static(CLIENT));
        headers.insert("x-promptgate-policy", HeaderValue::from_static(policy));
        let down = BufferedDownstream::default();
        call_full(
            &gw,
            Endpoint::ChatCompletions,
            chat(model),
            None,
            headers,
            down,
        )
    };
    // The policy's candidate is on another provider: only the route's own target is tried.
    let (down, _) = ask("own", "elsewhere").await;
    assert_eq!(status(&down), 200);
    assert_eq!(up.count(), 1);
    assert_eq!(last_auth(&up), Some(format!("Bearer {CLIENT}")));
    // Nothing left on the route's provider: refused.
    let (down, _) = ask("chosen", "elsewhere").await;
    assert_eq!(status(&down), 400);
    let body: serde_json::Value = serde_json::from_slice(&down.body()).unwrap();
    assert_eq!(body["error"]["code"], "byok_not_allowed");
    assert_eq!(other.count(), 0, "the client key never left its provider");
    // Without a client key the request policy applies as usual.
    let down = BufferedDownstream::default();
    let mut headers = HeaderMap::new();
    headers.insert("x-promptgate-policy", HeaderValue::from_static("elsewhere"));
    let (down, _) = call_full(
        &gw,
        Endpoint::ChatCompletions,
        chat("chosen"),
        None,
        headers,
        down,
    )
    .await;
    assert_eq!(status(&down), 200);
    assert_eq!(other.count(), 1);
    assert_eq!(up.count(), 1);
}

#[test]
fn byok_routes_must_use_one_provider() {
    let two = "providers:\n  a: { type: openai, base_url: 'http://127.0.0.1:9/v1' }\n  b: { type: openai, base_url: 'http://127.0.0.1:8/v1' }\n";
    let cases = [
        "routes: [ { model: x, byok: true, targets: [ { provider: a }, { provider: b } ] } ]",
        "default_route: { byok: true, targets: [ { provider: a }, { provider: b } ] }",
        "routes: [ { model: x, byok: true, policy: p, targets: [ { provider: a } ] } ]\npolicies: [ { name: p, objective: min_cost, candidates: [ { provider: b, model: m } ] } ]",
    ];
    let clients = promptgate::upstream::client::ClientFactory::new();
    for case in cases {
        let text = format!("{two}{case}\n");
        let err = promptgate::config::load::load_str("t.yaml", &text, &clients)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("byok") && err.contains("`a` and `b`"),
            "{case}: {err}"
        );
    }
    let ok = format!("{two}routes: [ {{ model: x, byok: true, targets: [ {{ provider: a }}, {{ provider: a, model: y }} ] }} ]\n");
    assert!(promptgate::config::load::load_str("t.yaml", &ok, &clients).is_ok());
}
