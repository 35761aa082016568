//! An upstream response body: from the network, or from memory for local providers.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};

pub enum UpstreamBody {
    Network(Incoming),
    Memory(VecDeque<Bytes>),
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("upstream sent nothing for {0:?}")]
    Idle(Duration),
    #[error("upstream body failed: {0}")]
    Io(String),
    #[error("upstream body larger than {0} bytes")]
    TooLarge(usize),
}

impl UpstreamBody {
    pub fn memory(chunks: impl IntoIterator<Item = Bytes>) -> Self {
        UpstreamBody::Memory(chunks.into_iter().collect())
    }

    /// The next data chunk; `None` at the end of the body.
    pub async fn next_chunk(&mut self, idle: Duration) -> Result<Option<Bytes>, BodyError> {
        match self {
            UpstreamBody::Memory(chunks) => Ok(chunks.pop_front()),
            UpstreamBody::Network(incoming) => loop {
                let frame = tokio::time::timeout(idle, incoming.frame())
                    .await
                    .map_err(|_| BodyError::Idle(idle))?;
                match frame {
                    None => return Ok(None),
                    Some(Err(e)) => return Err(BodyError::Io(e.to_string())),
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            if !data.is_empty() {
                                return Ok(Some(data));
                            }
                        }
                    }
                }
            },
        }
    }

    /// What the body has right now, without waiting: `None` when the next chunk has not
    /// arrived yet; otherwise what `next_chunk` would return.
    ///
    /// Streams use it to batch the events that arrived together into one client write.
    pub fn ready_chunk(&mut self) -> Option<Result<Option<Bytes>, BodyError>> {
        match self {
            UpstreamBody::Memory(chunks) => Some(Ok(chunks.pop_front())),
            UpstreamBody::Network(incoming) => {
                let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                loop {
                    match std::pin::Pin::new(&mut *incoming).poll_frame(&mut cx) {
                        std::task::Poll::Pending => return None,
                        std::task::Poll::Ready(None) => return Some(Ok(None)),
                        std::task::Poll::Ready(Some(Err(e))) => {
                            return Some(Err(BodyError::Io(e.to_string())))
                        }
                        std::task::Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                            Ok(data) if !data.is_empty() => return Some(Ok(Some(data))),
                            _ => continue,
                        },
                    }
                }
            }
        }
    }

    /// The whole body, bounded in size.
    pub async fn collect(mut self, idle: Duration, limit: usize) -> Result<Bytes, BodyError> {
        let Some(first) = self.next_chunk(idle).await? else {
            return Ok(Bytes::new());
        };
        let Some(second) = self.next_chunk(idle).await? else {
            return Ok(first);
        };
        let mut all = Vec::with_capacity(first.len() + second.len() * 2);
        all.extend_from_slice(&first);
        all.extend_from_slice(&second);
        while let Some(chunk) = self.next_chunk(idle).await? {
            if all.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge(limit));
            }
            all.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(all))
    }
}
