//! Envelope throughput: parse + guard + validate + canonicalise realistic `llm.trace.span.completed` events, with
//! the system allocator (what the library gets by default).
//!
//! Run with `cargo bench -p spanforge-event --bench envelope`. The target is 300,000 events per second on one
//! core for `span_552b/read_validate_write`. `reference_jsonl/validate_lines` is the CLI's `events validate`
//! workload: every line of the reference corpus read, validated and written back into one reused buffer.
//! `--bench envelope_mimalloc` runs the same groups with mimalloc as the global allocator, as a binary may choose.
//!
//! Timings on a shared machine are noisy; `examples/event_loop.rs` runs the same workloads a fixed number of times
//! for counting instructions with callgrind.

use criterion::criterion_main;

#[path = "common/mod.rs"]
mod common;
#[path = "groups/mod.rs"]
mod groups;

// The macro defines an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::groups::envelope);
}
use group::benches;

criterion_main!(benches);
