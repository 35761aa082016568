//! `/v1/chat/completions`: the request's reading and the whole `chat.completion` object.

use serde_json::{json, Value};

use super::request::{self, BadRequest, Ctx, Output, Req, Result};
use super::tools::{self, ToolCall};
use super::{schema, stream, text};

/// The schema of a format that gives none: anything goes.
static ANY: Value = Value::Bool(true);

const ROLES: [&str; 6] = [
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

/// A chat request reduced to what the mock answers.
pub(super) struct Chat {
    pub model: String,
    pub n: usize,
    /// `Some(top_logprobs)` when `logprobs` is true.
    pub logprobs: Option<usize>,
    pub include_usage: bool,
    pub prompt_tokens: u64,
    pub answer: Answer,
}

/// What every choice says (all `n` choices are the same).
pub(super) enum Answer {
    Text {
        content: String,
        finish: &'static str,
    },
    Tools(Vec<ToolCall>),
}

enum Format<'a> {
    Text,
    JsonObject,
    JsonSchema(&'a Value),
}

/// Answers one chat request, whole or streamed.
pub(super) fn respond(req: &Req, ctx: &Ctx<'_>, stream: bool) -> Result<Output> {
    let chat = Chat::parse(req, ctx)?;
    Ok(if stream {
        Output::Sse(stream::chat(&chat, ctx))
    } else {
        Output::Json(chat.whole(ctx))
    })
}

impl Chat {
    fn parse(req: &Req, ctx: &Ctx<'_>) -> Result<Chat> {
        let model = request::model(req)?;
        let n = request::choices(req)?;
        let max_words = match request::opt_uint(req, "max_completion_tokens", 1, u64::MAX)? {
            Some(max) => Some(max),
            None => request::opt_uint(req, "max_tokens", 1, u64::MAX)?,
        };
        let top = request::opt_uint(req, "top_logprobs", 0, 20)?.unwrap_or(0) as usize;
        let logprobs = request::opt_bool(req, "logprobs")?
            .unwrap_or(false)
            .then_some(top);
        let include_usage = request::include_usage(req)?;
        let (prompt_tokens, last_user, last_is_tool) = read_messages(req)?;
        let format = response_format(req)?;
        let calls = tools::tool_calls(req)?;
        let answer = match calls {
            Some(calls) if !last_is_tool => Answer::Tools(calls),
            _ => {
                let reply = text::reply_text(ctx.mode, ctx.fixed_text, last_user);
                let (content, cut) = match format {
                    Format::Text => text::truncate_words(&reply, max_words),
                    Format::JsonObject => {
                        let (reply, cut) = text::truncate_words(&reply, max_words);
                        (json!({ "response": reply }).to_string(), cut)
                    }
                    Format::JsonSchema(schema) => (schema::synthesize(schema).to_string(), false),
                };
                let finish = if cut { "length" } else { "stop" };
                Answer::Text { content, finish }
            }
        };
        Ok(Chat {
            model,
            n,
            logprobs,
            include_usage,
            prompt_tokens,
            answer,
        })
    }

    pub fn finish_reason(&self) -> &'static str {
        match &self.answer {
            Answer::Text { finish, .. } => finish,
            Answer::Tools(_) => "tool_calls",
        }
    }

    /// Words generated over all choices, at least one per choice.
    pub fn completion_tokens(&self) -> u64 {
        let per_choice = match &self.answer {
            Answer::Text { content, .. } => text::word_count(content),
            Answer::Tools(calls) => calls.iter().map(|c| text::word_count(&c.arguments)).sum(),
        };
        per_choice.max(1).saturating_mul(self.n as u64)
    }

    pub fn usage(&self) -> Value {
        request::usage(self.prompt_tokens, self.completion_tokens())
    }

    fn whole(&self, ctx: &Ctx<'_>) -> Value {
        let message = match &self.answer {
            Answer::Text { content, .. } => {
                json!({"role": "assistant", "content": content, "refusal": null})
            }
            Answer::Tools(calls) => {
                let calls: Vec<Value> = calls
                    .iter()
                    .enumerate()
                    .map(|(i, call)| {
                        json!({
                            "id": format!("call_mock_{i}"),
                            "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments},
                        })
                    })
                    .collect();
                json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": calls})
            }
        };
        let logprobs = match (&self.answer, self.logprobs) {
            (Answer::Text { content, .. }, Some(top)) => logprobs(&text::words(content), top),
            _ => Value::Null,
        };
        let choices: Vec<Value> = (0..self.n)
            .map(|index| {
                json!({
                    "index": index,
                    "message": message,
                    "logprobs": logprobs,
                    "finish_reason": self.finish_reason(),
                })
            })
            .collect();
        json!({
            "id": format!("chatcmpl-mock-{}", ctx.hash),
            "object": "chat.completion",
            "created": ctx.created,
            "model": self.model,
            "choices": choices,
            "usage": self.usage(),
            "system_fingerprint": "fp_mock",
        })
    }
}

/// A `logprobs` object with one entry per word: logprob 0 for the word, and `top` alternatives
/// (the word itself first, then placeholders at -9999).
pub(super) fn logprobs(words: &[&str], top: usize) -> Value {
    let entry = |token: &str, logprob: f64| json!({"token": token, "logprob": logprob, "bytes": token.as_bytes()});
    let content: Vec<Value> = words
        .iter()
        .map(|word| {
            let mut item = entry(word, 0.0);
            let alternatives: Vec<Value> = (0..top)
                .map(|k| match k {
                    0 => entry(word, 0.0),
                    _ => entry(&format!(" alt{k}"), -9999.0),
                })
                .collect();
            item["top_logprobs"] = Value::Array(alternatives);
            item
        })
        .collect();
    json!({"content": content, "refusal": null})
}

/// Checks `messages`; returns the prompt token estimate, the last user text, and whether the
/// last message is a tool result.
fn read_messages(req: &Req) -> Result<(u64, Option<String>, bool)> {
    let messages = match req.get("messages") {
        None | Some(Value::Null) => {
            return Err(BadRequest::new(
                "Missing required parameter: 'messages'.",
                Some("messages"),
            ))
        }
        Some(Value::Array(messages)) if !messages.is_empty() => messages,
        Some(Value::Array(_)) => {
            return Err(BadRequest::new(
                "Invalid 'messages': empty array. Expected an array with minimum length 1.",
                Some("messages"),
            ))
        }
        Some(_) => {
            return Err(BadRequest::new(
                "Invalid type for 'messages': expected an array of objects.",
                Some("messages"),
            ))
        }
    };
    let mut tokens: u64 = 0;
    let mut last_user = None;
    let mut last_role = "";
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str);
        let Some(role) = role.filter(|r| ROLES.contains(r)) else {
            let param = format!("messages[{i}].role");
            return Err(BadRequest::new(
                format!(
                    "Invalid value for '{param}': expected one of 'system', 'developer', \
                     'user', 'assistant', 'tool' or 'function'."
                ),
                Some(&param),
            ));
        };
        let Some(content) = text::content_text(message.get("content")) else {
            let param = format!("messages[{i}].content");
            return Err(BadRequest::new(
                format!("Invalid '{param}': expected a string or an array of content parts."),
                Some(&param),
            ));
        };
        tokens = tokens.saturating_add(3 + text::text_tokens(&content.text));
        if role == "user" {
            last_user = Some(content.with_attachments());
        }
        last_role = role;
    }
    Ok((tokens, last_user, last_role == "tool"))
}

fn response_format(req: &Req) -> Result<Format<'_>> {
    let Some(format) = req.get("response_format").filter(|f| !f.is_null()) else {
        return Ok(Format::Text);
    };
    let invalid = |what: &str| BadRequest::new(what.to_owned(), Some("response_format"));
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(Format::Text),
        Some("json_object") => Ok(Format::JsonObject),
        Some("json_schema") => match format.get("json_schema").and_then(|j| j.get("schema")) {
            Some(schema) if schema.is_object() || schema.is_boolean() => {
                Ok(Format::JsonSchema(schema))
            }
            Some(_) => Err(invalid(
                "Invalid 'response_format.json_schema.schema': expected an object.",
            )),
            None => Ok(Format::JsonSchema(&ANY)),
        },
        _ => Err(invalid(
            "Invalid 'response_format.type': expected 'text', 'json_object' or 'json_schema'.",
        )),
    }
}
