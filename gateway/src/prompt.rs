//! Managed prompts: a version's minijinja template with typed variable declarations, and the
//! release of a label (with an optional canary) that a route binds to.
//!
//! The control plane accepts a version only if [`PromptTemplate::compile`] succeeds, and the
//! gateway renders with the same code, so nothing the control plane accepts can fail to
//! compile at a gateway.

mod release;
mod template;

pub use release::{goes_to_canary, CanaryRelease, PromptRelease, PromptVersionRef};
pub use template::{
    CompiledPrompt, PromptMode, PromptRole, PromptTemplate, RenderError, RenderedMessage,
    VariableSpec, VariableType,
};
