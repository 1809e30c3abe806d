//! The envelope bench groups, shared by the `envelope` bench (system allocator) and the `envelope_mimalloc` bench
//! (the same groups with mimalloc as the global allocator), so that the two measure the same code.

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use spanforge_event::{Event, json};

use super::common::{REFERENCE_JSONL, SPAN_552B, SPAN_SIGNED_984B};

/// Every envelope bench: the two single events, then the reference corpus as a JSONL file.
pub(crate) fn envelope(c: &mut Criterion) {
    for (name, text) in [
        ("span_552b", SPAN_552B),
        ("span_signed_984b", SPAN_SIGNED_984B),
    ] {
        let event = Event::from_json_str(text).expect("the bench event is valid");
        assert!(event.writes_verbatim(), "the bench event is read verbatim");
        // The same event read through the general path, which always writes from its fields: it must write the
        // same bytes, and it measures the writer.
        let rendered = Event::from_value(json::parse(text).expect("valid JSON")).expect("valid");
        assert!(!rendered.writes_verbatim());
        assert_eq!(
            rendered.to_canonical_json(),
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
        group.bench_function("write_from_fields", |b| {
            let mut out = Vec::with_capacity(1024);
            b.iter(|| {
                out.clear();
                black_box(&rendered).write_canonical(&mut out);
                black_box(out.len())
            });
        });
        group.bench_function("payload_checksum", |b| {
            b.iter(|| black_box(&event).payload_checksum())
        });
        group.bench_function("payload_checksum_from_fields", |b| {
            b.iter(|| black_box(&rendered).payload_checksum())
        });
        group.finish();
    }
    jsonl(c);
}

/// What `events validate` does with a JSONL file: read each line, validate it, write it back canonically into one
/// reused buffer. One iteration is one pass over the 92-line reference corpus; throughput counts lines.
fn jsonl(c: &mut Criterion) {
    let lines: Vec<&str> = REFERENCE_JSONL.lines().collect();
    for line in &lines {
        let event = Event::from_json_str(line).expect("the reference corpus is valid");
        assert_eq!(
            event.to_canonical_json(),
            *line,
            "the reference corpus is canonical"
        );
    }
    let mut group = c.benchmark_group("reference_jsonl");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("validate_lines", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            let mut written = 0;
            for line in black_box(&lines) {
                out.clear();
                let e = Event::from_json_str(line).expect("valid");
                e.write_canonical(&mut out);
                written += out.len();
            }
            black_box(written)
        });
    });
    group.finish();
}
