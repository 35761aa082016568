//! promptgate's data plane: an OpenAI-compatible LLM gateway on Pingora.
//!
//! The Pingora shell ([`server`]) hands each request to the [`pipeline`], which resolves the
//! route in the current config [`config::Snapshot`], calls a provider adapter
//! ([`providers`]) with retries and fallback, relays the answer (SSE streams included) and
//! accounts tokens and cost ([`accounting`], [`metrics`]).

pub mod accounting;
pub mod admin;
pub mod byok;
pub mod civil_time;
pub mod config;
pub mod error;
pub mod managed;
pub mod metrics;
pub mod openai;
pub mod pipeline;
pub mod prompt;
pub mod providers;
pub mod routing;
pub mod server;
pub mod tenants;
pub mod trace_id;
pub mod upstream;
