//! Envelope throughput: parse + guard + validate + canonicalise realistic `llm.trace.span.completed` events.
//!
//! Run with `cargo bench -p spanforge-event --bench envelope`. The target is 300,000 events per second on one
//! core for `span_552b/read_validate_write`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_main};
use spanforge_event::Event;

/// An unsigned span event with model, token usage, trace ids and tags (552 bytes).
const SPAN_552B: &str = concat!(
    r#"{"event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"llm.trace.span.completed","org_id":"acme","#,
    r#""payload":{"duration_ms":1250.0,"finish_reason":"stop","model":{"name":"gpt-4o","system":"openai"},"#,
    r#""operation":"chat","span_name":"chat","status":"ok","temperature":0.7,"#,
    r#""token_usage":{"input_tokens":120,"output_tokens":80,"total_tokens":200}},"schema_version":"2.0","#,
    r#""source":"support-bot@3.0.0","span_id":"00f067aa0ba902b7","tags":{"env":"prod","region":"eu-west-1"},"#,
    r#""timestamp":"2026-01-03T10:00:01.250000Z","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#
);

/// A signed span event whose payload is what the reference's `SpanPayload.to_dict()` writes (984 bytes).
const SPAN_SIGNED_984B: &str = concat!(
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

fn envelope(c: &mut Criterion) {
    for (name, text) in [
        ("span_552b", SPAN_552B),
        ("span_signed_984b", SPAN_SIGNED_984B),
    ] {
        let event = Event::from_json_str(text).expect("the bench event is valid");
        assert_eq!(
            event.to_canonical_json(),
            text,
            "the bench event is already canonical"
        );
        if let Some(checksum) = event.checksum() {
            assert_eq!(
                checksum,
                &event.payload_checksum(),
                "the bench event's checksum is real"
            );
        }

        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(1));
        group.bench_function("read_validate_write", |b| {
            let mut out = Vec::with_capacity(1024);
            b.iter(|| {
                out.clear();
                let e = Event::from_json_str(black_box(text)).expect("valid");
                e.write_canonical(&mut out);
                black_box(out.len())
            });
        });
        group.bench_function("read_validate", |b| {
            b.iter(|| Event::from_json_str(black_box(text)).expect("valid"));
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
}

// The macro defines an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::envelope);
}
use group::benches;

criterion_main!(benches);
