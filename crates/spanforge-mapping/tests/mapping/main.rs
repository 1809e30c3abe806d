//! Integration tests of the mapping engine and the evidence package, over ledgers holding a
//! realistic generated workload.

#![allow(clippy::unwrap_used)]

mod explore;
mod support;
