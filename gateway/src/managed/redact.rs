//! PII redaction for trace payloads: e-mail addresses, phone numbers, card-like digit runs
//! and bearer/API-key-like tokens are replaced by a marker naming what was removed.

use std::sync::OnceLock;

use regex::{Captures, Regex};
use serde_json::Value;

struct Patterns {
    bearer: Regex,
    api_key: Regex,
    long_token: Regex,
    email: Regex,
    card: Regex,
    phone: Regex,
}

fn patterns() -> Option<&'static Patterns> {
    static PATTERNS: OnceLock<Option<Patterns>> = OnceLock::new();
    PATTERNS
        .get_or_init(|| {
            Some(Patterns {
                bearer: Regex::new(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+").ok()?,
                api_key: Regex::new(r"\b(?:sk|pk|rk|pg|api|key|tok)[-_][A-Za-z0-9_-]{12,}").ok()?,
                long_token: Regex::new(r"\b[A-Za-z0-9_\-+/]{40,}={0,2}").ok()?,
                email: Regex::new(
                    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
                )
                .ok()?,
                card: Regex::new(r"\b\d(?:[ -]?\d){12,18}\b").ok()?,
                phone: Regex::new(
                    r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){1,4}",
                )
                .ok()?,
            })
        })
        .as_ref()
}

/// The text with every match replaced. Without patterns (they failed to compile, which
/// tests rule out) the whole text is withheld rather than leaked.
pub fn redact_text(text: &str) -> String {
    let Some(p) = patterns() else {
        return "[REDACTED]".to_owned();
    };
    let text = p.bearer.replace_all(text, "[REDACTED_TOKEN]");
    let text = p.api_key.replace_all(&text, "[REDACTED_TOKEN]");
    let text = p.long_token.replace_all(&text, "[REDACTED_TOKEN]");
    let text = p.email.replace_all(&text, "[REDACTED_EMAIL]");
    let text = p.card.replace_all(&text, "[REDACTED_CARD]");
    // Short digit groups (years, counts) are not phone numbers: require seven digits.
    let text = p.phone.replace_all(&text, |c: &Captures| {
        let digits = c[0].bytes().filter(u8::is_ascii_digit).count();
        if digits >= 7 {
            "[REDACTED_PHONE]".to_owned()
        } else {
            c[0].to_owned()
        }
    });
    text.into_owned()
}

/// Redacts every string in a JSON value (object keys are kept).
pub fn redact_value(value: &mut Value) {
    match value {
        Value::String(s) => *s = redact_text(s),
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        Value::Object(map) => map.values_mut().for_each(redact_value),
        _ => {}
    }
}

/// A payload for a trace: JSON redacted string by string, anything else as redacted text.
pub fn redact_payload(body: &[u8]) -> Value {
    match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            redact_value(&mut value);
            value
        }
        Err(_) => Value::String(redact_text(&String::from_utf8_lossy(body))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compile() {
        assert!(patterns().is_some());
    }

    #[test]
    fn redacts_each_kind() {
        let cases = [
            ("mail me at jane.doe+x@example.co.uk today", "jane.doe"),
            ("call +1 (555) 123-4567 now", "123-4567"),
            ("or 555-123-4567", "555-123-4567"),
            ("card 4111 1111 1111 1111 ok", "4111"),
            ("card 4111-1111-1111-1111", "1111"),
            ("Authorization: Bearer abc.def-ghi", "abc.def"),
            ("key sk-proj-abcdefghijklmnop1234", "abcdefghijklmnop"),
            (
                "token ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn",
                "ABCDEFGH",
            ),
        ];
        for (text, secret) in cases {
            let out = redact_text(text);
            assert!(!out.contains(secret), "{text} -> {out}");
            assert!(out.contains("[REDACTED_"), "{text} -> {out}");
        }
    }

    #[test]
    fn keeps_ordinary_text() {
        let text = "In 2024 we shipped 3 releases to 12 teams; version 1.2.3.";
        assert_eq!(redact_text(text), text);
    }

    #[test]
    fn redacts_json_strings_only() {
        let body =
            br#"{"messages":[{"role":"user","content":"I am bob@example.com"}],"max_tokens":5}"#;
        let value = redact_payload(body);
        assert_eq!(value["messages"][0]["content"], "I am [REDACTED_EMAIL]");
        assert_eq!(value["max_tokens"], 5);
        assert_eq!(redact_payload(b"to x@y.io"), "to [REDACTED_EMAIL]");
    }
}
