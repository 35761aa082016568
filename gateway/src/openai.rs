//! The OpenAI wire format: request documents, usage and server-sent events.

pub mod request;
pub mod sse;
pub mod usage;
