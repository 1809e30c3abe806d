//! Integration tests of the shipped catalog: accuracy against the shared reference lists,
//! coverage of the guide and of every framework node, content-hash snapshots, and validation
//! of the OSCAL exports with a real OSCAL validator (compliance-trestle).

// Tests may unwrap: a panic there is a test failure with a message.
#![allow(clippy::unwrap_used)]

mod coverage;
mod hashes;
mod oscal_validator;
mod reference_lists;
mod support;
