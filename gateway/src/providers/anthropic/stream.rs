//! Anthropic's Messages event stream → OpenAI `chat.completion.chunk` events, one upstream
//! event at a time.
//!
//! | Anthropic event | OpenAI chunk |
//! |---|---|
//! | `message_start` | `delta: {role: "assistant", content: ""}` (id and model kept for every chunk) |
//! | `content_block_start` text | content, if the block starts with text |
//! | `content_block_start` tool_use | `tool_calls: [{index, id, type, function: {name, arguments: ""}}]` |
//! | `content_block_delta` text_delta | `delta: {content}` |
//! | `content_block_delta` input_json_delta | `tool_calls: [{index, function: {arguments}}]` |
//! | `message_delta` | `delta: {}` with `finish_reason`; its usage is recorded |
//! | `message_stop` | the usage chunk (`choices: []`) when the client asked for it, then `[DONE]` |
//! | `error` | `data: {"error": {...}}` in the OpenAI shape |
//! | `ping`, `content_block_stop`, thinking and unknown events | nothing |
//!
//! The [`JSON_TOOL`] call of a `json_schema` request streams as content instead.

use std::borrow::Cow;

use serde::Deserialize;

use super::chunk::{write_event, Chunk, ChunkChoice, Delta, FunctionDelta, ToolCallDelta};
use super::error::{openai_error_body, ErrorDetail};
use super::request::JSON_TOOL;
use super::response::{finish_reason, unix_now, OpenAiUsage, WireUsage};
use crate::openai::sse::SseEvent;
use crate::openai::usage::Usage;
use crate::providers::StreamTranslator;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event<'a> {
    MessageStart {
        #[serde(borrow)]
        message: MessageStart<'a>,
    },
    ContentBlockStart {
        index: u64,
        #[serde(borrow)]
        content_block: BlockStart<'a>,
    },
    ContentBlockDelta {
        index: u64,
        #[serde(borrow)]
        delta: BlockDelta<'a>,
    },
    MessageDelta {
        #[serde(borrow)]
        delta: MessageDelta<'a>,
        #[serde(default)]
        usage: WireUsage,
    },
    MessageStop,
    Error {
        #[serde(borrow)]
        error: ErrorDetail<'a>,
    },
    /// `ping`, `content_block_stop` and event types added later.
    #[serde(other)]
    Ignored,
}

#[derive(Deserialize)]
struct MessageStart<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    model: Cow<'a, str>,
    #[serde(default)]
    usage: WireUsage,
}

#[derive(Deserialize)]
struct BlockStart<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct BlockDelta<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    partial_json: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct MessageDelta<'a> {
    #[serde(borrow)]
    stop_reason: Option<Cow<'a, str>>,
}

/// What an Anthropic content block turns into.
#[derive(Clone, Copy)]
enum Block {
    Text,
    /// A tool call, with its OpenAI `tool_calls` index.
    Tool(u32),
    /// The forced [`JSON_TOOL`] call: its input is the answer's content.
    JsonAnswer,
    Other,
}

/// The state of one translated stream.
pub(super) struct Translator {
    strip_usage: bool,
    created: u64,
    id: String,
    model: String,
    started: bool,
    usage: WireUsage,
    /// Anthropic block index → what it became (a handful per message).
    blocks: Vec<(u64, Block)>,
    tool_calls: u32,
    finished: bool,
    content_events: u64,
}

impl Translator {
    pub fn new(strip_usage: bool) -> Self {
        Translator {
            strip_usage,
            created: unix_now(),
            id: String::new(),
            model: String::new(),
            started: false,
            usage: WireUsage::default(),
            blocks: Vec::new(),
            tool_calls: 0,
            finished: false,
            content_events: 0,
        }
    }

    fn block(&self, index: u64) -> Block {
        self.blocks
            .iter()
            .rev()
            .find(|(i, _)| *i == index)
            .map_or(Block::Other, |(_, b)| *b)
    }

    fn handle(&mut self, event: Event<'_>, out: &mut Vec<u8>) {
        match event {
            Event::MessageStart { message } => {
                self.id = message.id.into_owned();
                self.model = message.model.into_owned();
                self.usage.update(message.usage);
                self.started = true;
                let delta = Delta {
                    role: Some("assistant"),
                    content: Some(""),
                    ..Delta::default()
                };
                self.chunk(out, delta, None);
            }
            Event::ContentBlockStart {
                index,
                content_block: block,
            } => match (block.kind.as_ref(), block.name.as_deref()) {
                ("text", _) => {
                    self.blocks.push((index, Block::Text));
                    self.content(out, block.text.as_deref().unwrap_or_default());
                }
                ("tool_use", Some(JSON_TOOL)) => self.blocks.push((index, Block::JsonAnswer)),
                ("tool_use", name) => {
                    let call = self.tool_calls;
                    self.tool_calls += 1;
                    self.blocks.push((index, Block::Tool(call)));
                    let start = ToolCallDelta {
                        index: call,
                        id: Some(block.id.as_deref().unwrap_or_default()),
                        kind: Some("function"),
                        function: FunctionDelta {
                            name: Some(name.unwrap_or_default()),
                            arguments: "",
                        },
                    };
                    self.tool_delta(out, start);
                }
                _ => self.blocks.push((index, Block::Other)),
            },
            Event::ContentBlockDelta { index, delta } => {
                match (self.block(index), &delta.text, &delta.partial_json) {
                    (Block::Text, Some(text), _) => self.content(out, text),
                    (Block::JsonAnswer, _, Some(json)) => self.content(out, json),
                    (Block::Tool(call), _, Some(json)) if !json.is_empty() => {
                        self.content_events += 1;
                        let delta = ToolCallDelta {
                            index: call,
                            id: None,
                            kind: None,
                            function: FunctionDelta {
                                name: None,
                                arguments: json,
                            },
                        };
                        self.tool_delta(out, delta);
                    }
                    _ => {}
                }
            }
            Event::MessageDelta { delta, usage } => {
                self.usage.update(usage);
                let reason = finish_reason(delta.stop_reason.as_deref(), self.tool_calls > 0);
                self.finish(out, reason);
            }
            Event::MessageStop => {
                self.finish(out, "stop");
                if !self.strip_usage {
                    let usage = Some(Some(self.usage.to_usage().into()));
                    self.write(out, &[], usage);
                }
                out.extend_from_slice(b"data: [DONE]\n\n");
            }
            Event::Error { error } => {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(&openai_error_body(&error));
                out.extend_from_slice(b"\n\n");
            }
            Event::Ignored => {}
        }
    }

    fn content(&mut self, out: &mut Vec<u8>, text: &str) {
        if text.is_empty() {
            return;
        }
        self.content_events += 1;
        let delta = Delta {
            content: Some(text),
            ..Delta::default()
        };
        self.chunk(out, delta, None);
    }

    fn tool_delta(&self, out: &mut Vec<u8>, call: ToolCallDelta<'_>) {
        let delta = Delta {
            tool_calls: Some([call]),
            ..Delta::default()
        };
        self.chunk(out, delta, None);
    }

    /// The chunk with the `finish_reason`, once.
    fn finish(&mut self, out: &mut Vec<u8>, reason: &str) {
        if !self.finished {
            self.finished = true;
            self.chunk(out, Delta::default(), Some(reason));
        }
    }

    fn chunk(&self, out: &mut Vec<u8>, delta: Delta<'_>, finish_reason: Option<&str>) {
        let choice = ChunkChoice {
            index: 0,
            delta,
            logprobs: None,
            finish_reason,
        };
        let usage = (!self.strip_usage).then_some(None);
        self.write(out, &[choice], usage);
    }

    fn write(
        &self,
        out: &mut Vec<u8>,
        choices: &[ChunkChoice<'_>],
        usage: Option<Option<OpenAiUsage>>,
    ) {
        let chunk = Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices,
            usage,
        };
        write_event(out, &chunk);
    }

    /// The usage so far: final once `message_delta` came, an estimate flagged as such before
    /// (a stream cut short still gets its prompt tokens right).
    fn usage_so_far(&self) -> Option<Usage> {
        if !self.started {
            return None;
        }
        let mut usage = self.usage.to_usage();
        if !self.finished {
            usage.completion_tokens = usage.completion_tokens.max(self.content_events);
            usage.estimated = true;
        }
        Some(usage)
    }
}

impl StreamTranslator for Translator {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<u8>, usage: &mut Option<Usage>) {
        if event.data.is_empty() {
            return;
        }
        match serde_json::from_slice::<Event<'_>>(&event.data) {
            Ok(parsed) => self.handle(parsed, out),
            Err(e) => {
                tracing::debug!(error = %e, "skipping an Anthropic stream event that is not understood")
            }
        }
        if let Some(found) = self.usage_so_far() {
            *usage = Some(found);
        }
    }

    fn content_events(&self) -> u64 {
        self.content_events
    }
}
