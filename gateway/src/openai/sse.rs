//! An incremental server-sent-events splitter.
//!
//! Bytes arrive in arbitrary chunks; [`SseSplitter::push`] returns every event completed by the
//! new bytes, however the events were split, and keeps the unfinished tail for the next call.
//! Events end at a blank line (`\n\n`, `\r\n\r\n`, `\r\r` or mixed), as the SSE spec says.

use bytes::{Bytes, BytesMut};

/// One complete event: its raw bytes (including the terminating blank line) and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The event exactly as received, terminator included; forwarding it keeps the stream as is.
    pub raw: Bytes,
    /// The `event:` field, if any.
    pub event: Option<Bytes>,
    /// The `data:` lines joined by `\n`, as the spec defines.
    pub data: Bytes,
}

impl SseEvent {
    pub fn is_done(&self) -> bool {
        self.data.as_ref() == b"[DONE]"
    }
}

/// Splits a byte stream into SSE events.
#[derive(Debug, Default)]
pub struct SseSplitter {
    buf: BytesMut,
    /// How far `buf` has already been scanned for a terminator.
    scanned: usize,
}

/// The largest unfinished event the splitter keeps before giving up on the stream.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("server-sent event larger than {MAX_EVENT_BYTES} bytes")]
pub struct EventTooLarge;

impl SseSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes and returns the events they complete.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), EventTooLarge> {
        self.buf.extend_from_slice(chunk);
        while let Some(end) = find_event_end(&self.buf, self.scanned) {
            let raw = self.buf.split_to(end).freeze();
            self.scanned = 0;
            if let Some(event) = parse_event(raw) {
                out.push(event);
            }
        }
        // Resume one byte early: a terminator may straddle the boundary.
        self.scanned = self.buf.len().saturating_sub(3);
        if self.buf.len() > MAX_EVENT_BYTES {
            return Err(EventTooLarge);
        }
        Ok(())
    }

    /// Bytes of an event that has not been terminated yet (a stream cut short leaves these).
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }
}

/// The index just past the first blank line at or after `from`.
fn find_event_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < buf.len() {
        let pos = memchr::memchr2(b'\n', b'\r', &buf[i..])? + i;
        // pos ends a line; see whether the next line is empty.
        let next = line_end_len(buf, pos)?;
        let after = pos + next;
        match buf.get(after) {
            Some(b'\n') => return Some(after + 1),
            Some(b'\r') => match buf.get(after + 1) {
                Some(b'\n') => return Some(after + 2),
                Some(_) => return Some(after + 1),
                // "\r" at the very end: could be "\r\n", wait for more bytes.
                None => return None,
            },
            Some(_) => i = after,
            None => return None,
        }
    }
    None
}

/// The length of the line terminator at `pos` (1 or 2); None if "\r" is the last byte seen.
fn line_end_len(buf: &[u8], pos: usize) -> Option<usize> {
    match (buf[pos], buf.get(pos + 1)) {
        (b'\r', Some(b'\n')) => Some(2),
        (b'\r', None) => None,
        _ => Some(1),
    }
}

fn parse_event(raw: Bytes) -> Option<SseEvent> {
    let mut data = BytesMut::new();
    let mut data_lines = 0usize;
    let mut event = None;
    let mut single_data: Option<Bytes> = None;
    for line in split_lines(&raw) {
        if line.is_empty() || line[0] == b':' {
            continue;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                data_lines += 1;
                if data_lines == 1 {
                    single_data = Some(raw.slice_ref(value));
                } else {
                    if data_lines == 2 {
                        data.extend_from_slice(single_data.as_deref().unwrap_or_default());
                    }
                    data.extend_from_slice(b"\n");
                    data.extend_from_slice(value);
                }
            }
            b"event" => event = Some(raw.slice_ref(value)),
            _ => {}
        }
    }
    if data_lines == 0 && event.is_none() {
        // Comments and keep-alives carry nothing, but are still forwarded by callers that
        // care; represent them as an event with empty data.
        return Some(SseEvent {
            raw,
            event: None,
            data: Bytes::new(),
        });
    }
    let data = if data_lines > 1 {
        data.freeze()
    } else {
        single_data.unwrap_or_default()
    };
    Some(SseEvent { raw, event, data })
}

fn split_lines(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = raw;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match memchr::memchr2(b'\n', b'\r', rest) {
            Some(pos) => {
                let line = &rest[..pos];
                let skip = if rest[pos] == b'\r' && rest.get(pos + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                rest = &rest[pos + skip..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = &[];
                Some(line)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut splitter = SseSplitter::new();
        let mut out = Vec::new();
        for chunk in chunks {
            splitter.push(chunk, &mut out).unwrap();
        }
        out
    }

    const STREAM: &[u8] =
        b"data: {\"a\":1}\n\n: keep-alive\n\nevent: ping\ndata: x\ndata: y\n\ndata: [DONE]\n\n";

    #[test]
    fn splits_whole_stream() {
        let events = split_all(&[STREAM]);
        assert_eq!(events.len(), 4);
        assert_eq!(events[0].data.as_ref(), b"{\"a\":1}");
        assert_eq!(events[0].raw.as_ref(), b"data: {\"a\":1}\n\n");
        assert!(events[1].data.is_empty());
        assert_eq!(events[2].event.as_deref(), Some(&b"ping"[..]));
        assert_eq!(events[2].data.as_ref(), b"x\ny");
        assert!(events[3].is_done());
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let whole = split_all(&[STREAM]);
        for i in 0..=STREAM.len() {
            for j in i..=STREAM.len() {
                let parts = split_all(&[&STREAM[..i], &STREAM[i..j], &STREAM[j..]]);
                assert_eq!(parts, whole, "split at {i},{j}");
            }
        }
    }

    #[test]
    fn crlf_and_cr_terminators() {
        let events = split_all(&[b"data: a\r\n\r\ndata: b\r\rdata: c\n\r\n"]);
        let data: Vec<_> = events.iter().map(|e| e.data.clone()).collect();
        assert_eq!(
            data,
            vec![Bytes::from("a"), Bytes::from("b"), Bytes::from("c")]
        );
    }

    #[test]
    fn crlf_split_between_cr_and_lf() {
        let events = split_all(&[b"data: a\r\n\r", b"\ndata: b\r\n\r\n"]);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].raw.as_ref(), b"data: a\r\n\r\n");
    }

    #[test]
    fn unfinished_event_stays_pending() {
        let mut splitter = SseSplitter::new();
        let mut out = Vec::new();
        splitter.push(b"data: a\n\ndata: par", &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(splitter.pending(), b"data: par");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_conserve_bytes(
            bytes in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), Just(b':'), Just(b'd'), any::<u8>()], 0..200),
            cut in 0usize..200,
        ) {
            let cut = cut.min(bytes.len());
            let mut splitter = SseSplitter::new();
            let mut out = Vec::new();
            splitter.push(&bytes[..cut], &mut out).unwrap();
            splitter.push(&bytes[cut..], &mut out).unwrap();
            let mut joined: Vec<u8> = out.iter().flat_map(|e| e.raw.to_vec()).collect();
            joined.extend_from_slice(splitter.pending());
            prop_assert_eq!(joined, bytes);
        }
    }
}
