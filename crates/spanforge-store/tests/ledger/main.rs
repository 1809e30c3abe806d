//! Integration tests of the SQLite ledger, one module per area, all against real database files
//! in temporary directories.

// Test helpers outside `#[test]` functions unwrap too: a failure there is a broken test.
#![allow(clippy::unwrap_used)]

mod checkpoints;
mod common;
mod crash;
mod encryption;
mod ingest;
mod interop;
mod queries;
mod rotation;
mod tamper;
