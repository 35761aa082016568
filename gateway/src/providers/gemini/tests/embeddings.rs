use serde_json::json;

use super::json;
use crate::providers::gemini::embeddings::{translate, translate_response};

#[test]
fn request_and_response() {
    let t =
        translate(br#"{"model":"gemini-embedding-001","input":["hello","world!"],"dimensions":3}"#)
            .unwrap();
    assert_eq!(t.model, "gemini-embedding-001");
    assert_eq!(
        json(&t.body),
        json!({"requests": [
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 3},
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "world!"}]}, "outputDimensionality": 3}
        ]})
    );
    let answer = br#"{"embeddings":[{"values":[0.5,-1.0,0.25]},{"values":[1.0,0.0,0.0]}]}"#;
    let out = json(&translate_response(answer, &t).unwrap());
    assert_eq!(
        out,
        json!({"object": "list", "model": "gemini-embedding-001",
            "data": [
                {"object": "embedding", "index": 0, "embedding": [0.5, -1.0, 0.25]},
                {"object": "embedding", "index": 1, "embedding": [1.0, 0.0, 0.0]}
            ],
            "usage": {"prompt_tokens": 4, "total_tokens": 4}})
    );
    assert!(translate_response(br#"{"embeddings":[]}"#, &t).is_err());
    assert!(translate_response(b"<html>", &t).is_err());
}

#[test]
fn base64_is_little_endian_f32() {
    let t = translate(br#"{"model":"m","input":"x","encoding_format":"base64"}"#).unwrap();
    let out = json(&translate_response(br#"{"embeddings":[{"values":[1.0]}]}"#, &t).unwrap());
    assert_eq!(out["data"][0]["embedding"], "AACAPw==");
}

#[test]
fn inputs_gemini_cannot_embed_are_refused() {
    for (body, needle) in [
        (r#"{"model":"m","input":[1,2]}"#, "token ids"),
        (r#"{"model":"m","input":[[1,2]]}"#, "token ids"),
        (r#"{"model":"m","input":[]}"#, "empty"),
        (r#"{"model":"m","input":[""]}"#, "empty"),
        (r#"{"model":"m"}"#, "input"),
        (r#"{"input":"x"}"#, "model"),
        (r#"{"model":"m","input":"x","dimensions":0}"#, "dimensions"),
        (
            r#"{"model":"m","input":"x","encoding_format":"hex"}"#,
            "encoding_format",
        ),
    ] {
        let err = translate(body.as_bytes()).unwrap_err();
        assert!(err.contains(needle), "{body}: {err}");
    }
}
