//! `spanforge-chain`: the integrity core of SpanForge (work in progress).
mod error;
pub mod merkle;
pub mod note;
pub use error::{Error, Result};
