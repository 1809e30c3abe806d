//! SpanForge mapping engine.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod accumulator;
pub mod conclusion;
pub mod coverage;
pub mod engine;
pub mod error;
pub mod fields;
pub mod framework;
pub mod isolation;
pub mod json;
pub mod package;
pub mod period;
pub mod readiness;
pub mod registry;
pub mod remediation;
pub mod rules;
pub mod sampling;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;

pub use error::{Error, Result};
