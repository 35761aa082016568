//! Gemini `GenerateContentResponse` → OpenAI `chat.completion`, and the pieces that streamed
//! chunks share with it (finish reasons, tool calls, usage).

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::Serialize;

use super::wire::{CandidateContent, GenerateContentResponse, UsageMetadata};
use crate::openai::usage::Usage;

#[derive(Serialize)]
struct ChatCompletion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: Vec<Choice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<UsageOut>,
}

#[derive(Serialize)]
struct Choice {
    index: u32,
    message: AssistantMessage,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct AssistantMessage {
    role: &'static str,
    content: Option<String>,
    refusal: Option<()>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCallOut>,
}

/// An OpenAI tool call (whole responses) or its first stream delta.
#[derive(Debug, Serialize)]
pub(super) struct ToolCallOut {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionOut,
    /// Gemini's thought signature, to be sent back with the call (`extra_content.google`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_content: Option<ExtraOut>,
}

#[derive(Debug, Serialize)]
pub(super) struct FunctionOut {
    pub name: String,
    pub arguments: String,
}

#[derive(Debug, Serialize)]
pub(super) struct ExtraOut {
    pub google: GoogleOut,
}

#[derive(Debug, Serialize)]
pub(super) struct GoogleOut {
    pub thought_signature: String,
}

/// The OpenAI `usage` object.
#[derive(Debug, Serialize)]
pub(super) struct UsageOut {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: PromptDetails,
    completion_tokens_details: CompletionDetails,
}

#[derive(Debug, Serialize)]
struct PromptDetails {
    cached_tokens: u64,
}

#[derive(Debug, Serialize)]
struct CompletionDetails {
    reasoning_tokens: u64,
}

impl UsageMetadata {
    /// Tool-use prompt tokens count as prompt tokens, thoughts as completion tokens.
    pub(super) fn usage(&self) -> Usage {
        Usage {
            prompt_tokens: self.prompt_token_count + self.tool_use_prompt_token_count,
            completion_tokens: self.candidates_token_count + self.thoughts_token_count,
            cached_tokens: self.cached_content_token_count,
            reasoning_tokens: self.thoughts_token_count,
            estimated: false,
        }
    }

    pub(super) fn to_openai(self) -> UsageOut {
        let usage = self.usage();
        UsageOut {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: self.total_token_count.unwrap_or(usage.total_tokens()),
            prompt_tokens_details: PromptDetails {
                cached_tokens: usage.cached_tokens,
            },
            completion_tokens_details: CompletionDetails {
                reasoning_tokens: usage.reasoning_tokens,
            },
        }
    }
}

/// OpenAI's `finish_reason` for Gemini's `finishReason`.
pub(super) fn finish_reason(reason: &str, called_tools: bool) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT" => "content_filter",
        _ if called_tools => "tool_calls",
        _ => "stop",
    }
}

/// What one candidate (or one streamed piece of it) holds, in OpenAI terms.
pub(super) struct Pieces {
    /// Text parts joined, thoughts left out.
    pub text: String,
    pub tool_calls: Vec<ToolCallOut>,
}

impl Pieces {
    pub fn of(content: Option<&CandidateContent>, ids: &mut CallIds) -> Pieces {
        let mut text = String::new();
        let mut tool_calls = Vec::new();
        for part in content.map(|c| c.parts.as_slice()).unwrap_or_default() {
            if part.thought {
                continue;
            }
            if let Some(t) = &part.text {
                text.push_str(t);
            }
            if let Some(call) = &part.function_call {
                let arguments = match &call.args {
                    Some(args) => args.to_string(),
                    None => "{}".to_owned(),
                };
                tool_calls.push(ToolCallOut {
                    id: ids.next_id(),
                    kind: "function",
                    function: FunctionOut {
                        name: call.name.clone(),
                        arguments,
                    },
                    extra_content: part.thought_signature.as_ref().map(|sig| ExtraOut {
                        google: GoogleOut {
                            thought_signature: sig.clone(),
                        },
                    }),
                });
            }
        }
        Pieces { text, tool_calls }
    }
}

/// Tool call ids `call_<12 hex digits>_<n>`: unique per response, so that ids from several
/// turns of one conversation never collide.
pub(super) struct CallIds {
    prefix: String,
    next: u32,
}

impl CallIds {
    pub fn new() -> Self {
        CallIds {
            prefix: format!("call_{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff),
            next: 0,
        }
    }

    fn next_id(&mut self) -> String {
        let id = format!("{}_{}", self.prefix, self.next);
        self.next += 1;
        id
    }
}

pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `chatcmpl-<responseId>`, or a random id when Gemini sent none.
pub(super) fn completion_id(response_id: Option<&str>) -> String {
    match response_id {
        Some(id) if !id.is_empty() => format!("chatcmpl-{id}"),
        _ => format!("chatcmpl-{:016x}", fastrand::u64(..)),
    }
}

/// Translates a whole response; `None` when the body is not a Gemini response.
pub fn translate(body: &[u8]) -> Option<Bytes> {
    let response: GenerateContentResponse = serde_json::from_slice(body).ok()?;
    let mut ids = CallIds::new();
    let mut choices = Vec::with_capacity(response.candidates.len().max(1));
    for (position, candidate) in response.candidates.iter().enumerate() {
        let pieces = Pieces::of(candidate.content.as_ref(), &mut ids);
        let called = !pieces.tool_calls.is_empty();
        let finish = match &candidate.finish_reason {
            Some(reason) => finish_reason(reason, called),
            None if called => "tool_calls",
            None => "stop",
        };
        choices.push(Choice {
            index: candidate.index.unwrap_or(position as u32),
            message: AssistantMessage {
                role: "assistant",
                content: (!pieces.text.is_empty() || !called).then_some(pieces.text),
                refusal: None,
                tool_calls: pieces.tool_calls,
            },
            logprobs: None,
            finish_reason: finish,
        });
    }
    if choices.is_empty() {
        // No candidates: the prompt was blocked (`promptFeedback.blockReason`) or nothing came.
        let blocked = response
            .prompt_feedback
            .as_ref()
            .is_some_and(|f| f.block_reason.is_some());
        choices.push(Choice {
            index: 0,
            message: AssistantMessage {
                role: "assistant",
                content: Some(String::new()),
                refusal: None,
                tool_calls: Vec::new(),
            },
            logprobs: None,
            finish_reason: if blocked { "content_filter" } else { "stop" },
        });
    }
    let completion = ChatCompletion {
        id: &completion_id(response.response_id.as_deref()),
        object: "chat.completion",
        created: unix_now(),
        model: response.model_version.as_deref().unwrap_or("gemini"),
        choices,
        usage: response.usage_metadata.map(UsageMetadata::to_openai),
    };
    serde_json::to_vec(&completion).ok().map(Bytes::from)
}
