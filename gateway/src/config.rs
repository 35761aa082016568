//! Configuration in two tiers: the raw YAML document ([`raw`]) and the validated, compiled
//! [`Snapshot`] that requests read. A snapshot is immutable; reloads build a new one and swap
//! it in atomically ([`watch`]).

pub mod env;
pub mod http_provider;
pub mod load;
pub mod policy_files;
pub mod prompts;
pub mod raw;
pub mod snapshot;
pub mod watch;

pub use load::{load_file, ConfigError};
pub use snapshot::{Route, Snapshot, Target};
