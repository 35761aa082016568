//! OpenAI `/v1/embeddings` ↔ Gemini `batchEmbedContents`.

use std::borrow::Cow;

use base64::Engine;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::request::model_name;

#[derive(Deserialize)]
struct EmbeddingsRequest<'a> {
    #[serde(borrow)]
    model: Cow<'a, str>,
    #[serde(borrow)]
    input: Input<'a>,
    #[serde(default)]
    dimensions: Option<u32>,
    #[serde(default)]
    encoding_format: Option<EncodingFormat>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Input<'a> {
    One(#[serde(borrow)] Cow<'a, str>),
    Many(#[serde(borrow)] Vec<Cow<'a, str>>),
}

#[derive(Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum EncodingFormat {
    Float,
    Base64,
}

#[derive(Serialize)]
struct BatchEmbedRequest<'a> {
    requests: Vec<EmbedRequest<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EmbedRequest<'a> {
    model: &'a str,
    content: EmbedContent<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_dimensionality: Option<u32>,
}

#[derive(Serialize)]
struct EmbedContent<'a> {
    parts: [TextPart<'a>; 1],
}

#[derive(Serialize)]
struct TextPart<'a> {
    text: &'a str,
}

#[derive(Deserialize)]
struct BatchEmbedResponse {
    embeddings: Vec<Embedding>,
}

#[derive(Deserialize)]
struct Embedding {
    values: Vec<f32>,
}

#[derive(Serialize)]
struct EmbeddingList<'a> {
    object: &'static str,
    data: Vec<EmbeddingOut>,
    model: &'a str,
    usage: EmbeddingUsage,
}

#[derive(Serialize)]
struct EmbeddingOut {
    object: &'static str,
    index: usize,
    embedding: Vector,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Vector {
    Floats(Vec<f32>),
    Base64(String),
}

#[derive(Serialize)]
struct EmbeddingUsage {
    prompt_tokens: u64,
    total_tokens: u64,
}

/// A translated embeddings request and what its answer needs.
#[derive(Debug)]
pub struct Translated {
    pub model: String,
    pub body: Vec<u8>,
    base64: bool,
    /// The gateway's token estimate for the inputs (Gemini reports none).
    estimated_tokens: u64,
    inputs: usize,
}

pub fn translate(body: &[u8]) -> Result<Translated, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let req: EmbeddingsRequest =
        serde_path_to_error::deserialize(&mut de).map_err(|e| match e.path().to_string() {
            path if path.starts_with("input") => {
                "'input' must be a string or an array of strings; Gemini does not accept \
                 token ids."
                    .to_owned()
            }
            path => format!("Invalid request for Gemini: {path}: {}", e.inner()),
        })?;
    let model = model_name(&req.model)?;
    let inputs: Vec<&str> = match &req.input {
        Input::One(text) => vec![text],
        Input::Many(texts) => texts.iter().map(AsRef::as_ref).collect(),
    };
    if inputs.is_empty() || inputs.iter().any(|s| s.is_empty()) {
        return Err("'input' must not be empty nor contain empty strings.".into());
    }
    if req.dimensions == Some(0) {
        return Err("'dimensions' must be a positive integer.".into());
    }
    let qualified = format!("models/{model}");
    let batch = BatchEmbedRequest {
        requests: inputs
            .iter()
            .map(|text| EmbedRequest {
                model: &qualified,
                content: EmbedContent {
                    parts: [TextPart { text }],
                },
                output_dimensionality: req.dimensions,
            })
            .collect(),
    };
    Ok(Translated {
        model: model.to_owned(),
        body: serde_json::to_vec(&batch).map_err(|e| e.to_string())?,
        base64: req.encoding_format == Some(EncodingFormat::Base64),
        estimated_tokens: inputs
            .iter()
            .map(|s| (s.chars().count() as u64).div_ceil(4).max(1))
            .sum(),
        inputs: inputs.len(),
    })
}

/// The OpenAI `list` of embeddings for Gemini's answer; an error message when it is not one.
pub fn translate_response(body: &[u8], request: &Translated) -> Result<Bytes, String> {
    let batch: BatchEmbedResponse = serde_json::from_slice(body)
        .map_err(|e| format!("Gemini sent an unreadable embeddings response: {e}"))?;
    if batch.embeddings.len() != request.inputs {
        return Err(format!(
            "Gemini returned {} embeddings for {} inputs",
            batch.embeddings.len(),
            request.inputs
        ));
    }
    let data = batch
        .embeddings
        .into_iter()
        .enumerate()
        .map(|(index, e)| EmbeddingOut {
            object: "embedding",
            index,
            embedding: if request.base64 {
                let bytes: Vec<u8> = e.values.iter().flat_map(|v| v.to_le_bytes()).collect();
                Vector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                Vector::Floats(e.values)
            },
        })
        .collect();
    let list = EmbeddingList {
        object: "list",
        data,
        model: &request.model,
        usage: EmbeddingUsage {
            prompt_tokens: request.estimated_tokens,
            total_tokens: request.estimated_tokens,
        },
    };
    serde_json::to_vec(&list)
        .map(Bytes::from)
        .map_err(|e| e.to_string())
}
