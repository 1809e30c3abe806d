//! SpanForge mapping engine.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod error;
pub mod period;
pub mod registry;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{Error, Result};
pub mod fields;
pub mod json;
pub mod rules;
