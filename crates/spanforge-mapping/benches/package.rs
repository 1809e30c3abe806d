//! Evidence-package generation over a large ledger (issue #6: 1,000,000 events in at most 5 s;
//! 10,000,000 in at most 60 s and 256 MB of resident memory).
//!
//! The ledger is built once from the realistic workload generator (two tenants, 90 days) and
//! cached under `target/bench-data/` (or `$SPANFORGE_BENCH_DIR`); building it is not measured.
//! Each iteration verifies the ledger, anchors it to checkpoints, streams every event through
//! the controls of SOC 2 and writes, hashes and signs the complete package.
//!
//! * `cargo bench -p spanforge-mapping --bench package`: criterion over 1,000,000 events
//!   (`SPANFORGE_BENCH_EVENTS` changes the size).
//! * `SPANFORGE_BENCH_ONCE=1 SPANFORGE_BENCH_EVENTS=10000000 cargo bench -p spanforge-mapping
//!   --bench package`: one timed run, printing wall time, CPU time and peak resident memory
//!   (`VmHWM`), for sizes where repeated runs take too long.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::Criterion;
use spanforge_catalog::FrameworkId;
use spanforge_chain::compat::HmacSecret;
use spanforge_chain::note::NoteSigner;
use spanforge_mapping::engine::AssessmentRequest;
use spanforge_mapping::package::{PackageSummary, generate_package};
use spanforge_mapping::period::{Day, Period};
use spanforge_mapping::rules::RuleSet;
use spanforge_mapping::testing::Workload;
use spanforge_store::{HmacKey, SqliteLedger, StaticKeys};

const SECRET: &str = "bench-signing-secret-0123456789abcdef";
const SEED: [u8; 32] = [11; 32];

fn events() -> u64 {
    std::env::var("SPANFORGE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn data_dir() -> PathBuf {
    std::env::var_os("SPANFORGE_BENCH_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data"),
        PathBuf::from,
    )
}

fn workload(n: u64) -> Workload {
    Workload::new(Day::parse("2026-01-01").expect("a valid date"), 90).sized_for(n)
}

fn keys(ledger: &SqliteLedger) -> StaticKeys {
    StaticKeys::new()
        .with_default_key(HmacKey::derived(
            HmacSecret::new_native(SECRET).expect("a long secret"),
        ))
        .with_checkpoint_signer(
            NoteSigner::from_seed(&ledger.log_key_name(), &SEED).expect("a valid key name"),
        )
}

/// Opens the cached ledger of `n` events, building it first if needed.
fn ledger(n: u64) -> (SqliteLedger, StaticKeys, NoteSigner) {
    let dir = data_dir();
    std::fs::create_dir_all(&dir).expect("create the bench data directory");
    let path = dir.join(format!("mapping-{n}.db"));
    let done = dir.join(format!("mapping-{n}.done"));
    if !done.exists() {
        let _ = std::fs::remove_file(&path);
        let mut ledger = SqliteLedger::open(&path).expect("create the bench ledger");
        let keys = keys(&ledger);
        let t = Instant::now();
        let appended = workload(n)
            .append_to(&mut ledger, &keys)
            .expect("append the workload");
        eprintln!(
            "built {} with {appended} events in {:?}",
            path.display(),
            t.elapsed()
        );
        std::fs::write(&done, appended.to_string()).expect("mark the ledger complete");
    }
    let ledger = SqliteLedger::open(&path).expect("open the bench ledger");
    let keys = keys(&ledger);
    let signer = NoteSigner::from_seed(&ledger.log_key_name(), &SEED).expect("a valid key name");
    (ledger, keys, signer)
}

fn request() -> AssessmentRequest {
    let period = Period::parse("2026-01-01", "2026-03-31").expect("a valid period");
    AssessmentRequest::new(
        FrameworkId::Soc2,
        period,
        period.end_micros() + 86_400_000_000,
    )
}

/// Generates the package into a new temporary directory, returned with the summary so that
/// deleting the package (hundreds of megabytes) happens after the caller stops its clock.
fn run_once(
    ledger: &mut SqliteLedger,
    keys: &StaticKeys,
    signer: &NoteSigner,
    rules: &RuleSet,
) -> (PackageSummary, tempfile::TempDir) {
    let out = tempfile::tempdir().expect("a temporary directory");
    let summary = generate_package(
        ledger,
        keys,
        rules,
        &request(),
        &out.path().join("pkg"),
        signer,
        "bench",
    )
    .expect("the package generates");
    (summary, out)
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn package(c: &mut Criterion) {
    let n = events();
    let (mut ledger, keys, signer) = ledger(n);
    let rules = RuleSet::shipped().expect("the shipped rules compile");
    let mut group = c.benchmark_group("evidence_package");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(1));
    group.bench_function(format!("soc2_{n}_events"), |b| {
        // The directory is returned from the routine, so criterion drops it outside the
        // timed section.
        b.iter_with_large_drop(|| run_once(&mut ledger, &keys, &signer, &rules));
    });
    group.finish();
    eprintln!(
        "peak resident memory (VmHWM) of the bench process: {} KiB",
        peak_rss_kib()
    );
}

// `criterion_group!` generates an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::package);
}

pub(crate) fn main() {
    if std::env::var_os("SPANFORGE_BENCH_ONCE").is_some() {
        let n = events();
        let (mut ledger, keys, signer) = ledger(n);
        let rules = RuleSet::shipped().expect("the shipped rules compile");
        let before_rss = peak_rss_kib();
        let (cpu0, t0) = (cpu_seconds(), Instant::now());
        let (summary, out) = run_once(&mut ledger, &keys, &signer, &rules);
        let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
        drop(out);
        // The manifest hash pins every byte of the package: equal hashes from two builds on
        // the same cached ledger mean a change left the package as it was.
        println!(
            "evidence_package soc2 over {n} events: wall {:.2} s, cpu {:.2} s, package {} bytes in {} files ({} proofs), peak RSS {} KiB (before the run {before_rss} KiB), manifest sha256 {}",
            wall,
            cpu,
            summary.bytes,
            summary.files,
            summary.proofs,
            peak_rss_kib(),
            summary.manifest_sha256
        );
        return;
    }
    group::benches();
    Criterion::default().configure_from_args().final_summary();
}
