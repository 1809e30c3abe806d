//! Envelope throughput: parse + guard + validate + canonicalise one realistic ~500-byte span event.
//!
//! Run with `cargo bench -p spanforge-event --bench envelope`. The target is 300,000 events per second on one
//! core for the `read_validate_write` case.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_main};
use spanforge_event::Event;

/// A signed `llm.trace.span.completed` event of the shape the reference's tracer writes (about 560 bytes).
const SPAN_EVENT: &str = concat!(
    r#"{"checksum":"sha256:1b5e0f9a2c4d6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071","#,
    r#""event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"llm.trace.span.completed","org_id":"acme","#,
    r#""payload":{"duration_ms":1250.0,"end_time_unix_nano":1767434401250000000,"finish_reason":"stop","#,
    r#""model":{"name":"gpt-4o","system":"openai"},"operation":"chat","reasoning_steps":[],"#,
    r#""span_id":"00f067aa0ba902b7","span_kind":"CLIENT","span_name":"chat","#,
    r#""start_time_unix_nano":1767434400000000000,"status":"ok","temperature":0.7,"tool_calls":[],"#,
    r#""token_usage":{"input_tokens":120,"output_tokens":80,"total_tokens":200},"#,
    r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"},"prev_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B2","#,
    r#""schema_version":"2.0","#,
    r#""signature":"hmac-sha256:8670bc140de2609103490ed7cb4917d20722e3a6dcf7790a9939229a1e5a72a9","#,
    r#""source":"support-bot@3.0.0","span_id":"00f067aa0ba902b7","tags":{"env":"prod","region":"eu-west-1"},"#,
    r#""timestamp":"2026-01-03T10:00:01.250000Z","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#
);

fn envelope(c: &mut Criterion) {
    let event = Event::from_json_str(SPAN_EVENT).expect("the bench event is valid");
    assert_eq!(
        event.to_canonical_json(),
        SPAN_EVENT,
        "the bench event is already canonical"
    );

    let mut group = c.benchmark_group("envelope");
    group.throughput(Throughput::Elements(1));
    group.bench_function("read_validate_write", |b| {
        let mut out = Vec::with_capacity(1024);
        b.iter(|| {
            out.clear();
            let e = Event::from_json_str(black_box(SPAN_EVENT)).expect("valid");
            e.write_canonical(&mut out);
            black_box(out.len())
        });
    });
    group.bench_function("read_validate", |b| {
        b.iter(|| Event::from_json_str(black_box(SPAN_EVENT)).expect("valid"));
    });
    group.bench_function("write", |b| {
        let mut out = Vec::with_capacity(1024);
        b.iter(|| {
            out.clear();
            black_box(&event).write_canonical(&mut out);
            black_box(out.len())
        });
    });
    group.bench_function("payload_checksum", |b| {
        b.iter(|| black_box(&event).payload_checksum())
    });
    group.finish();
}

// The macro defines an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::envelope);
}
use group::benches;

criterion_main!(benches);
