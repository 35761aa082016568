//! OpenAI `messages` → Anthropic `system` and `messages`.
//!
//! `system` and `developer` messages, wherever they stand, become blocks of the top-level
//! `system` (Anthropic has no system turns). `tool` messages become `tool_result` blocks of a
//! user turn, and consecutive turns of one role are merged into one (what Anthropic does with
//! them anyway), so the results of parallel tool calls share a turn, before any user text.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::content::{text_blocks, user_blocks, Block, ChatContent, ToolResultContent};

/// One OpenAI chat message, as sent.
#[derive(Deserialize)]
pub(super) struct ChatMessage<'a> {
    role: Role,
    #[serde(default, borrow)]
    content: Option<ChatContent<'a>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<ToolCall<'a>>>,
    #[serde(default, borrow)]
    tool_call_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
    Function,
}

#[derive(Deserialize)]
struct ToolCall<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    function: FunctionCall<'a>,
}

#[derive(Deserialize)]
struct FunctionCall<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default, borrow)]
    arguments: Cow<'a, str>,
}

/// One Anthropic turn.
#[derive(Serialize)]
pub(super) struct Message<'a> {
    role: &'static str,
    content: Vec<Block<'a>>,
}

/// The translated conversation.
#[derive(Default)]
pub(super) struct Conversation<'a> {
    /// Text blocks of the top-level `system`.
    pub system: Vec<Block<'a>>,
    pub messages: Vec<Message<'a>>,
}

pub(super) fn convert(chat: Vec<ChatMessage<'_>>) -> Result<Conversation<'_>, String> {
    let mut out = Conversation::default();
    for (i, message) in chat.into_iter().enumerate() {
        let at = |e: String| format!("messages[{i}]: {e}");
        match message.role {
            Role::System | Role::Developer => {
                out.system.extend(text_blocks(message.content).map_err(at)?);
            }
            Role::User => {
                let blocks = user_blocks(message.content).map_err(at)?;
                push(&mut out.messages, "user", blocks);
            }
            Role::Assistant => {
                let mut blocks = text_blocks(message.content).map_err(at)?;
                for call in message.tool_calls.unwrap_or_default() {
                    blocks.push(tool_use(call).map_err(at)?);
                }
                push(&mut out.messages, "assistant", blocks);
            }
            Role::Tool => {
                let tool_use_id = message
                    .tool_call_id
                    .ok_or_else(|| at("a `tool` message needs `tool_call_id`".into()))?;
                let content = match message.content {
                    None => ToolResultContent::Text(Cow::Borrowed("")),
                    Some(ChatContent::Text(text)) => ToolResultContent::Text(text),
                    parts => ToolResultContent::Blocks(text_blocks(parts).map_err(at)?),
                };
                let result = Block::ToolResult {
                    tool_use_id,
                    content,
                };
                push(&mut out.messages, "user", vec![result]);
            }
            Role::Function => {
                return Err(at(
                    "`function` messages (the legacy function-calling API) are not supported; use `tools` and `tool` messages".into(),
                ))
            }
        }
    }
    Ok(out)
}

/// Appends a turn, merged into the previous one when the role is the same.
fn push<'a>(messages: &mut Vec<Message<'a>>, role: &'static str, blocks: Vec<Block<'a>>) {
    if blocks.is_empty() {
        return;
    }
    match messages.last_mut() {
        Some(last) if last.role == role => last.content.extend(blocks),
        _ => messages.push(Message {
            role,
            content: blocks,
        }),
    }
}

fn tool_use(call: ToolCall<'_>) -> Result<Block<'_>, String> {
    let arguments = call.function.arguments;
    let arguments = if arguments.trim().is_empty() {
        "{}".to_owned()
    } else {
        arguments.into_owned()
    };
    let input = RawValue::from_string(arguments)
        .ok()
        .filter(|raw| raw.get().trim_start().starts_with('{'))
        .ok_or_else(|| {
            format!(
                "the arguments of tool call `{}` are not a JSON object",
                call.id
            )
        })?;
    Ok(Block::ToolUse {
        id: call.id,
        name: call.function.name,
        input,
    })
}
