use bytes::Bytes;

use crate::config::load::parse_yaml;
use crate::config::raw::{RawAnthropicProvider, RawProvider};
use crate::config::snapshot::compile;
use crate::providers::anthropic::AnthropicProvider;
use crate::providers::{AttemptError, Endpoint, Provider, ProviderCall};
use crate::upstream::client::ClientFactory;

fn env(name: &str) -> Option<String> {
    match name {
        "ANTHROPIC_KEY" => Some("sk-ant-test".into()),
        "ANTHROPIC_BASE" => Some("http://127.0.0.1:1/v1".into()),
        _ => None,
    }
}

fn raw(yaml: &str) -> Result<RawAnthropicProvider, String> {
    let config = parse_yaml(&format!("providers:\n  claude: {yaml}\n"))?;
    match config.providers.into_values().next() {
        Some(RawProvider::Anthropic(raw)) => Ok(raw),
        _ => Err("not an anthropic provider".into()),
    }
}

fn build(yaml: &str) -> Result<AnthropicProvider, String> {
    AnthropicProvider::from_config("claude", &raw(yaml)?, &ClientFactory::default(), &env)
}

#[test]
fn defaults_and_documented_fields() {
    let defaults = raw("{ type: anthropic }").unwrap();
    assert_eq!(defaults.base_url, "https://api.anthropic.com/v1");
    assert_eq!(defaults.api_version, "2023-06-01");
    assert_eq!(defaults.default_max_tokens, 4096);
    assert!(defaults.api_key_env.is_none());
    let provider = build(
        "{ type: anthropic, base_url: '${ANTHROPIC_BASE}', api_key_env: ANTHROPIC_KEY, api_version: '2024-01-01', default_max_tokens: 512, timeouts: { first_byte_ms: 1000 } }",
    )
    .unwrap();
    assert_eq!(provider.kind(), "anthropic");
    let key = provider.api_key.as_ref().unwrap();
    assert!(key.is_sensitive(), "the key never shows in debug output");
    assert_eq!(key, "sk-ant-test");
    assert_eq!(provider.version, "2024-01-01");
    assert_eq!(provider.default_max_tokens, 512);
    assert_eq!(provider.timeouts().first_byte.as_millis(), 1000);
    assert!(provider.passthrough_base().is_none());
    let unset = build("{ type: anthropic, api_key_env: NOT_SET }").unwrap();
    assert!(unset.api_key.is_none());
}

#[test]
fn invalid_configs_name_the_problem() {
    let cases = [
        (
            "{ type: anthropic, api_key: sk-ant-inline }",
            "unknown field",
        ),
        ("{ type: anthropic, base_url: 'ftp://x' }", "http"),
        ("{ type: anthropic, base_url: '${NOPE}' }", "NOPE"),
        (
            "{ type: anthropic, default_max_tokens: 0 }",
            "default_max_tokens",
        ),
        ("{ type: anthropic, api_version: \"a\\nb\" }", "api_version"),
        ("{ type: anthropic, timeouts: { idle_ms: 0 } }", "timeouts"),
    ];
    for (yaml, needle) in cases {
        let err = build(yaml).err().unwrap_or_default();
        assert!(err.contains(needle), "{yaml}: {err}");
    }
    let config =
        parse_yaml("providers:\n  c: { type: anthropic, default_max_tokens: 0 }\n").unwrap();
    let err = compile(config, "v".into(), &ClientFactory::default(), env)
        .err()
        .unwrap_or_default();
    assert!(err.contains("providers.c"), "{err}");
}

#[tokio::test]
async fn only_chat_completions_and_expressible_requests_are_sent() {
    let provider = build("{ type: anthropic, base_url: '${ANTHROPIC_BASE}' }").unwrap();
    let call = |endpoint, body: &'static str| ProviderCall {
        endpoint,
        body: Bytes::from_static(body.as_bytes()),
        stream: false,
        trace_id: Bytes::new(),
        client_key: None,
    };
    for endpoint in [
        Endpoint::Completions,
        Endpoint::Embeddings,
        Endpoint::Responses,
    ] {
        let err = provider.send(call(endpoint, "{}")).await.err().unwrap();
        assert!(
            matches!(&err, AttemptError::Unsupported(m) if m.contains("/v1/chat/completions")),
            "{err}"
        );
    }
    let err = provider
        .send(call(
            Endpoint::ChatCompletions,
            r#"{"model":"m","n":3,"messages":[]}"#,
        ))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, AttemptError::Unsupported(_)), "{err}");
}
