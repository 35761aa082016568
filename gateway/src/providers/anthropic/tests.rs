//! Tests of the Anthropic provider.
