//! Integration tests of the mapping engine and the evidence package, over ledgers holding a
//! realistic generated workload.

#![allow(clippy::unwrap_used, unreachable_pub)]

mod engine;
mod isolation;
mod oscal;
mod package;
mod readiness;
mod registry;
mod report;
mod support;
