//! AEV1 throughput: seal and open of 1 KiB payloads with a cached data key.
//!
//! Run with `cargo bench -p spanforge-crypto --bench envelope`. Throughput is reported in payload
//! bytes per second; for `seal+open` one iteration seals *and* opens one payload, so the figure
//! is payload bytes per (encrypt + decrypt) pair.
//!
//! Two groups run the same cases: `aev1` measures wall-clock time, `aev1-cpu` measures the
//! benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), which stays meaningful on a shared,
//! overloaded machine where wall-clock time mostly measures waiting for a core.
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use spanforge_crypto::envelope::{Envelope, seal};
use spanforge_crypto::{
    CachePolicy, DataKeyId, Dek, DekCache, EncryptionContext, EnvelopeCipher, KeyRef, LocalKms,
};

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
struct ThreadCpuTime;

fn thread_cpu_nanos() -> u64 {
    u64::try_from(cpu_time::ThreadTime::now().as_duration().as_nanos()).unwrap_or(u64::MAX)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = Duration;

    fn start(&self) -> u64 {
        thread_cpu_nanos()
    }
    fn end(&self, start: u64) -> Duration {
        Duration::from_nanos(thread_cpu_nanos().saturating_sub(start))
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

fn bench_envelope<M: Measurement + 'static>(c: &mut Criterion<M>, group_name: &str) {
    let dek = Dek::generate().unwrap();
    let id = DataKeyId::new("dk-bench").unwrap();
    let ctx = EncryptionContext::for_event("tenant-a", "01J9Z3K4QW8N6V2X5T7R0M1B3C", "ai-call/v1")
        .unwrap();
    let mut group = c.benchmark_group(group_name);
    for size in [1024usize, 16 * 1024] {
        let payload = vec![0x5au8; size];
        let blob = seal(&dek, &id, &[], &ctx, &payload).unwrap();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(format!("seal/{size}"), |b| {
            b.iter(|| seal(&dek, &id, &[], &ctx, black_box(&payload)).unwrap())
        });
        group.bench_function(format!("open/{size}"), |b| {
            b.iter(|| {
                Envelope::parse(black_box(&blob))
                    .unwrap()
                    .open(&dek, &ctx)
                    .unwrap()
            })
        });
        group.bench_function(format!("seal+open/{size}"), |b| {
            b.iter(|| {
                let blob = seal(&dek, &id, &[], &ctx, black_box(&payload)).unwrap();
                Envelope::parse(&blob).unwrap().open(&dek, &ctx).unwrap()
            })
        });
    }

    // The full path through EnvelopeCipher: cache hit on both sides, embedded local EDK.
    let dir = tempfile::tempdir().unwrap();
    let kms = Arc::new(LocalKms::create(dir.path().join("keyring"), "bench").unwrap());
    let cipher = EnvelopeCipher::new(
        kms,
        KeyRef::parse("local:bench").unwrap(),
        DekCache::new(CachePolicy {
            max_messages: u64::MAX,
            ..CachePolicy::default()
        }),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let payload = vec![0x5au8; 1024];
    group.throughput(Throughput::Bytes(1024));
    group.bench_function("cipher seal+open/1024 (cached)", |b| {
        b.iter(|| {
            rt.block_on(async {
                let blob = cipher.seal(&ctx, black_box(&payload)).await.unwrap();
                cipher.open(&blob, &ctx).await.unwrap()
            })
        })
    });
    group.finish();
}

fn wall(c: &mut Criterion) {
    bench_envelope(c, "aev1");
}

fn cpu(c: &mut Criterion<ThreadCpuTime>) {
    bench_envelope(c, "aev1-cpu");
}

fn config<M: Measurement>(measurement: M) -> Criterion<M> {
    Criterion::default()
        .with_measurement(measurement)
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = wall_clock;
    config = config(WallTime);
    targets = wall
}
criterion_group! {
    name = cpu_time;
    config = config(ThreadCpuTime);
    targets = cpu
}
criterion_main!(wall_clock, cpu_time);
