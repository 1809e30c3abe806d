//! Integration tests of the SQLite ledger, one module per area, all against real database files
//! in temporary directories.

mod checkpoints;
mod common;
mod crash;
mod ingest;
mod interop;
mod queries;
mod rotation;
mod tamper;
