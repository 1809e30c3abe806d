//! Parse and canonicalise a realistic ~500-byte event payload.

use criterion::{Criterion, Throughput, criterion_main};
use spanforge_event::json::{parse, write_canonical};
use std::hint::black_box;

const PAYLOAD: &str = r#"{
  "span_name": "chat.completions",
  "status": "ok",
  "duration_ms": 1250.0,
  "model": {"name": "gpt-4o-2024-08-06", "system": "openai", "temperature": 0.7,
            "max_tokens": 1024},
  "token_usage": {"input_tokens": 1200, "output_tokens": 380, "total_tokens": 1580,
                  "cached_tokens": 0},
  "cost": {"input_usd": 0.003, "output_usd": 0.0038, "total_usd": 0.0068, "currency": "USD"},
  "finish_reason": "stop",
  "tool_calls": [{"name": "search_kb", "duration_ms": 84.5, "ok": true},
                 {"name": "get_ticket", "duration_ms": 12.25, "ok": true}],
  "user_locale": "de-DE",
  "prompt_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  "error": null,
  "summary": "Kunde fragt nach Rückerstattung — Antwort gesendet ✅"
}"#;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("json");
    group.throughput(Throughput::Bytes(PAYLOAD.len() as u64));
    let mut out = Vec::with_capacity(1024);
    group.bench_function("parse_and_canonicalise", |b| {
        b.iter(|| {
            let value = parse(black_box(PAYLOAD)).expect("the benchmark payload is valid JSON");
            out.clear();
            write_canonical(&value, &mut out);
            black_box(out.len())
        })
    });
    let value = parse(PAYLOAD).expect("the benchmark payload is valid JSON");
    group.bench_function("parse", |b| {
        b.iter(|| parse(black_box(PAYLOAD)).map(|v| black_box(v).depth()))
    });
    group.bench_function("canonicalise", |b| {
        b.iter(|| {
            out.clear();
            write_canonical(black_box(&value), &mut out);
            black_box(out.len())
        })
    });
    group.finish();
}

// The macro defines an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;

criterion_main!(benches);
