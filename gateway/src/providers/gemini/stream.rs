//! Gemini's SSE stream (`streamGenerateContent?alt=sse`) → OpenAI `chat.completion.chunk`s.
//!
//! Every Gemini event is a whole `GenerateContentResponse` holding the next piece of each
//! candidate, with the usage so far. Gemini sends no `[DONE]`: its last event carries the
//! `finishReason` of every candidate and the final usage, so the client stream is closed
//! (usage chunk, `[DONE]`) when every choice has finished.

use serde::Serialize;

use super::error::{stream_error_event, GoogleError};
use super::response::{
    completion_id, finish_reason, unix_now, CallIds, ExtraOut, Pieces, ToolCallOut, UsageOut,
};
use super::wire::{GenerateContentResponse, UsageMetadata};
use crate::openai::sse::SseEvent;
use crate::openai::usage::Usage;
use crate::providers::StreamTranslator;

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: Vec<ChunkChoice<'a>>,
    /// With `include_usage`: `null` on every chunk but the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<UsageOut>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: usize,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Default, Serialize)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCallDelta<'a>>,
}

/// The first delta of a call carries its id, name and empty arguments; the second the
/// arguments, as OpenAI streams them.
#[derive(Serialize)]
struct ToolCallDelta<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDelta<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extra_content: Option<&'a ExtraOut>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

pub struct GeminiStream {
    /// The client asked for `stream_options.include_usage`.
    include_usage: bool,
    id: String,
    model: String,
    created: u64,
    ids: CallIds,
    choices: Vec<ChoiceState>,
    usage: Option<UsageMetadata>,
    /// `[DONE]` was written, or an error ended the stream: later events are dropped.
    closed: bool,
    content_events: u64,
}

#[derive(Default, Clone, Copy)]
struct ChoiceState {
    started: bool,
    tool_calls: u32,
    finished: bool,
}

impl GeminiStream {
    pub fn new(include_usage: bool) -> Self {
        GeminiStream {
            include_usage,
            id: String::new(),
            model: String::new(),
            created: unix_now(),
            ids: CallIds::new(),
            choices: Vec::new(),
            usage: None,
            closed: false,
            content_events: 0,
        }
    }

    fn state(&mut self, index: usize) -> &mut ChoiceState {
        if self.choices.len() <= index {
            self.choices.resize(index + 1, ChoiceState::default());
        }
        &mut self.choices[index]
    }

    /// Writes one `data: {chunk}` event.
    fn emit(&self, out: &mut Vec<u8>, choices: Vec<ChunkChoice>, usage: Option<UsageOut>) {
        let chunk = Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices,
            usage: self.include_usage.then_some(usage),
        };
        out.extend_from_slice(b"data: ");
        if serde_json::to_writer(&mut *out, &chunk).is_err() {
            out.extend_from_slice(b"{}");
        }
        out.extend_from_slice(b"\n\n");
    }

    fn delta(&self, out: &mut Vec<u8>, index: usize, delta: Delta, finish: Option<&'static str>) {
        let choice = ChunkChoice {
            index,
            delta,
            logprobs: None,
            finish_reason: finish,
        };
        self.emit(out, vec![choice], None);
    }

    /// The role chunk that opens a choice, once.
    fn start(&mut self, out: &mut Vec<u8>, index: usize) {
        if !self.state(index).started {
            self.state(index).started = true;
            let delta = Delta {
                role: Some("assistant"),
                content: Some(""),
                ..Delta::default()
            };
            self.delta(out, index, delta, None);
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>, index: usize, reason: &str) {
        let state = self.state(index);
        if !state.finished {
            state.finished = true;
            let reason = finish_reason(reason, state.tool_calls > 0);
            self.delta(out, index, Delta::default(), Some(reason));
        }
    }

    fn tool_call(&mut self, out: &mut Vec<u8>, index: usize, call: &ToolCallOut) {
        let n = self.state(index).tool_calls;
        self.state(index).tool_calls += 1;
        let head = ToolCallDelta {
            index: n,
            id: Some(&call.id),
            kind: Some(call.kind),
            function: FunctionDelta {
                name: Some(&call.function.name),
                arguments: "",
            },
            extra_content: call.extra_content.as_ref(),
        };
        let arguments = ToolCallDelta {
            index: n,
            id: None,
            kind: None,
            function: FunctionDelta {
                name: None,
                arguments: &call.function.arguments,
            },
            extra_content: None,
        };
        for call in [head, arguments] {
            let delta = Delta {
                tool_calls: vec![call],
                ..Delta::default()
            };
            self.delta(out, index, delta, None);
        }
    }

    fn on_response(&mut self, response: GenerateContentResponse, out: &mut Vec<u8>) {
        if self.id.is_empty() {
            self.id = completion_id(response.response_id.as_deref());
            self.model = response.model_version.unwrap_or_else(|| "gemini".into());
        }
        if response.usage_metadata.is_some() {
            self.usage = response.usage_metadata;
        }
        let mut content = false;
        for (position, candidate) in response.candidates.iter().enumerate() {
            let index = candidate.index.map_or(position, |i| i as usize);
            self.start(out, index);
            let pieces = Pieces::of(candidate.content.as_ref(), &mut self.ids);
            if !pieces.text.is_empty() {
                content = true;
                let delta = Delta {
                    content: Some(&pieces.text),
                    ..Delta::default()
                };
                self.delta(out, index, delta, None);
            }
            for call in &pieces.tool_calls {
                content = true;
                self.tool_call(out, index, call);
            }
            if let Some(reason) = &candidate.finish_reason {
                self.finish(out, index, reason);
            }
        }
        let blocked = response
            .prompt_feedback
            .as_ref()
            .is_some_and(|f| f.block_reason.is_some());
        if response.candidates.is_empty() && blocked {
            self.start(out, 0);
            self.finish(out, 0, "SAFETY");
        }
        if content {
            self.content_events += 1;
        }
    }

    /// Every choice that started has finished: the usage is final and the stream ends.
    fn all_finished(&self) -> bool {
        self.choices.iter().any(|c| c.started)
            && self.choices.iter().all(|c| !c.started || c.finished)
    }

    fn close(&mut self, out: &mut Vec<u8>, usage: &mut Option<Usage>) {
        self.closed = true;
        if let Some(metadata) = self.usage {
            *usage = Some(metadata.usage());
            if self.include_usage {
                self.emit(out, Vec::new(), Some(metadata.to_openai()));
            }
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
    }
}

impl StreamTranslator for GeminiStream {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<u8>, usage: &mut Option<Usage>) {
        if self.closed || event.data.is_empty() || event.is_done() {
            return;
        }
        // Cheap pre-check: only an event that mentions "error" can be one.
        if memchr::memmem::find(&event.data, b"\"error\"").is_some() {
            if let Some(error) = GoogleError::parse(&event.data) {
                self.closed = true;
                out.extend_from_slice(&stream_error_event(&error));
                return;
            }
        }
        match serde_json::from_slice::<GenerateContentResponse>(&event.data) {
            Ok(response) => self.on_response(response, out),
            Err(e) => tracing::debug!(error = %e, "unreadable Gemini stream event skipped"),
        }
        if self.all_finished() {
            self.close(out, usage);
        }
    }

    fn content_events(&self) -> u64 {
        self.content_events
    }
}
