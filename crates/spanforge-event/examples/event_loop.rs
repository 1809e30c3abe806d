//! Runs the envelope bench's workload a fixed number of times, so that `valgrind --tool=callgrind` can count the
//! instructions one event costs (timings on a shared machine are noisy; instruction counts are not).
//!
//! ```text
//! cargo build --release -p spanforge-event --example event_loop
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/event_loop span_552b 1000
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/event_loop span_552b 11000
//! ```
//!
//! The difference between the two totals, divided by 10,000, is the cost of one event without start-up. The
//! workloads are `span_552b` and `span_signed_984b` (one event read, validated and written back per iteration)
//! and `reference_jsonl` (one pass over the 92-line reference corpus per iteration, as `events validate` reads a
//! file). `event_loop_mimalloc` runs the same with mimalloc as the global allocator.
//!
//! `event_loop time span_552b 2000` times 300 rounds of 2,000 events instead and prints the fastest round, the
//! closest a shared machine gets to an undisturbed core.

#[path = "../benches/common/mod.rs"]
mod common;

fn main() {
    common::main_with_args();
}
