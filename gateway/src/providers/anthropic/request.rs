//! OpenAI chat completions request → Anthropic Messages request.
//!
//! `response_format` has no Anthropic equivalent, so it is done on a best-effort basis:
//! - `json_schema` with an object schema, in a request without tools: the schema becomes the
//!   input schema of one tool, [`JSON_TOOL`], that the model is forced to call; [`response`]
//!   and [`stream`] turn that call back into `message.content` (the JSON text) with
//!   `finish_reason: "stop"`, so the client sees structured output as OpenAI returns it.
//! - `json_schema` otherwise (the request has tools of its own, or the schema is not an
//!   object): a `system` instruction to answer with JSON that validates against the schema.
//! - `json_object`: a `system` instruction to answer with one JSON object.
//!
//! [`response`]: super::response
//! [`stream`]: super::stream

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::content::Block;
use super::messages::{self, ChatMessage, Message};
use super::tools::{self, ChatTool, ChatToolChoice, ToolChoice, ToolDef};

/// The tool that carries a `json_schema` answer.
pub(super) const JSON_TOOL: &str = "promptgate_json_output";

#[derive(Deserialize)]
struct ChatRequest<'a> {
    #[serde(borrow)]
    model: Cow<'a, str>,
    #[serde(borrow)]
    messages: Vec<ChatMessage<'a>>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    #[serde(borrow)]
    stop: Option<Stop<'a>>,
    n: Option<u64>,
    #[serde(borrow)]
    user: Option<Cow<'a, str>>,
    #[serde(borrow)]
    tools: Option<Vec<ChatTool<'a>>>,
    #[serde(borrow)]
    tool_choice: Option<ChatToolChoice<'a>>,
    parallel_tool_calls: Option<bool>,
    #[serde(borrow)]
    response_format: Option<ResponseFormat<'a>>,
    logprobs: Option<bool>,
    modalities: Option<Vec<String>>,
    #[serde(borrow)]
    functions: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Stop<'a> {
    One(#[serde(borrow)] Cow<'a, str>),
    Many(#[serde(borrow)] Vec<Cow<'a, str>>),
}

#[derive(Deserialize)]
struct ResponseFormat<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    json_schema: Option<JsonSchemaFormat<'a>>,
}

#[derive(Deserialize)]
struct JsonSchemaFormat<'a> {
    #[serde(borrow)]
    schema: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct MessagesRequest<'a> {
    model: Cow<'a, str>,
    max_tokens: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<Block<'a>>,
    messages: Vec<Message<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stop_sequences: Vec<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<ToolDef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<ToolChoice<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

#[derive(Serialize)]
struct Metadata<'a> {
    user_id: Cow<'a, str>,
}

/// Translates an OpenAI chat request body; the error says what cannot be expressed.
pub(super) fn translate(
    body: &[u8],
    stream: bool,
    default_max_tokens: u32,
) -> Result<Vec<u8>, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let chat: ChatRequest<'_> = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| format!("Invalid chat request for Anthropic: {e}"))?;
    check_expressible(&chat)?;
    let conversation = messages::convert(chat.messages)?;
    let mut request = MessagesRequest {
        model: chat.model,
        max_tokens: chat
            .max_completion_tokens
            .or(chat.max_tokens)
            .unwrap_or(u64::from(default_max_tokens)),
        system: conversation.system,
        messages: conversation.messages,
        stop_sequences: match chat.stop {
            None => Vec::new(),
            Some(Stop::One(one)) => vec![one],
            Some(Stop::Many(many)) => many,
        },
        // OpenAI allows 0..2, Anthropic 0..1.
        temperature: chat.temperature.map(|t| t.clamp(0.0, 1.0)),
        top_p: chat.top_p,
        metadata: chat.user.map(|user_id| Metadata { user_id }),
        tools: tools::tools(chat.tools)?,
        tool_choice: None,
        stream,
    };
    let parallel = chat.parallel_tool_calls.unwrap_or(true);
    let choice = tools::tool_choice(chat.tool_choice, !parallel)?;
    if !request.tools.is_empty() {
        request.tool_choice = choice;
    }
    if let Some(format) = chat.response_format {
        apply_response_format(&mut request, format)?;
    }
    serde_json::to_vec(&request).map_err(|e| format!("could not encode the request: {e}"))
}

fn check_expressible(chat: &ChatRequest<'_>) -> Result<(), String> {
    if chat.n.is_some_and(|n| n > 1) {
        return Err("Anthropic generates one choice per request: `n` must be 1".into());
    }
    if chat.logprobs == Some(true) {
        return Err("Anthropic does not return log probabilities (`logprobs`)".into());
    }
    if chat.modalities.iter().flatten().any(|m| m == "audio") {
        return Err("Anthropic models do not generate audio (`modalities`)".into());
    }
    if chat.functions.is_some() {
        return Err("the legacy `functions` parameter is not supported; use `tools`".into());
    }
    Ok(())
}

fn apply_response_format<'a>(
    request: &mut MessagesRequest<'a>,
    format: ResponseFormat<'a>,
) -> Result<(), String> {
    let instruction = match format.kind.as_ref() {
        "text" => return Ok(()),
        "json_object" => {
            "Respond with a single JSON object and nothing else: no prose, no code fences."
                .to_owned()
        }
        "json_schema" => {
            let schema = format
                .json_schema
                .and_then(|f| f.schema)
                .ok_or("`response_format.json_schema.schema` is required")?;
            if request.tools.is_empty() && is_object_schema(schema) {
                request.tools.push(ToolDef {
                    name: Cow::Borrowed(JSON_TOOL),
                    description: Some(Cow::Borrowed(
                        "Give your final answer as this tool's input.",
                    )),
                    input_schema: Cow::Borrowed(schema),
                });
                request.tool_choice = Some(ToolChoice::Tool {
                    name: Cow::Borrowed(JSON_TOOL),
                    disable_parallel_tool_use: true,
                });
                return Ok(());
            }
            format!(
                "Respond with a single JSON value that validates against this JSON Schema, and nothing else: no prose, no code fences.\n{}",
                schema.get()
            )
        }
        other => return Err(format!("unknown `response_format` type `{other}`")),
    };
    request.system.push(Block::Text {
        text: Cow::Owned(instruction),
    });
    Ok(())
}

/// Whether a schema describes an object (Anthropic's input schemas must).
fn is_object_schema(schema: &RawValue) -> bool {
    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<Cow<'a, str>>,
    }
    serde_json::from_str::<Probe<'_>>(schema.get())
        .is_ok_and(|p| p.kind.as_deref() == Some("object"))
}
