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
//! file).

use spanforge_event::Event;

#[path = "../benches/common/mod.rs"]
mod common;

fn read_validate_write(line: &str, out: &mut Vec<u8>) -> usize {
    out.clear();
    match Event::from_json_str(std::hint::black_box(line)) {
        Ok(event) => event.write_canonical(out),
        Err(e) => panic!("the workload's events are valid: {e}"),
    }
    out.len()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_else(|| "span_552b".to_owned());
    let iterations: usize = args
        .next()
        .map(|n| n.parse().expect("the iteration count is a number"))
        .unwrap_or(1000);
    let lines: Vec<&str> = match workload.as_str() {
        "span_552b" => vec![common::SPAN_552B],
        "span_signed_984b" => vec![common::SPAN_SIGNED_984B],
        "reference_jsonl" => common::REFERENCE_JSONL.lines().collect(),
        other => {
            panic!("unknown workload {other:?}: span_552b, span_signed_984b or reference_jsonl")
        }
    };
    let mut out = Vec::with_capacity(4096);
    let mut total = 0usize;
    for _ in 0..iterations {
        for line in &lines {
            total += read_validate_write(line, &mut out);
        }
    }
    println!("{workload}: {iterations} iterations, {total} bytes written");
}
