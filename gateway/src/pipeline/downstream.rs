//! The client side of an exchange, as the pipeline sees it: a head, then body chunks.
//! The Pingora session implements it in `server`; tests implement it with a buffer.

use std::future::Future;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};

/// A response head written by the pipeline.
#[derive(Debug)]
pub struct ResponseHead {
    pub status: StatusCode,
    pub content_type: &'static str,
    /// `Some(n)`: a whole body of n bytes follows; `None`: a chunked stream.
    pub content_length: Option<usize>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// The client went away (or its connection failed); nothing more can be written.
#[derive(Debug, thiserror::Error)]
#[error("client disconnected: {0}")]
pub struct ClientGone(pub String);

pub trait Downstream: Send {
    fn send_head(
        &mut self,
        head: ResponseHead,
    ) -> impl Future<Output = Result<(), ClientGone>> + Send;

    /// Writes and flushes one body chunk; `end` closes the body.
    fn send_body(
        &mut self,
        chunk: Bytes,
        end: bool,
    ) -> impl Future<Output = Result<(), ClientGone>> + Send;
}

/// A downstream that keeps everything, for tests and internal calls.
#[derive(Debug, Default)]
pub struct BufferedDownstream {
    pub head: Option<ResponseHead>,
    pub chunks: Vec<Bytes>,
    pub ended: bool,
    /// Fail every write after this many body chunks, to simulate a client going away.
    pub disconnect_after: Option<usize>,
}

impl BufferedDownstream {
    pub fn body(&self) -> Vec<u8> {
        self.chunks.iter().flat_map(|c| c.iter().copied()).collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head
            .as_ref()?
            .headers
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .and_then(|(_, v)| v.to_str().ok())
    }
}

impl Downstream for BufferedDownstream {
    async fn send_head(&mut self, head: ResponseHead) -> Result<(), ClientGone> {
        self.head = Some(head);
        Ok(())
    }

    async fn send_body(&mut self, chunk: Bytes, end: bool) -> Result<(), ClientGone> {
        if self
            .disconnect_after
            .is_some_and(|n| self.chunks.len() >= n)
        {
            return Err(ClientGone("test disconnect".into()));
        }
        if !chunk.is_empty() {
            self.chunks.push(chunk);
        }
        self.ended |= end;
        Ok(())
    }
}
