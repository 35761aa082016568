//! The wire schema shared with the control plane: the config snapshot a managed gateway
//! fetches (`GET /api/v1/gateway/snapshot`) and the trace records it ships
//! (`POST /api/v1/traces`). Both sides use these types and [`validate`], so they cannot
//! drift apart.

mod snapshot;
mod trace_record;
mod validate;

pub use snapshot::{ManagedSnapshot, PolicyDocument, SNAPSHOT_SCHEMA};
pub use trace_record::{TraceBatch, TraceRecord, TraceStatus};
pub use validate::{raw_config, validate};
