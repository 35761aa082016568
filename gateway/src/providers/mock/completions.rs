//! `/v1/completions`: `text_completion` objects, whole and streamed.

use bytes::Bytes;
use serde_json::{json, Value};

use super::request::{self, BadRequest, Ctx, Output, Req, Result};
use super::text;
use crate::config::raw::MockResponseMode;

/// One prompt: its text (token prompts become their numbers joined by spaces) and tokens.
pub(super) struct Prompt {
    pub text: String,
    pub tokens: u64,
}

struct Choice {
    /// The generated words only.
    generated: String,
    /// What the client sees: `generated`, after the prompt when `echo` is true.
    text: String,
    finish: &'static str,
}

/// Reads `input` of embeddings or `prompt` of completions: a string, an array of strings, an
/// array of token ids, or an array of arrays of token ids.
pub(super) fn prompts(req: &Req, key: &str) -> Result<Vec<Prompt>> {
    let invalid = || {
        BadRequest::new(
            format!(
                "Invalid '{key}': expected a string, an array of strings, an array of integers \
                 or an array of arrays of integers."
            ),
            Some(key),
        )
    };
    let tokens = |items: &[Value]| -> Option<Prompt> {
        let ids: Option<Vec<String>> = items
            .iter()
            .map(|t| t.as_u64().map(|t| t.to_string()))
            .collect();
        ids.map(|ids| Prompt {
            text: ids.join(" "),
            tokens: items.len() as u64,
        })
    };
    let from_text = |s: &str| Prompt {
        text: s.to_owned(),
        tokens: text::text_tokens(s),
    };
    match req.get(key) {
        None | Some(Value::Null) => Err(BadRequest::new(
            format!("Missing required parameter: '{key}'."),
            Some(key),
        )),
        Some(Value::String(s)) => Ok(vec![from_text(s)]),
        Some(Value::Array(items)) if items.is_empty() => Err(invalid()),
        Some(Value::Array(items)) => match &items[0] {
            Value::String(_) => items
                .iter()
                .map(|i| i.as_str().map(from_text))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(invalid),
            Value::Number(_) => tokens(items).map(|p| vec![p]).ok_or_else(invalid),
            Value::Array(_) => items
                .iter()
                .map(|i| i.as_array().and_then(|t| tokens(t)))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(invalid),
            _ => Err(invalid()),
        },
        Some(_) => Err(invalid()),
    }
}

/// Answers one completions request, whole or streamed.
pub(super) fn respond(req: &Req, ctx: &Ctx<'_>, stream: bool) -> Result<Output> {
    let model = request::model(req)?;
    let prompts = prompts(req, "prompt")?;
    let n = request::choices(req)?;
    let max_words = request::opt_uint(req, "max_tokens", 0, u64::MAX)?;
    let echo = request::opt_bool(req, "echo")?.unwrap_or(false);
    let include_usage = request::include_usage(req)?;
    let mut choices = Vec::with_capacity(prompts.len() * n);
    for prompt in &prompts {
        let reply = match ctx.mode {
            MockResponseMode::Echo => prompt.text.as_str(),
            MockResponseMode::Fixed => ctx.fixed_text,
        };
        let (generated, cut) = text::truncate_words(reply, max_words);
        let text = if echo {
            format!("{}{generated}", prompt.text)
        } else {
            generated.clone()
        };
        let finish = if cut { "length" } else { "stop" };
        for _ in 0..n {
            choices.push(Choice {
                generated: generated.clone(),
                text: text.clone(),
                finish,
            });
        }
    }
    let prompt_tokens = prompts
        .iter()
        .map(|p| p.tokens)
        .fold(0, u64::saturating_add);
    let completion_tokens = choices
        .iter()
        .map(|c| text::word_count(&c.generated).max(1))
        .fold(0, u64::saturating_add);
    let usage = request::usage(prompt_tokens, completion_tokens);
    let id = format!("cmpl-mock-{}", ctx.hash);
    let object = |choices: Vec<Value>| {
        json!({
            "id": id,
            "object": "text_completion",
            "created": ctx.created,
            "model": model,
            "system_fingerprint": "fp_mock",
            "choices": choices,
        })
    };
    let choice = |index: usize, text: &str, finish: Option<&str>| json!({"text": text, "index": index, "logprobs": null, "finish_reason": finish});
    if !stream {
        let all = choices
            .iter()
            .enumerate()
            .map(|(i, c)| choice(i, &c.text, Some(c.finish)))
            .collect();
        let mut whole = object(all);
        whole["usage"] = usage;
        return Ok(Output::Json(whole));
    }
    let mut events: Vec<Bytes> = Vec::new();
    let mut push = |value: Value| {
        let mut value = value;
        if include_usage {
            value["usage"] = Value::Null;
        }
        events.push(request::sse(&value));
    };
    let groups: Vec<Vec<String>> = choices
        .iter()
        .map(|c| {
            let words = text::words(&c.text);
            words
                .chunks(ctx.words_per_chunk.max(1))
                .map(|g| g.concat())
                .collect()
        })
        .collect();
    let rounds = groups.iter().map(Vec::len).max().unwrap_or(0);
    for round in 0..rounds {
        for (index, group) in groups.iter().enumerate() {
            if let Some(text) = group.get(round) {
                push(object(vec![choice(index, text, None)]));
            }
        }
    }
    for (index, c) in choices.iter().enumerate() {
        push(object(vec![choice(index, "", Some(c.finish))]));
    }
    if include_usage {
        let mut last = object(Vec::new());
        last["usage"] = usage;
        events.push(request::sse(&last));
    }
    events.push(request::done());
    Ok(Output::Sse(events))
}
