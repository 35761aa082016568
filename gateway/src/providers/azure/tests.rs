use std::sync::Arc;

use super::*;
use crate::config::load::parse_yaml;
use crate::config::snapshot::compile;
use crate::openai::sse::SseSplitter;
use crate::openai::usage::Usage;
use crate::providers::Endpoint;

const STREAM: &str = include_str!("fixtures/chat_stream.sse");
const STREAM_FILTERED: &str = include_str!("fixtures/chat_stream_filtered.sse");

fn compile_provider(provider_yaml: &str) -> Result<Arc<dyn Provider>, String> {
    let text = format!("providers:\n  az: {provider_yaml}\n");
    let snapshot = compile(
        parse_yaml(&text)?,
        "v".into(),
        &ClientFactory::default(),
        |var| match var {
            "AZ_HOST" => Some("my-resource.openai.azure.com".into()),
            "AZ_KEY" => Some("secret-key".into()),
            _ => None,
        },
    )?;
    Ok(snapshot.providers()[0].clone())
}

fn config_error(provider_yaml: &str) -> String {
    match compile_provider(provider_yaml) {
        Ok(_) => panic!("accepted: {provider_yaml}"),
        Err(e) => e,
    }
}

#[test]
fn builds_from_config() {
    let provider = compile_provider(
        "{ type: azure, base_url: 'https://${AZ_HOST}/', api_key_env: AZ_KEY, api_version: 2024-10-21, deployments: { gpt-4o: prod-4o } }",
    )
    .unwrap();
    assert_eq!((provider.name(), provider.kind()), ("az", "azure"));
    assert!(
        provider.passthrough_base().is_none(),
        "no passthrough of other /v1 paths"
    );
}

#[test]
fn invalid_configs_name_the_problem() {
    let cases = [
        ("{ type: azure, base_url: 'https://x' }", "api_version"),
        (
            "{ type: azure, base_url: 'https://x', api_version: '2024-10-21?a=b' }",
            "providers.az: api_version: `2024-10-21?a=b` contains `?`",
        ),
        (
            "{ type: azure, base_url: 'https://x', api_version: 2024-10-21, deployments: { gpt-4o: 'my deployment' } }",
            "providers.az: deployments.gpt-4o: `my deployment` contains ` `",
        ),
        (
            "{ type: azure, base_url: 'https://x', api_version: 2024-10-21, deployments: { gpt-4o: '' } }",
            "deployments.gpt-4o: must not be empty",
        ),
        (
            "{ type: azure, base_url: 'https://x.openai.azure.com/openai/', api_version: 2024-10-21 }",
            "without `/openai`",
        ),
        (
            "{ type: azure, base_url: 'https://x', api_version: 2024-10-21, api_key_env: AZ_KEY, bearer_token_env: AZ_KEY }",
            "not both",
        ),
        (
            "{ type: azure, base_url: 'https://x', api_version: 2024-10-21, http2_prior_knowledge: true }",
            "http2_prior_knowledge",
        ),
        (
            "{ type: azure, base_url: '${UNSET_AZ}', api_version: 2024-10-21 }",
            "UNSET_AZ",
        ),
        (
            "{ type: azure, base_url: 'https://x', api_version: 2024-10-21, timeouts: { idle_ms: 0 } }",
            "timeouts",
        ),
    ];
    for (yaml, needle) in cases {
        let err = config_error(yaml);
        assert!(err.contains(needle), "{yaml}: {err}");
    }
}

/// Runs a fixture stream through the provider's translator.
fn translate(stream: &str, strip_usage: bool) -> (String, Option<Usage>, u64) {
    let provider = compile_provider(
        "{ type: azure, base_url: 'https://x.openai.azure.com', api_version: 2024-10-21 }",
    )
    .unwrap();
    let mut translator = provider.stream_translator(Endpoint::ChatCompletions, strip_usage);
    let mut events = Vec::new();
    SseSplitter::new()
        .push(stream.as_bytes(), &mut events)
        .unwrap();
    let (mut out, mut usage) = (Vec::new(), None);
    for event in &events {
        translator.on_event(event, &mut out, &mut usage);
    }
    (
        String::from_utf8(out).unwrap(),
        usage,
        translator.content_events(),
    )
}

/// What a client that did not ask for usage sees: no `"usage":null`, no usage chunk.
fn without_usage(stream: &str) -> String {
    stream
        .split_inclusive("\n\n")
        .filter(|event| !event.contains("\"usage\":{"))
        .map(|event| event.replace(",\"usage\":null", ""))
        .collect()
}

#[test]
fn prompt_filter_chunk_is_relayed_not_taken_for_the_usage_chunk() {
    for fixture in [STREAM, STREAM_FILTERED] {
        let (out, usage, _) = translate(fixture, false);
        assert_eq!(
            out, fixture,
            "a client that asked for usage sees Azure's stream"
        );
        assert_eq!(usage.unwrap().prompt_tokens, 12);

        let (out, usage, _) = translate(fixture, true);
        assert_eq!(out, without_usage(fixture));
        assert!(out.starts_with("data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":[{\"prompt_index\":0,"));
        assert!(out.ends_with("}\n\ndata: [DONE]\n\n"));
        assert_eq!(out.matches("\"usage\"").count(), 0);
        let usage = usage.unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (12, 7));
    }
    let (out, _, _) = translate(STREAM_FILTERED, true);
    assert!(out.contains("\"finish_reason\":\"content_filter\""));
    assert!(out.contains("\"violence\":{\"filtered\":true,\"severity\":\"medium\"}"));
}
