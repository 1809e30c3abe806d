//! End-to-end tests of the `spanforge` binary: one test binary, a module per command area.

mod catalog;
mod compliance;
mod encryption;
mod events;
mod ledger;
mod support;
