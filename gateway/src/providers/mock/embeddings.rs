//! `/v1/embeddings`: deterministic, L2-normalised pseudo-random vectors.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::completions::prompts;
use super::request::{self, BadRequest, Output, Req, Result};
use super::text;

const DEFAULT_DIMENSIONS: u64 = 8;
const MAX_DIMENSIONS: u64 = 4096;

/// Answers one embeddings request.
pub(super) fn respond(req: &Req) -> Result<Output> {
    let model = request::model(req)?;
    let inputs = prompts(req, "input")?;
    let dimensions = request::opt_uint(req, "dimensions", 1, MAX_DIMENSIONS)?
        .unwrap_or(DEFAULT_DIMENSIONS) as usize;
    let base64 = match req.get("encoding_format") {
        None | Some(Value::Null) => false,
        Some(Value::String(f)) if f == "float" => false,
        Some(Value::String(f)) if f == "base64" => true,
        Some(_) => {
            return Err(BadRequest::new(
                "Invalid 'encoding_format': expected 'float' or 'base64'.",
                Some("encoding_format"),
            ))
        }
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            let vector = vector(&input.text, dimensions);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::String(STANDARD.encode(bytes))
            } else {
                // f32's shortest decimal form, so the JSON reads back to the same f32.
                let floats = vector
                    .iter()
                    .map(|x| Value::from(x.to_string().parse::<f64>().unwrap_or(f64::from(*x))));
                Value::Array(floats.collect())
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let tokens = inputs.iter().map(|i| i.tokens).fold(0, u64::saturating_add);
    Ok(Output::Json(json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })))
}

/// A unit vector seeded by the text: the same text always embeds to the same vector.
pub(super) fn vector(text: &str, dimensions: usize) -> Vec<f32> {
    let mut rng = fastrand::Rng::with_seed(text::hash64(text.as_bytes()));
    let mut v: Vec<f32> = (0..dimensions).map(|_| rng.f32() * 2.0 - 1.0).collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > f32::EPSILON {
        v.iter_mut().for_each(|x| *x /= norm);
    } else if let Some(first) = v.first_mut() {
        *first = 1.0;
        v.iter_mut().skip(1).for_each(|x| *x = 0.0);
    }
    v
}
