//! Reply text, words and token estimates of the mock provider.

use serde_json::Value;

use crate::config::raw::MockResponseMode;

/// A deterministic 64-bit FNV-1a hash: stable across runs, platforms and Rust versions.
pub(super) fn hash64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The 16 lowercase hex digits of [`hash64`].
pub(super) fn hex16(bytes: &[u8]) -> String {
    format!("{:016x}", hash64(bytes))
}

/// `ceil(chars / 4)`: the mock's token estimate for a piece of text.
pub(super) fn text_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// The text of a message's `content`, plus how many image and audio parts it carries.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ContentText {
    pub text: String,
    pub images: usize,
    pub audios: usize,
}

impl ContentText {
    /// The text with ` [N image(s)]` / ` [N audio clip(s)]` appended for non-text parts.
    pub fn with_attachments(mut self) -> String {
        for (count, one, many) in [
            (self.images, "image", "images"),
            (self.audios, "audio clip", "audio clips"),
        ] {
            if count > 0 {
                if !self.text.is_empty() {
                    self.text.push(' ');
                }
                let label = if count == 1 { one } else { many };
                self.text.push_str(&format!("[{count} {label}]"));
            }
        }
        self.text
    }
}

/// Reads a `content` field: a string, null, or an array of parts; `None` for anything else.
pub(super) fn content_text(content: Option<&Value>) -> Option<ContentText> {
    match content {
        None | Some(Value::Null) => Some(ContentText::default()),
        Some(Value::String(s)) => Some(ContentText {
            text: s.clone(),
            ..ContentText::default()
        }),
        Some(Value::Array(parts)) => {
            let mut out = ContentText::default();
            for part in parts {
                let part = part.as_object()?;
                match part.get("type").and_then(Value::as_str) {
                    Some("text") | Some("input_text") => {
                        out.text.push_str(part.get("text").and_then(Value::as_str)?);
                    }
                    Some("refusal") => {
                        out.text
                            .push_str(part.get("refusal").and_then(Value::as_str)?);
                    }
                    Some("image_url") | Some("input_image") => out.images += 1,
                    Some("input_audio") => out.audios += 1,
                    Some(_) => {}
                    None => return None,
                }
            }
            Some(out)
        }
        Some(_) => None,
    }
}

/// What the mock answers with, before any format or truncation is applied.
pub(super) fn reply_text(mode: MockResponseMode, fixed: &str, last_user: Option<String>) -> String {
    match mode {
        MockResponseMode::Echo => last_user.unwrap_or_default(),
        MockResponseMode::Fixed => fixed.to_owned(),
    }
}

/// Splits text into words that keep their leading whitespace; whitespace after the last word
/// stays on the last one, so the pieces always concatenate back to exactly `text`.
pub(super) fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut boundary = 0;
    let mut in_word = false;
    let mut seen_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if in_word {
                in_word = false;
                boundary = i;
            }
        } else if !in_word {
            in_word = true;
            if seen_word {
                out.push(&text[start..boundary]);
                start = boundary;
            }
            seen_word = true;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The number of whitespace-separated words in `text`.
pub(super) fn word_count(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// The first `max` words of `text`, and whether anything was cut.
pub(super) fn truncate_words(text: &str, max: Option<u64>) -> (String, bool) {
    let Some(max) = max else {
        return (text.to_owned(), false);
    };
    let pieces = words(text);
    let keep = usize::try_from(max).unwrap_or(usize::MAX);
    if pieces.len() <= keep {
        return (text.to_owned(), false);
    }
    (pieces[..keep].concat(), true)
}

/// Splits `s` into pieces of about `size` bytes, never inside a UTF-8 character.
pub(super) fn fragments(s: &str, size: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let mut end = size.max(1).min(rest.len());
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        let (head, tail) = rest.split_at(end);
        out.push(head);
        rest = tail;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn words_keep_their_whitespace_and_concatenate_back() {
        for text in [
            "",
            " ",
            "hi",
            " hi",
            "hi ",
            "a  b\nc ",
            "  lead and trail  ",
            "é ü ñ",
        ] {
            let pieces = words(text);
            assert_eq!(pieces.concat(), text, "{text:?}");
            assert_eq!(
                pieces.iter().filter(|p| !p.trim().is_empty()).count() as u64,
                word_count(text)
            );
        }
        assert_eq!(words("a  b\nc "), vec!["a", "  b", "\nc "]);
    }

    #[test]
    fn truncation_counts_words() {
        assert_eq!(
            truncate_words("one two three", Some(2)),
            ("one two".into(), true)
        );
        assert_eq!(
            truncate_words("one two", Some(2)),
            ("one two".into(), false)
        );
        assert_eq!(truncate_words("one two", None), ("one two".into(), false));
    }

    #[test]
    fn content_parts_are_read() {
        let parts = json!([
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "data:"}},
            {"type": "text", "text": " here"},
            {"type": "image_url", "image_url": {"url": "data:"}},
            {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}
        ]);
        let text = content_text(Some(&parts)).unwrap().with_attachments();
        assert_eq!(text, "look here [2 images] [1 audio clip]");
        assert!(content_text(Some(&json!(5))).is_none());
        assert!(content_text(Some(&json!([{"type": "text"}]))).is_none());
    }

    #[test]
    fn fragments_respect_char_boundaries() {
        let s = "{\"k\":\"ééééééé\"}";
        let parts = fragments(s, 8);
        assert_eq!(parts.concat(), s);
        assert!(parts.len() > 1);
    }

    #[test]
    fn hash_is_stable() {
        assert_eq!(hex16(b""), "cbf29ce484222325");
        assert_eq!(hex16(b"abc").len(), 16);
    }
}
