use std::time::Duration;

use base64::Engine as _;
use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::providers::Provider;

#[test]
fn completions_echo_each_prompt() {
    let body = json!({"model": "davinci", "prompt": ["Say this", "and that one"], "n": 2, "max_tokens": 2});
    let answer = ask(&echo(), Endpoint::Completions, &body);
    assert_eq!(answer.status, StatusCode::OK);
    let v = answer.json();
    assert!(v["id"].as_str().unwrap().starts_with("cmpl-mock-"));
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["model"], "davinci");
    let choices = v["choices"].as_array().unwrap();
    let got: Vec<(&str, u64, &str)> = choices
        .iter()
        .map(|c| {
            assert!(c["logprobs"].is_null());
            (
                c["text"].as_str().unwrap(),
                c["index"].as_u64().unwrap(),
                c["finish_reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("Say this", 0, "stop"),
            ("Say this", 1, "stop"),
            ("and that", 2, "length"),
            ("and that", 3, "length")
        ]
    );
    // ceil(8/4) + ceil(12/4) prompt tokens; 2 words in each of 4 choices.
    assert_eq!(v["usage"]["prompt_tokens"], 5);
    assert_eq!(v["usage"]["completion_tokens"], 8);
    assert_eq!(v["usage"]["total_tokens"], 13);

    let v = ask(
        &echo(),
        Endpoint::Completions,
        &json!({"model": "m", "prompt": "hi", "echo": true}),
    )
    .json();
    assert_eq!(v["choices"][0]["text"], "hihi");
    let v = ask(
        &echo(),
        Endpoint::Completions,
        &json!({"model": "m", "prompt": [1, 2, 3]}),
    )
    .json();
    assert_eq!(v["choices"][0]["text"], "1 2 3");
    assert_eq!(v["usage"]["prompt_tokens"], 3);
}

#[test]
fn bad_completions_and_embeddings() {
    let cases = [
        (Endpoint::Completions, json!({"model": "m"}), "prompt"),
        (
            Endpoint::Completions,
            json!({"model": "m", "prompt": []}),
            "prompt",
        ),
        (
            Endpoint::Completions,
            json!({"model": "m", "prompt": [1, "x"]}),
            "prompt",
        ),
        (
            Endpoint::Completions,
            json!({"model": "m", "prompt": {"a": 1}}),
            "prompt",
        ),
        (
            Endpoint::Completions,
            json!({"model": "m", "prompt": "x", "echo": "no"}),
            "echo",
        ),
        (Endpoint::Embeddings, json!({"model": "m"}), "input"),
        (
            Endpoint::Embeddings,
            json!({"model": "m", "input": [[1], "x"]}),
            "input",
        ),
        (
            Endpoint::Embeddings,
            json!({"model": "m", "input": [-1]}),
            "input",
        ),
        (
            Endpoint::Embeddings,
            json!({"model": "m", "input": "x", "dimensions": 0}),
            "dimensions",
        ),
        (
            Endpoint::Embeddings,
            json!({"model": "m", "input": "x", "dimensions": 4097}),
            "dimensions",
        ),
        (
            Endpoint::Embeddings,
            json!({"model": "m", "input": "x", "encoding_format": "hex"}),
            "encoding_format",
        ),
    ];
    for (endpoint, body, param) in cases {
        assert_eq!(ask(&echo(), endpoint, &body).bad_request(), param, "{body}");
    }
}

fn embed(body: &Value) -> Value {
    let answer = ask(&echo(), Endpoint::Embeddings, body);
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type(), "application/json");
    answer.json()
}

fn floats(embedding: &Value) -> Vec<f32> {
    embedding
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn embeddings_are_deterministic_unit_vectors_in_both_encodings() {
    let body = json!({"model": "text-embedding-3-small", "input": ["hello world", "other", "hello world"], "dimensions": 16});
    let v = embed(&body);
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "text-embedding-3-small");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 3 + 2 + 3, "total_tokens": 8})
    );
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    let vectors: Vec<Vec<f32>> = data
        .iter()
        .enumerate()
        .map(|(i, d)| {
            assert_eq!(d["object"], "embedding");
            assert_eq!(d["index"], i);
            floats(&d["embedding"])
        })
        .collect();
    for vector in &vectors {
        assert_eq!(vector.len(), 16);
        let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
    }
    assert_eq!(vectors[0], vectors[2]);
    assert_ne!(vectors[0], vectors[1]);

    let mut body64 = body.clone();
    body64["encoding_format"] = json!("base64");
    let v64 = embed(&body64);
    for (i, d) in v64["data"].as_array().unwrap().iter().enumerate() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(d["embedding"].as_str().unwrap())
            .unwrap();
        let decoded: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(decoded, vectors[i]);
    }

    let v = embed(&json!({"model": "m", "input": "hello world"}));
    assert_eq!(floats(&v["data"][0]["embedding"]).len(), 8);
    let v = embed(&json!({"model": "m", "input": [[1, 2], [3]]}));
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["usage"]["prompt_tokens"], 3);
}

#[tokio::test]
async fn send_gives_a_readable_memory_body() {
    let provider = echo();
    assert_eq!(provider.name(), "mock");
    assert_eq!(provider.kind(), "mock");
    assert_eq!(provider.timeouts().first_byte, Duration::from_secs(60));
    assert_eq!(provider.timeouts().idle, Duration::from_secs(60));
    let mut request = call(Endpoint::ChatCompletions, user("hi").to_string());
    request.stream = true;
    let response = provider.send(request).await.unwrap();
    let body = response
        .body
        .collect(Duration::from_secs(1), 1 << 20)
        .await
        .unwrap();
    let text = std::str::from_utf8(&body).unwrap();
    assert!(text.starts_with("data: {"));
    assert!(text.ends_with("data: [DONE]\n\n"));
}

const ENDPOINTS: [Endpoint; 4] = [
    Endpoint::ChatCompletions,
    Endpoint::Completions,
    Endpoint::Embeddings,
    Endpoint::Responses,
];

fn check_never_panics(body: Vec<u8>, stream: bool) {
    for endpoint in ENDPOINTS {
        let mut request = call(endpoint, body.clone());
        request.stream = stream;
        let response = echo().respond(&request);
        assert!(response.status == StatusCode::OK || response.status == StatusCode::BAD_REQUEST);
    }
}

/// JSON documents shaped like requests, with wrong types and odd values mixed in.
fn request_like() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0u64..5).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-z ]{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("user"),
            Just("tool"),
            Just("function"),
            Just("text"),
            Just("image_url"),
            Just("json_schema"),
            Just("json_object"),
            Just("object"),
            Just("array"),
            Just("string"),
            Just("integer"),
            Just("number"),
            Just("#/$defs/a"),
            Just("#")
        ]
        .prop_map(Value::from),
    ];
    let keys = prop_oneof![
        Just("model"),
        Just("messages"),
        Just("role"),
        Just("content"),
        Just("type"),
        Just("text"),
        Just("n"),
        Just("max_tokens"),
        Just("stream"),
        Just("stream_options"),
        Just("include_usage"),
        Just("tools"),
        Just("function"),
        Just("name"),
        Just("parameters"),
        Just("tool_choice"),
        Just("response_format"),
        Just("json_schema"),
        Just("schema"),
        Just("properties"),
        Just("items"),
        Just("required"),
        Just("$ref"),
        Just("$defs"),
        Just("a"),
        Just("anyOf"),
        Just("allOf"),
        Just("minItems"),
        Just("minimum"),
        Just("enum"),
        Just("prompt"),
        Just("input"),
        Just("dimensions"),
        Just("encoding_format"),
        Just("logprobs"),
        Just("top_logprobs"),
        Just("parallel_tool_calls"),
        Just("multipleOf")
    ];
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(keys.clone().prop_map(str::to_owned), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256), stream in any::<bool>()) {
        check_never_panics(body, stream);
    }

    #[test]
    fn request_like_json_never_panics(body in request_like(), stream in any::<bool>()) {
        check_never_panics(body.to_string().into_bytes(), stream);
    }
}
