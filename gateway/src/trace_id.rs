//! Trace ids: the client's W3C `traceparent` trace id when it sent one, else a new random one.

use http::HeaderMap;

/// A 32-hex-digit trace id.
pub fn from_headers(headers: &HeaderMap) -> String {
    headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_traceparent)
        .unwrap_or_else(new_trace_id)
}

fn parse_traceparent(value: &str) -> Option<String> {
    let mut parts = value.trim().split('-');
    let version = parts.next()?;
    let trace = parts.next()?;
    let span = parts.next()?;
    let flags = parts.next()?;
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    if !hex(version, 2) || version == "ff" || !hex(trace, 32) || !hex(span, 16) || !hex(flags, 2) {
        return None;
    }
    if trace.bytes().all(|b| b == b'0') {
        return None;
    }
    Some(trace.to_owned())
}

pub fn new_trace_id() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(1..))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_valid_traceparent_else_new() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        assert_eq!(from_headers(&headers), "4bf92f3577b34da6a3ce929d0e0e4736");
        headers.insert(
            "traceparent",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        assert_ne!(from_headers(&headers), "00000000000000000000000000000000");
        headers.insert("traceparent", "garbage".parse().unwrap());
        let id = from_headers(&headers);
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
