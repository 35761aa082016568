//! OpenAI `messages` → Gemini `systemInstruction` and `contents`.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::super::wire::{Content, FunctionCallOut, FunctionResponse, Part, SystemInstruction};
use super::parts::{text_parts, user_parts, MessageContent};

/// Google's documented placeholder for a function call whose thought signature is unknown.
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

#[derive(Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message<'a> {
    #[serde(alias = "developer")]
    System {
        #[serde(default, borrow)]
        content: Option<MessageContent<'a>>,
    },
    User {
        #[serde(default, borrow)]
        content: Option<MessageContent<'a>>,
    },
    Assistant {
        #[serde(default, borrow)]
        content: Option<MessageContent<'a>>,
        #[serde(default, borrow)]
        tool_calls: Option<Vec<ToolCall<'a>>>,
    },
    Tool {
        #[serde(default, borrow)]
        content: Option<MessageContent<'a>>,
        #[serde(borrow)]
        tool_call_id: Cow<'a, str>,
    },
    /// The deprecated `function` role.
    Function {
        #[serde(borrow)]
        name: Cow<'a, str>,
        #[serde(default, borrow)]
        content: Option<Cow<'a, str>>,
    },
}

#[derive(Deserialize)]
pub struct ToolCall<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    function: CalledFunction<'a>,
    #[serde(default, borrow)]
    extra_content: Option<ExtraContent<'a>>,
}

#[derive(Deserialize)]
pub struct CalledFunction<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default, borrow)]
    arguments: Option<Cow<'a, str>>,
}

/// Where the gateway (like Google's OpenAI endpoint) carries Gemini's thought signature.
#[derive(Deserialize)]
pub struct ExtraContent<'a> {
    #[serde(default, borrow)]
    google: Option<GoogleExtra<'a>>,
}

#[derive(Deserialize)]
pub struct GoogleExtra<'a> {
    #[serde(default, borrow)]
    thought_signature: Option<Cow<'a, str>>,
}

type Converted<'r> = (Option<SystemInstruction<'r>>, Vec<Content<'r>>);

/// System and developer messages (wherever they are) → `systemInstruction`; the others →
/// `contents`, consecutive messages of one Gemini role merged into one turn.
pub fn conversation<'r>(messages: &'r [Message<'r>]) -> Result<Converted<'r>, String> {
    let mut system = Vec::new();
    let mut contents: Vec<Content<'r>> = Vec::new();
    // The name of every tool call seen so far, by id (a later call with a reused id wins).
    let mut call_names: HashMap<&'r str, &'r str> = HashMap::new();
    for (i, message) in messages.iter().enumerate() {
        let (role, parts) = match message {
            Message::System { content } => {
                system.extend(text_parts(content.as_ref(), i)?);
                continue;
            }
            Message::User { content } => ("user", user_parts(content.as_ref(), i)?),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let mut parts = text_parts(content.as_ref(), i)?;
                for (j, call) in tool_calls.iter().flatten().enumerate() {
                    if let Some(id) = &call.id {
                        call_names.insert(id, &call.function.name);
                    }
                    parts.push(
                        function_call(call, j == 0)
                            .map_err(|e| format!("messages[{i}].tool_calls[{j}]: {e}"))?,
                    );
                }
                ("model", parts)
            }
            Message::Tool {
                content,
                tool_call_id,
            } => {
                let name = call_names.get(tool_call_id.as_ref()).ok_or_else(|| {
                    format!(
                        "messages[{i}]: tool_call_id `{tool_call_id}` does not match a tool call \
                         of an earlier assistant message."
                    )
                })?;
                let output: String = text_parts(content.as_ref(), i)?
                    .iter()
                    .filter_map(|p| p.text)
                    .collect();
                ("user", vec![function_response(name, &output)])
            }
            Message::Function { name, content } => (
                "user",
                vec![function_response(name, content.as_deref().unwrap_or(""))],
            ),
        };
        if parts.is_empty() {
            continue;
        }
        match contents.last_mut() {
            Some(last) if last.role == role => last.parts.extend(parts),
            _ => contents.push(Content { role, parts }),
        }
    }
    let system = (!system.is_empty()).then_some(SystemInstruction { parts: system });
    Ok((system, contents))
}

/// An assistant tool call → a `functionCall` part with its thought signature; the first call
/// of a turn without one gets [`SKIP_SIGNATURE`] (Gemini 3 checks the first call only).
fn function_call<'r>(call: &'r ToolCall, first: bool) -> Result<Part<'r>, String> {
    let args = match call.function.arguments.as_deref().map(str::trim) {
        None | Some("") => json!({}),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(args @ Value::Object(_)) => args,
            _ => return Err("`function.arguments` must be a JSON object".into()),
        },
    };
    let signature = call
        .extra_content
        .as_ref()
        .and_then(|e| e.google.as_ref())
        .and_then(|g| g.thought_signature.as_deref());
    Ok(Part {
        function_call: Some(FunctionCallOut {
            name: &call.function.name,
            args,
        }),
        thought_signature: signature.or(first.then_some(SKIP_SIGNATURE)),
        ..Part::default()
    })
}

/// The tool output as the response object: itself when it is a JSON object, else
/// `{"output": "<text>"}`.
fn function_response<'r>(name: &'r str, output: &str) -> Part<'r> {
    let response = match serde_json::from_str::<Value>(output) {
        Ok(object @ Value::Object(_)) => object,
        _ => json!({ "output": output }),
    };
    Part {
        function_response: Some(FunctionResponse { name, response }),
        ..Part::default()
    }
}
