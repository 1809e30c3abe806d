//! The events the envelope bench and the `event_loop` example run on, shared so that criterion timings and
//! callgrind instruction counts measure the same inputs.

/// An unsigned span event with model, token usage, trace ids and tags (552 bytes).
pub(crate) const SPAN_552B: &str = concat!(
    r#"{"event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"llm.trace.span.completed","org_id":"acme","#,
    r#""payload":{"duration_ms":1250.0,"finish_reason":"stop","model":{"name":"gpt-4o","system":"openai"},"#,
    r#""operation":"chat","span_name":"chat","status":"ok","temperature":0.7,"#,
    r#""token_usage":{"input_tokens":120,"output_tokens":80,"total_tokens":200}},"schema_version":"2.0","#,
    r#""source":"support-bot@3.0.0","span_id":"00f067aa0ba902b7","tags":{"env":"prod","region":"eu-west-1"},"#,
    r#""timestamp":"2026-01-03T10:00:01.250000Z","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#
);

/// A signed span event whose payload is what the reference's `SpanPayload.to_dict()` writes (984 bytes).
pub(crate) const SPAN_SIGNED_984B: &str = concat!(
    r#"{"checksum":"sha256:ab48237b1ab2be1100e93021ef858d06198e4e23d532bde23955f8e5b165d40a","#,
    r#""event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"llm.trace.span.completed","org_id":"acme","#,
    r#""payload":{"duration_ms":1250.0,"end_time_unix_nano":1767434401250000000,"finish_reason":"stop","#,
    r#""model":{"name":"gpt-4o","system":"openai"},"operation":"chat","reasoning_steps":[],"#,
    r#""span_id":"00f067aa0ba902b7","span_kind":"CLIENT","span_name":"chat","#,
    r#""start_time_unix_nano":1767434400000000000,"status":"ok","temperature":0.7,"#,
    r#""token_usage":{"input_tokens":120,"output_tokens":80,"total_tokens":200},"tool_calls":[],"#,
    r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"},"prev_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B2","#,
    r#""schema_version":"2.0","#,
    r#""signature":"hmac-sha256:8670bc140de2609103490ed7cb4917d20722e3a6dcf7790a9939229a1e5a72a9","#,
    r#""source":"support-bot@3.0.0","span_id":"00f067aa0ba902b7","tags":{"env":"prod","region":"eu-west-1"},"#,
    r#""timestamp":"2026-01-03T10:00:01.250000Z","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#
);

/// The reference corpus: 92 signed events covering every registered type, written by `spanforge==1.0.4`'s
/// `to_json()` (444 to 1,867 bytes, 930 on average), one per line, as `events validate` reads a JSONL file.
pub(crate) const REFERENCE_JSONL: &str = include_str!("../../tests/data/reference_events.jsonl");

/// Runs `workload` `iterations` times (read, validate, write back into one reused buffer) and returns the bytes
/// written, for the `event_loop` examples that callgrind counts.
#[allow(dead_code, reason = "only the examples call it")]
pub(crate) fn run_workload(workload: &str, iterations: usize) -> usize {
    let lines: Vec<&str> = match workload {
        "span_552b" => vec![SPAN_552B],
        "span_signed_984b" => vec![SPAN_SIGNED_984B],
        "reference_jsonl" => REFERENCE_JSONL.lines().collect(),
        other => {
            panic!("unknown workload {other:?}: span_552b, span_signed_984b or reference_jsonl")
        }
    };
    let mut out = Vec::with_capacity(4096);
    let mut total = 0usize;
    for _ in 0..iterations {
        for line in &lines {
            out.clear();
            match spanforge_event::Event::from_json_str(std::hint::black_box(line)) {
                Ok(event) => event.write_canonical(&mut out),
                Err(e) => panic!("the workload's events are valid: {e}"),
            }
            total += out.len();
        }
    }
    total
}

/// Times `rounds` runs of `iterations` passes over `workload` and returns the fastest, in nanoseconds per line.
///
/// On a shared machine other processes only ever add time, so the fastest of many short rounds is the closest
/// estimate of what one undisturbed core does; criterion's mean and confidence interval mix the disturbances in.
#[allow(dead_code, reason = "only the examples call it")]
pub(crate) fn best_of(workload: &str, rounds: usize, iterations: usize) -> f64 {
    let lines = match workload {
        "reference_jsonl" => REFERENCE_JSONL.lines().count(),
        _ => 1,
    };
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let start = std::time::Instant::now();
        std::hint::black_box(run_workload(workload, iterations));
        let per_line = start.elapsed().as_nanos() as f64 / (iterations * lines) as f64;
        best = best.min(per_line);
    }
    best
}

/// Reads the workload and iteration count from the command line and runs it; with `time` first
/// (`event_loop time span_552b 2000`), reports the fastest of 300 timed rounds instead.
#[allow(dead_code, reason = "only the examples call it")]
pub(crate) fn main_with_args() {
    let mut args = std::env::args().skip(1).peekable();
    let timed = args.next_if(|a| a == "time").is_some();
    let workload = args.next().unwrap_or_else(|| "span_552b".to_owned());
    let iterations: usize = args
        .next()
        .map(|n| n.parse().expect("the iteration count is a number"))
        .unwrap_or(1000);
    if timed {
        let ns = best_of(&workload, 300, iterations);
        println!(
            "{workload}: fastest of 300 rounds of {iterations}: {ns:.0} ns per event, {:.0} events/s",
            1e9 / ns
        );
        return;
    }
    let total = run_workload(&workload, iterations);
    println!("{workload}: {iterations} iterations, {total} bytes written");
}
