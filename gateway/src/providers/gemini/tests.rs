//! Tests of the Gemini translation, on fixtures in the documented wire format
//! (`fixtures/`: whole responses, SSE streams and Google error bodies).

mod embeddings;
mod error;
mod request;
mod response;
mod schema;
mod stream;

use serde_json::Value;

/// A fixture's text, by file name.
fn fixture(name: &str) -> &'static str {
    match name {
        "text.json" => include_str!("fixtures/text.json"),
        "function_call.json" => include_str!("fixtures/function_call.json"),
        "blocked.json" => include_str!("fixtures/blocked.json"),
        "text_stream.sse" => include_str!("fixtures/text_stream.sse"),
        "function_call_stream.sse" => include_str!("fixtures/function_call_stream.sse"),
        "error_429.json" => include_str!("fixtures/error_429.json"),
        "error_503.json" => include_str!("fixtures/error_503.json"),
        "error_500.json" => include_str!("fixtures/error_500.json"),
        "error_400_context.json" => include_str!("fixtures/error_400_context.json"),
        "error_400_api_key.json" => include_str!("fixtures/error_400_api_key.json"),
        "error_400_invalid.json" => include_str!("fixtures/error_400_invalid.json"),
        "error_403.json" => include_str!("fixtures/error_403.json"),
        "error_404_model.json" => include_str!("fixtures/error_404_model.json"),
        other => panic!("no fixture {other}"),
    }
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}
