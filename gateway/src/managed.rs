//! The wire schema shared with the control plane: the config snapshot a managed gateway
//! fetches (`GET /api/v1/gateway/snapshot`) and the trace records it ships
//! (`POST /api/v1/traces`). Both sides use these types and [`validate`], so they cannot
//! drift apart.

pub mod control;
pub mod redact;
mod snapshot;
pub mod state;
mod trace_record;
pub mod traces;
mod validate;
pub mod watch;

pub use snapshot::{ManagedSnapshot, PolicyDocument, SNAPSHOT_SCHEMA};
pub use trace_record::{TraceBatch, TraceRecord, TraceStatus};
pub use validate::{raw_config, validate};
