//! OpenAI `messages` → Anthropic `system` and `messages`.
//!
//! `system` and `developer` messages, wherever they stand, become blocks of the top-level
//! `system` (Anthropic has no system turns). `tool` messages become `tool_result` blocks of a
//! user turn, and consecutive turns of one role are merged into one (what Anthropic does with
//! them anyway), so the results of parallel tool calls share a turn, before any user text.
//! Empty text is dropped: Anthropic rejects empty text blocks.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

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

/// A string or an array of parts (a hand-written visitor, so that a bad part is reported
/// as such rather than as "no variant matched").
enum ChatContent<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<ContentPart<'a>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for ChatContent<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ContentVisitor;
        impl<'de> serde::de::Visitor<'de> for ContentVisitor {
            type Value = ChatContent<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or an array of content parts")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(ChatContent::Text(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ChatContent::Text(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(ChatContent::Text(Cow::Owned(v)))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut parts = Vec::with_capacity(seq.size_hint().unwrap_or(1));
                while let Some(part) = seq.next_element()? {
                    parts.push(part);
                }
                Ok(ChatContent::Parts(parts))
            }
        }
        deserializer.deserialize_any(ContentVisitor)
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ContentPart<'a> {
    Text {
        #[serde(borrow)]
        text: Cow<'a, str>,
    },
    ImageUrl {
        #[serde(borrow)]
        image_url: ImageUrl<'a>,
    },
    InputAudio {},
    File {
        #[serde(borrow)]
        file: FileRef<'a>,
    },
    Refusal {
        #[serde(borrow)]
        refusal: Cow<'a, str>,
    },
}

#[derive(Deserialize)]
struct ImageUrl<'a> {
    #[serde(borrow)]
    url: Cow<'a, str>,
}

#[derive(Deserialize)]
struct FileRef<'a> {
    #[serde(default, borrow)]
    file_data: Option<Cow<'a, str>>,
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

/// An Anthropic content block.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Block<'a> {
    Text {
        text: Cow<'a, str>,
    },
    Image {
        source: Source<'a>,
    },
    Document {
        source: Source<'a>,
    },
    ToolUse {
        id: Cow<'a, str>,
        name: Cow<'a, str>,
        input: Box<RawValue>,
    },
    ToolResult {
        tool_use_id: Cow<'a, str>,
        content: ToolResultContent<'a>,
    },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Source<'a> {
    Base64 {
        media_type: Cow<'a, str>,
        data: Cow<'a, str>,
    },
    Url {
        url: Cow<'a, str>,
    },
}

#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum ToolResultContent<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<Block<'a>>),
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

/// Content that may only hold text (system, assistant and tool messages).
fn text_blocks(content: Option<ChatContent<'_>>) -> Result<Vec<Block<'_>>, String> {
    let mut blocks = Vec::new();
    match content {
        None => {}
        Some(ChatContent::Text(text)) => blocks.extend(text_block(text)),
        Some(ChatContent::Parts(parts)) => {
            for part in parts {
                match part {
                    ContentPart::Text { text } | ContentPart::Refusal { refusal: text } => {
                        blocks.extend(text_block(text));
                    }
                    _ => return Err("only text content is supported in this message".into()),
                }
            }
        }
    }
    Ok(blocks)
}

fn user_blocks(content: Option<ChatContent<'_>>) -> Result<Vec<Block<'_>>, String> {
    let parts = match content {
        Some(ChatContent::Parts(parts)) => parts,
        other => return text_blocks(other),
    };
    let mut blocks = Vec::with_capacity(parts.len());
    for part in parts {
        match part {
            ContentPart::Text { text } | ContentPart::Refusal { refusal: text } => {
                blocks.extend(text_block(text));
            }
            ContentPart::ImageUrl { image_url } => blocks.push(Block::Image {
                source: image_source(image_url.url)?,
            }),
            ContentPart::File { file } => blocks.push(document(file)?),
            ContentPart::InputAudio {} => {
                return Err("Anthropic models do not accept audio input (`input_audio`)".into())
            }
        }
    }
    Ok(blocks)
}

fn text_block(text: Cow<'_, str>) -> Option<Block<'_>> {
    (!text.is_empty()).then_some(Block::Text { text })
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

/// `data:` URLs become base64 sources, http(s) URLs `url` sources.
fn image_source(url: Cow<'_, str>) -> Result<Source<'_>, String> {
    if url.starts_with("data:") {
        let (media_type, data) = data_url(url)?;
        return Ok(Source::Base64 { media_type, data });
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(Source::Url { url });
    }
    Err("an image URL must be an http(s) URL or a base64 `data:` URL".into())
}

/// A PDF `file` part with inline `file_data` becomes a document block.
fn document(file: FileRef<'_>) -> Result<Block<'_>, String> {
    let Some(file_data) = file.file_data else {
        return Err(
            "`file` parts need inline `file_data` (uploaded `file_id`s are OpenAI's)".into(),
        );
    };
    let (media_type, data) = data_url(file_data)?;
    if media_type != "application/pdf" {
        return Err(format!(
            "only PDF files are supported in `file` parts, not `{media_type}`"
        ));
    }
    Ok(Block::Document {
        source: Source::Base64 { media_type, data },
    })
}

/// Splits `data:<media type>;base64,<data>` into its media type and data.
fn data_url(url: Cow<'_, str>) -> Result<(Cow<'_, str>, Cow<'_, str>), String> {
    let invalid = || "a `data:` URL must look like `data:<media type>;base64,<data>`".to_owned();
    let rest = url.strip_prefix("data:").ok_or_else(invalid)?;
    let (header, _) = rest.split_once(',').ok_or_else(invalid)?;
    let media_type = header.strip_suffix(";base64").ok_or_else(invalid)?;
    if media_type.is_empty() {
        return Err(invalid());
    }
    let media_start = "data:".len();
    let media_end = media_start + media_type.len();
    let data_start = media_start + header.len() + 1;
    Ok(match url {
        Cow::Borrowed(s) => (
            Cow::Borrowed(&s[media_start..media_end]),
            Cow::Borrowed(&s[data_start..]),
        ),
        Cow::Owned(s) => (
            Cow::Owned(s[media_start..media_end].to_owned()),
            Cow::Owned(s[data_start..].to_owned()),
        ),
    })
}
