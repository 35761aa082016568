//! Token usage as providers report it, and its extraction from OpenAI-shaped bodies.

use serde::Deserialize;

/// Token counts of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Prompt tokens served from the provider's prompt cache (a subset of `prompt_tokens`).
    pub cached_tokens: u64,
    /// Reasoning tokens (a subset of `completion_tokens`).
    pub reasoning_tokens: u64,
    /// True when the counts are the gateway's estimate, not the provider's report.
    pub estimated: bool,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default, alias = "input_tokens")]
    prompt_tokens: u64,
    #[serde(default, alias = "output_tokens")]
    completion_tokens: u64,
    #[serde(default, alias = "input_tokens_details")]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default, alias = "output_tokens_details")]
    completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct WithUsage {
    #[serde(default)]
    usage: Option<WireUsage>,
}

/// A response of the Responses API carries usage inside `response` in stream events.
#[derive(Deserialize)]
struct WithResponseUsage {
    #[serde(default)]
    response: Option<WithUsage>,
}

impl From<WireUsage> for Usage {
    fn from(w: WireUsage) -> Self {
        Usage {
            prompt_tokens: w.prompt_tokens,
            completion_tokens: w.completion_tokens,
            cached_tokens: w
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            reasoning_tokens: w
                .completion_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
            estimated: false,
        }
    }
}

impl Usage {
    /// The `usage` of an OpenAI-shaped JSON body (chat, completions, embeddings, responses).
    pub fn from_body(body: &[u8]) -> Option<Usage> {
        // Fast path: providers put `usage` last; parse just that object when it is a
        // complete `{...}` ending the body.
        if let Some(usage) = trailing_usage(body) {
            return Some(usage);
        }
        if let Ok(WithUsage { usage: Some(u) }) = serde_json::from_slice::<WithUsage>(body) {
            return Some(u.into());
        }
        None
    }

    /// Usage carried by one streamed event, if any (chat chunks or Responses API events).
    pub fn from_stream_event(data: &[u8]) -> Option<Usage> {
        // Cheap pre-check: almost every chunk has no usage object.
        memchr::memmem::find(data, b"\"usage\":{")
            .or_else(|| memchr::memmem::find(data, b"\"usage\": {"))?;
        if let Some(u) = Usage::from_body(data) {
            return Some(u);
        }
        serde_json::from_slice::<WithResponseUsage>(data)
            .ok()?
            .response?
            .usage
            .map(Usage::from)
    }

    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// The usage object when the body ends with `"usage":{...}}`: parsed on its own, so the rest
/// of a large response is not scanned. Anything unexpected returns `None` (full parse).
fn trailing_usage(body: &[u8]) -> Option<Usage> {
    const KEY: &[u8] = b"\"usage\":";
    let start = memchr::memmem::rfind(body, KEY)? + KEY.len();
    let rest = body[start..].trim_ascii();
    let object = rest.strip_suffix(b"}")?.trim_ascii_end();
    if !object.starts_with(b"{") || !object.ends_with(b"}") {
        return None;
    }
    serde_json::from_slice::<WireUsage>(object)
        .ok()
        .map(Usage::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_chat_usage_with_details() {
        let body = br#"{"id":"x","usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,
            "prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}}"#;
        let usage = Usage::from_body(body).unwrap();
        assert_eq!(
            usage,
            Usage {
                prompt_tokens: 10,
                completion_tokens: 5,
                cached_tokens: 4,
                reasoning_tokens: 2,
                estimated: false
            }
        );
        assert_eq!(usage.total_tokens(), 15);
    }

    #[test]
    fn reads_embeddings_and_responses_usage() {
        let emb = br#"{"data":[],"usage":{"prompt_tokens":8,"total_tokens":8}}"#;
        assert_eq!(Usage::from_body(emb).unwrap().prompt_tokens, 8);
        let resp = br#"{"usage":{"input_tokens":3,"output_tokens":7,"output_tokens_details":{"reasoning_tokens":1}}}"#;
        let u = Usage::from_body(resp).unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.reasoning_tokens),
            (3, 7, 1)
        );
    }

    #[test]
    fn stream_events() {
        assert!(Usage::from_stream_event(
            br#"{"choices":[{"delta":{"content":"hi"}}],"usage":null}"#
        )
        .is_none());
        let last = br#"{"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3}}"#;
        assert_eq!(Usage::from_stream_event(last).unwrap().completion_tokens, 3);
        let completed = br#"{"type":"response.completed","response":{"usage":{"input_tokens":4,"output_tokens":6}}}"#;
        assert_eq!(
            Usage::from_stream_event(completed).unwrap().prompt_tokens,
            4
        );
    }

    #[test]
    fn trailing_fast_path_agrees_with_full_parse() {
        let body = br#"{"id":"x","choices":[{"message":{"content":"\"usage\":{\"prompt_tokens\":99}"}}],"usage":{"prompt_tokens":3,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":1}}}"#;
        let fast = trailing_usage(body).unwrap();
        let full: WithUsage = serde_json::from_slice(body).unwrap();
        assert_eq!(fast, Usage::from(full.usage.unwrap()));
        assert_eq!(fast.prompt_tokens, 3);
        // usage not last: the fast path declines and the full parse still finds it
        let body = br#"{"usage":{"prompt_tokens":5,"completion_tokens":1},"id":"x"}"#;
        assert!(trailing_usage(body).is_none());
        assert_eq!(Usage::from_body(body).unwrap().prompt_tokens, 5);
    }

    #[test]
    fn garbage_is_none() {
        assert!(Usage::from_body(b"not json").is_none());
        assert!(Usage::from_body(br#"{"usage":"x"}"#).is_none());
    }
}
