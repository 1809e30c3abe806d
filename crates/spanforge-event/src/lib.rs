//! The SpanForge event envelope (RFC-0001, schema 2.0).
pub mod json;
