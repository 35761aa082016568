//! Tests of the mock provider, through [`MockProvider::respond`] as the pipeline sees it.

mod chat;
mod other;
mod schema;
mod stream;
mod tools;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use super::MockProvider;
use crate::config::raw::{MockResponseMode, RawMockProvider};
use crate::providers::{Endpoint, ProviderCall};
use crate::upstream::body::UpstreamBody;

pub(super) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub chunks: Vec<Bytes>,
}

impl Answer {
    pub fn json(&self) -> Value {
        assert_eq!(self.chunks.len(), 1, "a whole answer is one chunk");
        serde_json::from_slice(&self.chunks[0]).unwrap()
    }

    pub fn content_type(&self) -> &str {
        self.headers["content-type"].to_str().unwrap()
    }

    /// The data of every event, one event per chunk, ending with `[DONE]` (not returned).
    pub fn events(&self) -> Vec<Value> {
        assert_eq!(self.status, StatusCode::OK);
        assert_eq!(self.content_type(), "text/event-stream");
        let mut out = Vec::new();
        for (i, chunk) in self.chunks.iter().enumerate() {
            let text = std::str::from_utf8(chunk).unwrap();
            let data = text
                .strip_prefix("data: ")
                .unwrap()
                .strip_suffix("\n\n")
                .unwrap();
            assert!(!data.contains("\n\n"), "one event per chunk: {text:?}");
            if i + 1 == self.chunks.len() {
                assert_eq!(data, "[DONE]");
            } else {
                out.push(serde_json::from_str(data).unwrap());
            }
        }
        out
    }

    /// Asserts a 400 with an OpenAI error body and returns the error's `param`.
    pub fn bad_request(&self) -> Value {
        assert_eq!(self.status, StatusCode::BAD_REQUEST);
        assert_eq!(self.content_type(), "application/json");
        let body = self.json();
        let error = &body["error"];
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert_eq!(error["type"], "invalid_request_error");
        assert!(error["code"].is_null());
        assert!(error.as_object().unwrap().contains_key("param"));
        error["param"].clone()
    }
}

pub(super) fn raw(
    response: MockResponseMode,
    text: Option<&str>,
    words: Option<usize>,
) -> RawMockProvider {
    RawMockProvider {
        response,
        text: text.map(str::to_owned),
        words_per_chunk: words,
    }
}

pub(super) fn echo() -> MockProvider {
    MockProvider::new("mock".into(), &raw(MockResponseMode::Echo, None, None))
}

pub(super) fn call(endpoint: Endpoint, body: impl Into<Bytes>) -> ProviderCall {
    ProviderCall {
        endpoint,
        body: body.into(),
        stream: false,
        trace_id: Bytes::new(),
        client_key: None,
    }
}

pub(super) fn ask_raw(
    provider: &MockProvider,
    endpoint: Endpoint,
    body: impl Into<Bytes>,
) -> Answer {
    let response = provider.respond(&call(endpoint, body));
    let UpstreamBody::Memory(chunks) = response.body else {
        panic!("the mock answers from memory");
    };
    Answer {
        status: response.status,
        headers: response.headers,
        chunks: chunks.into_iter().collect(),
    }
}

pub(super) fn ask(provider: &MockProvider, endpoint: Endpoint, body: &Value) -> Answer {
    ask_raw(provider, endpoint, body.to_string())
}

pub(super) fn chat(body: &Value) -> Answer {
    ask(&echo(), Endpoint::ChatCompletions, body)
}

pub(super) fn user(text: &str) -> Value {
    json!({"model": "gpt-test", "messages": [{"role": "user", "content": text}]})
}

/// Asserts `instance` validates against `schema`.
pub(super) fn assert_valid(schema: &Value, instance: &Value) {
    let validator = jsonschema::validator_for(schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{instance} does not match {schema}: {errors:?}"
    );
}
