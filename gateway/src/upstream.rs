//! The gateway's own upstream exchange: a pooled HTTP client, response bodies, retries.

pub mod body;
pub mod client;
pub mod http;
pub mod retry;
