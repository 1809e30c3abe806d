//! Ledger throughput on realistic events of either workload shape (`benches/support/workload.rs`):
//! 862-byte span events by default, or with `SPANFORGE_BENCH_WORKLOAD=reference` the ~540-byte
//! events #3's targets are stated for, whose cases are named with a `_reference` suffix so that
//! criterion never compares one shape's figures with the other's.
//!
//! Run with `cargo bench -p spanforge-store --bench ledger`. Groups:
//! * `seal/memory`: sign + serialise + leaf hash + tree append into the in-memory backend
//!   (the sealing pipeline without SQLite), per event;
//! * `ingest/sqlite_durable`: `append_batch` of parsed events into SQLite, one durable commit
//!   (WAL, `synchronous=FULL`) per batch; `ingest/sqlite_jsonl` does the same from JSON lines,
//!   parsing included; `ingest/sqlite_durable_encrypted` is `sqlite_durable` with payload
//!   encryption on (data keys from a local KMS keyring, one per tenant/actor/session scope; the
//!   scopes are created before measuring, as in a running ledger);
//! * `verify/sqlite`: full verification of a 200,000-event SQLite ledger (both cores);
//! * `proof`: verifying one exported tlog-proof bundle (note signature + inclusion path), and the
//!   inclusion path alone.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use spanforge_chain::compat::HmacSecret;
use spanforge_chain::note::NoteSigner;
use spanforge_event::Event;
use spanforge_store::{
    HmacKey, InputLine, Ledger, Location, MemoryBackend, SqliteLedger, StaticKeys, VerifyOptions,
    verify_event_proof,
};

const BATCH: u64 = 8192;
const VERIFY_EVENTS: u64 = 200_000;

#[path = "support/workload.rs"]
mod workload;

/// The workload shape `SPANFORGE_BENCH_WORKLOAD` picks.
fn shape() -> workload::Shape {
    static SHAPE: std::sync::OnceLock<workload::Shape> = std::sync::OnceLock::new();
    *SHAPE.get_or_init(|| workload::Shape::from_env().unwrap_or_else(|e| panic!("{e}")))
}

/// A case's name: `name` for the span workload, `name_reference` for the reference one.
fn case(name: &str) -> String {
    match shape() {
        workload::Shape::Span => name.to_owned(),
        other => format!("{name}_{}", other.name()),
    }
}

/// Event `n` of the shared workload (`benches/support/workload.rs`).
fn event_json(n: u64) -> String {
    shape()
        .event_json(n, 0xBE7C)
        .expect("valid ULID parts and timestamp")
}

fn events(start: u64, count: u64) -> Vec<Event> {
    (start..start + count)
        .map(|n| Event::from_json_str(&event_json(n)).expect("bench events are valid"))
        .collect()
}

fn keys(log_key_name: &str) -> StaticKeys {
    StaticKeys::new()
        .with_default_key(HmacKey::derived(
            HmacSecret::new_native("bench-signing-secret-0123456789abcdefghijkl")
                .expect("a 32-byte secret"),
        ))
        .with_checkpoint_signer(NoteSigner::from_seed(log_key_name, &[5; 32]).expect("signer"))
}

fn seal(c: &mut Criterion) {
    let mut group = c.benchmark_group("seal");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);
    let template = events(0, BATCH);
    println!(
        "event size: {} bytes unsigned",
        template[0].to_canonical_json().len()
    );
    group.bench_function(case("memory"), |b| {
        b.iter_batched(
            || {
                let ledger = Ledger::new(MemoryBackend::new().expect("entropy"));
                let keys = keys(&ledger.log_key_name());
                (ledger, keys, template.clone())
            },
            |(mut ledger, keys, events)| {
                ledger.append_batch(&keys, events).expect("append");
                ledger
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

fn ingest(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);

    let mut ledger = SqliteLedger::open(dir.path().join("ingest.db")).expect("open");
    let k = keys(&ledger.log_key_name());
    let mut next = 1_000_000_000u64;
    group.bench_function(case("sqlite_durable"), |b| {
        b.iter_batched(
            || {
                next += BATCH;
                events(next, BATCH)
            },
            |events| ledger.append_batch(&k, events).expect("append"),
            BatchSize::PerIteration,
        );
    });

    let mut ledger = SqliteLedger::open(dir.path().join("jsonl.db")).expect("open");
    let k = keys(&ledger.log_key_name());
    let source: Arc<str> = Arc::from("bench.jsonl");
    group.bench_function(case("sqlite_jsonl"), |b| {
        b.iter_batched(
            || {
                next += BATCH;
                (next..next + BATCH)
                    .map(|n| {
                        Ok(InputLine::json(
                            Location::new(source.clone(), n),
                            event_json(n),
                        ))
                    })
                    .collect::<Vec<_>>()
            },
            |lines| ledger.ingest(&k, lines).expect("ingest"),
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

fn ingest_encrypted(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);
    let kms = Arc::new(
        spanforge_crypto::LocalKms::create(dir.path().join("kms.keyring"), "payload")
            .expect("keyring"),
    );
    let kek = kms.primary("payload").expect("key");
    let service = Arc::new(spanforge_store::BlockingKms::new(kms, kek).expect("runtime"));
    let mut ledger = SqliteLedger::open(dir.path().join("encrypted.db"))
        .expect("open")
        .with_data_keys(service);
    ledger.encrypt_payloads();
    let k = keys(&ledger.log_key_name());
    // Every (tenant, actor, session) scope of the workload exists before measuring.
    let mut next = 2_000_000_000u64;
    ledger
        .append_batch(&k, events(next, 4 * 97 * 13))
        .expect("create the scopes");
    next += BATCH;
    group.bench_function(case("sqlite_durable_encrypted"), |b| {
        b.iter_batched(
            || {
                next += BATCH;
                events(next, BATCH)
            },
            |events| ledger.append_batch(&k, events).expect("append"),
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

fn verify(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let mut ledger = SqliteLedger::open(dir.path().join("verify.db")).expect("open");
    let k = keys(&ledger.log_key_name());
    let mut n = 0;
    while n < VERIFY_EVENTS {
        ledger
            .append_batch(&k, events(n, BATCH.min(VERIFY_EVENTS - n)))
            .expect("append");
        n += BATCH;
    }
    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(VERIFY_EVENTS));
    group.sample_size(10);
    group.bench_function(case("sqlite"), |b| {
        b.iter(|| {
            let report = ledger.verify(&k, &VerifyOptions::new()).expect("verify");
            assert!(report.valid);
            black_box(report.events)
        });
    });
    group.finish();

    let mut group = c.benchmark_group("proof");
    let id = events(123_457, 1)[0].event_id().to_string();
    let proof = ledger.prove(&k, &id).expect("prove");
    let text = proof.to_text();
    let verifier = k.checkpoint_verifiers().remove(0);
    group.bench_function("verify_bundle", |b| {
        b.iter(|| verify_event_proof(black_box(text.as_bytes()), &verifier, None).expect("valid"));
    });
    let cp = proof.bundle.clone();
    let checkpoint = spanforge_chain::checkpoint::SignedCheckpoint::parse_unverified(
        cp.checkpoint_note().as_bytes(),
    )
    .expect("checkpoint");
    let leaf = spanforge_chain::merkle::leaf_hash(proof.envelope.as_bytes());
    group.bench_function("verify_inclusion_path", |b| {
        b.iter(|| {
            spanforge_chain::merkle::verify_inclusion(
                cp.index(),
                checkpoint.checkpoint().size(),
                black_box(&leaf),
                cp.path(),
                checkpoint.checkpoint().root(),
            )
            .expect("valid")
        });
    });
    group.finish();
}

use spanforge_store::KeyProvider as _;

criterion_group!(benches, seal, ingest, ingest_encrypted, verify);
criterion_main!(benches);
