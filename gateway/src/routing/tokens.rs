//! The prompt's token count before the call, for routing policies that weigh cost.
//!
//! Text is counted with OpenAI's `o200k_base` encoding (GPT-4o and later; other vendors'
//! tokenizers differ by some percent, which a pre-call estimate tolerates). Chat messages
//! follow OpenAI's published accounting: 3 tokens per message, plus its role, content and
//! name (`name` adds one more), plus 3 that prime the reply. An image part counts as 85
//! tokens (a low-detail image; the real figure depends on its size and detail). Tool
//! definitions count as the tokens of their JSON. `prompt` (completions) and `input`
//! (embeddings, responses) count their strings.
//!
//! The encoding's tables cost about 50 MB of memory, so they are loaded only when a snapshot
//! compiles a policy that needs the estimate ([`preload`], in the background); until they are
//! ready, and for a body that is not the expected JSON, the count falls back to one token per
//! four bytes.

use std::borrow::Cow;
use std::cell::RefCell;
use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::value::RawValue;
use tiktoken_rs::CoreBPE;

/// Tokens per chat message before its fields (OpenAI's accounting for current models).
const TOKENS_PER_MESSAGE: u64 = 3;
/// Tokens that prime the assistant's reply.
const REPLY_PRIMING_TOKENS: u64 = 3;
/// Tokens assumed for one image part.
const IMAGE_TOKENS: u64 = 85;

static ENCODING: OnceLock<Option<CoreBPE>> = OnceLock::new();

/// Loads the encoding in the background, once; later calls return at once.
pub fn preload() {
    if ENCODING.get().is_some() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("promptgate-tokenizer".into())
        .spawn(encoding);
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start the tokenizer loader; prompt tokens are estimated from bytes");
    }
}

/// The encoding, loading it on first use; `None` when it failed to load (logged once).
fn encoding() -> Option<&'static CoreBPE> {
    ENCODING
        .get_or_init(|| match tiktoken_rs::o200k_base() {
            Ok(bpe) => Some(bpe),
            Err(e) => {
                tracing::warn!(error = %e, "o200k_base failed to load; prompt tokens are estimated from bytes");
                None
            }
        })
        .as_ref()
}

/// The estimated prompt tokens of an OpenAI request body.
pub fn prompt_tokens(body: &[u8]) -> u64 {
    let bytes_estimate = (body.len() / 4) as u64;
    // Never block a request on the load: the bytes estimate serves until it is ready.
    let Some(Some(bpe)) = ENCODING.get() else {
        return bytes_estimate;
    };
    match serde_json::from_slice::<Prompt>(body) {
        Ok(prompt) => prompt.tokens(&|text| cached_count(bpe, text)),
        Err(_) => bytes_estimate,
    }
}

/// Slots of the per-thread cache of recent texts' counts (a power of two).
const CACHE_SLOTS: usize = 1024;

/// A direct-mapped cache of token counts by a keyed hash of the text and its length:
/// system prompts and few-shot examples repeat on every request, and encoding them again
/// costs far more than hashing them. The key is random per thread, so clients cannot craft
/// collisions; a collision would only skew one routing estimate, never billing.
struct CountCache {
    hasher: RandomState,
    slots: Vec<(u64, usize, u64)>,
}

thread_local! {
    static COUNTS: RefCell<CountCache> = RefCell::new(CountCache {
        hasher: RandomState::new(),
        slots: vec![(0, usize::MAX, 0); CACHE_SLOTS],
    });
}

fn cached_count(bpe: &CoreBPE, text: &str) -> u64 {
    if let Some(tokens) = role_tokens(text) {
        return tokens;
    }
    COUNTS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let hash = cache.hasher.hash_one(text);
        let slot = (hash as usize) & (CACHE_SLOTS - 1);
        if let Some(&(h, len, tokens)) = cache.slots.get(slot) {
            if h == hash && len == text.len() {
                return tokens;
            }
        }
        let tokens = bpe.encode_ordinary(text).len() as u64;
        if let Some(entry) = cache.slots.get_mut(slot) {
            *entry = (hash, text.len(), tokens);
        }
        tokens
    })
}

/// The standard chat roles are one token each in `o200k_base` (checked by a test).
fn role_tokens(text: &str) -> Option<u64> {
    matches!(
        text,
        "system" | "user" | "assistant" | "tool" | "developer" | "function"
    )
    .then_some(1)
}

/// Counts the prompt with the encoding, loading it first if need be (tests).
#[cfg(test)]
pub fn prompt_tokens_blocking(body: &[u8]) -> u64 {
    encoding();
    prompt_tokens(body)
}

#[derive(Deserialize)]
struct Prompt<'a> {
    #[serde(default, borrow)]
    messages: Vec<Message<'a>>,
    #[serde(default, borrow)]
    prompt: Option<&'a RawValue>,
    #[serde(default, borrow)]
    input: Option<&'a RawValue>,
    #[serde(default, borrow)]
    tools: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(default, borrow)]
    role: Cow<'a, str>,
    #[serde(default, borrow)]
    content: Option<&'a RawValue>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
}

/// A content part (`{"type":"text","text":..}`, an image, a tool result's `content`).
#[derive(Deserialize)]
struct Part<'a> {
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    content: Option<&'a RawValue>,
    #[serde(default)]
    image_url: Option<serde::de::IgnoredAny>,
}

type Count<'f> = dyn Fn(&str) -> u64 + 'f;

impl Prompt<'_> {
    fn tokens(&self, count: &Count) -> u64 {
        let mut total = 0;
        if !self.messages.is_empty() {
            total += REPLY_PRIMING_TOKENS;
            for m in &self.messages {
                total += TOKENS_PER_MESSAGE + count(&m.role);
                total += m.content.map_or(0, |c| texts(c, count));
                total += m.name.as_ref().map_or(0, |n| 1 + count(n));
            }
        }
        for raw in [self.prompt, self.input].into_iter().flatten() {
            total += texts(raw, count);
        }
        total + self.tools.map_or(0, |t| count(t.get()))
    }
}

/// The tokens of a string, a list of strings or content parts (nested as tool results
/// nest them); any other value (token ids, numbers) counts one token per four bytes.
fn texts(raw: &RawValue, count: &Count) -> u64 {
    let json = raw.get();
    let by_size = (json.len() / 4) as u64;
    match json.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<Cow<str>>(json).map_or(by_size, |t| count(&t)),
        Some(b'[') => serde_json::from_str::<Vec<&RawValue>>(json)
            .map_or(by_size, |items| items.iter().map(|i| texts(i, count)).sum()),
        Some(b'{') => serde_json::from_str::<Part>(json).map_or(by_size, |p| {
            let image = if p.image_url.is_some() {
                IMAGE_TOKENS
            } else {
                0
            };
            image
                + p.text.as_ref().map_or(0, |t| count(t))
                + p.content.map_or(0, |c| texts(c, count))
        }),
        Some(b'n') => 0,
        _ => by_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(body: &str) -> u64 {
        prompt_tokens_blocking(body.as_bytes())
    }

    #[test]
    fn roles_are_one_token_and_cached_counts_match_the_encoding() {
        prompt_tokens_blocking(b"{}");
        let bpe = encoding().unwrap();
        for role in [
            "system",
            "user",
            "assistant",
            "tool",
            "developer",
            "function",
        ] {
            assert_eq!(bpe.encode_ordinary(role).len(), 1, "{role}");
        }
        let texts = [
            "hello world".to_owned(),
            "hello world ".repeat(50),
            "x".to_owned(),
        ];
        for text in texts.iter().chain(texts.iter()) {
            assert_eq!(
                cached_count(bpe, text),
                bpe.encode_ordinary(text).len() as u64
            );
        }
    }

    #[test]
    fn plain_text_uses_o200k_base() {
        // Reference counts from OpenAI's tiktoken (o200k_base).
        assert_eq!(tokens(r#"{"input":"hello world"}"#), 2);
        assert_eq!(tokens(r#"{"prompt":["hello world","hello world"]}"#), 4);
        // A long text: far fewer tokens than bytes / 4 would say for repeated words.
        let long = format!(r#"{{"input":"{}"}}"#, "hello world ".repeat(100));
        assert_eq!(tokens(&long), 201);
    }

    #[test]
    fn chat_messages_follow_openai_accounting() {
        // 3 (priming) + 3 (message) + 1 ("user") + 2 ("hello world").
        let one = r#"{"model":"m","messages":[{"role":"user","content":"hello world"}]}"#;
        assert_eq!(tokens(one), 9);
        // Content parts: text parts counted, an image adds 85; a name adds 1 + its tokens.
        let parts = r#"{"messages":[{"role":"user","name":"bob","content":[
            {"type":"text","text":"hello world"},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}"#;
        assert_eq!(tokens(parts), 9 + 85 + 1 + 1);
        // Escapes are decoded before counting.
        let escaped = r#"{"messages":[{"role":"user","content":"hello\u0020world"}]}"#;
        assert_eq!(tokens(escaped), 9);
    }

    #[test]
    fn tools_count_and_odd_bodies_fall_back_to_bytes() {
        let with_tools = r#"{"messages":[{"role":"user","content":"hello world"}],"tools":[{"type":"function"}]}"#;
        assert!(tokens(with_tools) > 9);
        let not_json = "x".repeat(400);
        assert_eq!(tokens(&not_json), 100);
        // A content of an unexpected type counts by size instead of failing.
        let odd = r#"{"messages":[{"role":"user","content":12345678}]}"#;
        assert_eq!(tokens(odd), 3 + 3 + 1 + 2);
    }
}
