//! Runs the ledger bench's write workloads a fixed number of times, so that `valgrind
//! --tool=callgrind` can count the instructions one event costs, and times them as best-of-N
//! rounds (on a shared machine other processes only ever add time, so the fastest round is the
//! closest to an undisturbed machine).
//!
//! ```text
//! cargo build --release -p spanforge-store --example write_loop
//! # instructions: the workload minus event generation alone, divided by N
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/write_loop seal 65536
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/write_loop gen 65536
//! # wall clock: fastest of ROUNDS rounds of one 8,192-event batch each
//! target/release/examples/write_loop time seal 30
//! target/release/examples/write_loop time sqlite 30 /tmp/w.db
//! target/release/examples/write_loop time sqlite-enc 30 /tmp/w.db
//! target/release/examples/write_loop time jsonl 30 /tmp/w.db
//! ```
//!
//! Workloads, all on the bench's events in four tenants (862-byte span events, or with
//! `SPANFORGE_BENCH_WORKLOAD=reference` the ~540-byte events #3's targets are stated for), 8,192
//! events per batch:
//! * `gen N`: only builds the parsed events (the baseline to subtract);
//! * `seal N`: `append_batch` into the in-memory backend (sign, serialise, leaf hash, tree
//!   append, store in memory), one ledger, batches of 8,192;
//! * `sqlite N [DB]`: the same into a SQLite ledger, one durable commit per batch;
//! * `sqlite-enc N [DB]`: `sqlite` with payload encryption on (`with_data_keys` +
//!   `encrypt_payloads`, data keys from a local KMS keyring in a temporary directory, one per
//!   tenant/actor/session scope); every scope of the workload is created before the timed rounds,
//!   as in the criterion bench `ingest/sqlite_durable_encrypted`;
//! * `jsonl N [DB]`: `ingest_streaming` of JSON lines into SQLite, parsing included, one commit
//!   per 8,192 lines.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cpu_time::{ProcessTime, ThreadTime};
use spanforge_chain::compat::HmacSecret;
use spanforge_event::Event;
use spanforge_store::{
    Backend, HmacKey, InputLine, Ledger, Location, MemoryBackend, SqliteLedger, StaticKeys,
};

const BATCH: u64 = 8192;
/// Where the events that create the encrypted workload's scopes are numbered from: far from the
/// timed events, so their ids never meet.
const SCOPE_START: u64 = 2_000_000_000;

type Error = Box<dyn std::error::Error>;

#[path = "../benches/support/workload.rs"]
mod workload;

/// The workload shape `SPANFORGE_BENCH_WORKLOAD` picks, read once.
fn shape() -> Result<workload::Shape, Error> {
    static SHAPE: std::sync::OnceLock<Result<workload::Shape, String>> = std::sync::OnceLock::new();
    Ok(SHAPE.get_or_init(workload::Shape::from_env).clone()?)
}

/// The bench's event `n` (the same ids as `cargo bench -p spanforge-store --bench ledger`), of
/// that shape.
fn event_json(n: u64) -> Result<String, Error> {
    shape()?.event_json(n, 0xBE7C)
}

fn events(start: u64, count: u64) -> Result<Vec<Event>, Error> {
    (start..start + count)
        .map(|n| Ok(Event::from_json_str(&event_json(n)?)?))
        .collect()
}

fn lines(start: u64, count: u64) -> Result<Vec<InputLine>, Error> {
    let source: Arc<str> = Arc::from("bench.jsonl");
    (start..start + count)
        .map(|n| {
            Ok(InputLine::json(
                Location::new(source.clone(), n + 1),
                event_json(n)?,
            ))
        })
        .collect()
}

fn keys() -> Result<StaticKeys, Error> {
    Ok(
        StaticKeys::new().with_default_key(HmacKey::derived(HmacSecret::new_native(
            "bench-signing-secret-0123456789abcdefghijkl",
        )?)),
    )
}

/// Opens a SQLite ledger that encrypts payloads under a fresh local keyring in `dir`, with every
/// (tenant, actor, session) scope of the workload already created (events numbered from
/// `scope_start`, which must not meet the timed events' ids).
fn encrypted_ledger(
    dir: &std::path::Path,
    path: &std::path::Path,
    scope_start: u64,
) -> Result<(SqliteLedger, StaticKeys), Error> {
    let kms = Arc::new(spanforge_crypto::LocalKms::create(
        dir.join("kms.keyring"),
        "payload",
    )?);
    let kek = kms.primary("payload")?;
    let service = Arc::new(spanforge_store::BlockingKms::new(kms, kek)?);
    let mut ledger = SqliteLedger::open(path)?.with_data_keys(service);
    ledger.encrypt_payloads();
    let keys = keys()?;
    // 4 tenants x 97 actors x 13 sessions: every scope the workload's events fall in.
    ledger.append_batch(&keys, events(scope_start, 4 * 97 * 13)?)?;
    Ok((ledger, keys))
}

fn append_all<B: Backend>(
    ledger: &mut Ledger<B>,
    keys: &StaticKeys,
    start: u64,
    n: u64,
) -> Result<(), Error> {
    let mut done = 0;
    while done < n {
        let count = BATCH.min(n - done);
        ledger.append_batch(keys, events(start + done, count)?)?;
        done += count;
    }
    Ok(())
}

fn ingest_all(
    ledger: &mut SqliteLedger,
    keys: &StaticKeys,
    start: u64,
    n: u64,
) -> Result<(), Error> {
    ledger.ingest_streaming(
        keys,
        lines(start, n)?.into_iter().map(Ok),
        BATCH as usize,
        &mut |_| Ok(()),
    )?;
    Ok(())
}

fn db_path(arg: Option<&String>) -> Result<(tempfile::TempDir, std::path::PathBuf), Error> {
    let dir = tempfile::tempdir()?;
    let path = match arg {
        Some(p) => {
            let p = std::path::PathBuf::from(p);
            if p.exists() {
                return Err(format!("{} exists; give a new path", p.display()).into());
            }
            p
        }
        None => dir.path().join("write_loop.db"),
    };
    Ok((dir, path))
}

fn count(n: u64, start: Instant) -> Result<(), Error> {
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{n} events in {secs:.3} s = {:.0} events/s",
        n as f64 / secs
    );
    Ok(())
}

/// Fastest of `rounds` timed batches of 8,192 events; the events are built outside the timing.
fn time(mode: &str, rounds: u32, db: Option<&String>) -> Result<(), Error> {
    let keys = keys()?;
    let (_dir, path) = db_path(db)?;
    let mut sqlite = match mode {
        "sqlite" | "jsonl" => Some(SqliteLedger::open(&path)?),
        "sqlite-enc" => Some(encrypted_ledger(_dir.path(), &path, SCOPE_START)?.0),
        "seal" => None,
        other => return Err(format!("unknown mode {other}").into()),
    };
    let mut best = Duration::MAX;
    let mut total = Duration::ZERO;
    let mut cpu = Duration::ZERO;
    let mut main_cpu = Duration::ZERO;
    // Parsed batches are built before any round, so that a profile of this process shows the
    // write path and not the parser.
    let mut parsed = Vec::new();
    if mode != "jsonl" {
        for round in 0..u64::from(rounds) {
            parsed.push(events(round * BATCH, BATCH)?);
        }
    }
    let mut parsed = parsed.into_iter();
    for round in 0..u64::from(rounds) {
        let start_n = round * BATCH;
        let elapsed = match (mode, sqlite.as_mut()) {
            ("seal", _) => {
                let batch = parsed.next().ok_or("no batch")?;
                let mut ledger = Ledger::new(MemoryBackend::new()?);
                let (t, c) = (Instant::now(), (ProcessTime::now(), ThreadTime::now()));
                ledger.append_batch(&keys, batch)?;
                cpu += c.0.elapsed();
                main_cpu += c.1.elapsed();
                let elapsed = t.elapsed();
                drop(ledger);
                elapsed
            }
            ("sqlite" | "sqlite-enc", Some(ledger)) => {
                let batch = parsed.next().ok_or("no batch")?;
                let (t, c) = (Instant::now(), (ProcessTime::now(), ThreadTime::now()));
                ledger.append_batch(&keys, batch)?;
                cpu += c.0.elapsed();
                main_cpu += c.1.elapsed();
                t.elapsed()
            }
            (_, Some(ledger)) => {
                let batch = lines(start_n, BATCH)?;
                let (t, c) = (Instant::now(), (ProcessTime::now(), ThreadTime::now()));
                ledger.ingest(&keys, batch.into_iter().map(Ok))?;
                cpu += c.0.elapsed();
                main_cpu += c.1.elapsed();
                t.elapsed()
            }
            _ => return Err(format!("unknown mode {mode}").into()),
        };
        best = best.min(elapsed);
        total += elapsed;
    }
    let per = |d: Duration| d.as_secs_f64() / BATCH as f64;
    println!(
        "{mode} ({} workload): best of {rounds} rounds of {BATCH}: {:.0} ns/event = {:.0} events/s (mean {:.0} events/s); \
         CPU time, all threads: {:.0} ns/event, calling thread: {:.0} ns/event",
        shape()?.name(),
        per(best) * 1e9,
        1.0 / per(best),
        f64::from(rounds) / (total.as_secs_f64() / BATCH as f64),
        cpu.as_secs_f64() * 1e9 / (f64::from(rounds) * BATCH as f64),
        main_cpu.as_secs_f64() * 1e9 / (f64::from(rounds) * BATCH as f64),
    );
    Ok(())
}

/// The command line: see the module documentation.
pub(crate) fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map_or("help", String::as_str);
    let n = |i: usize| -> Result<u64, Error> {
        Ok(args.get(i).ok_or("missing count")?.parse::<u64>()?)
    };
    match mode {
        "gen" => {
            let mut made = 0;
            let mut start = 0;
            while start < n(1)? {
                let count = BATCH.min(n(1)? - start);
                made += events(start, count)?.len();
                start += count;
            }
            eprintln!("{made} events built");
            Ok(())
        }
        "seal" => {
            let keys = keys()?;
            let mut ledger = Ledger::new(MemoryBackend::new()?);
            let t = Instant::now();
            append_all(&mut ledger, &keys, 0, n(1)?)?;
            count(n(1)?, t)
        }
        "sqlite" => {
            let keys = keys()?;
            let (_dir, path) = db_path(args.get(2))?;
            let mut ledger = SqliteLedger::open(&path)?;
            let t = Instant::now();
            append_all(&mut ledger, &keys, 0, n(1)?)?;
            count(n(1)?, t)
        }
        "sqlite-enc" => {
            let (dir, path) = db_path(args.get(2))?;
            let (mut ledger, keys) = encrypted_ledger(dir.path(), &path, SCOPE_START)?;
            let t = Instant::now();
            append_all(&mut ledger, &keys, 0, n(1)?)?;
            count(n(1)?, t)
        }
        "jsonl" => {
            let keys = keys()?;
            let (_dir, path) = db_path(args.get(2))?;
            let mut ledger = SqliteLedger::open(&path)?;
            let t = Instant::now();
            ingest_all(&mut ledger, &keys, 0, n(1)?)?;
            count(n(1)?, t)
        }
        "sha" => {
            // The irreducible part: SHA-256 of 64-byte blocks on this machine (SHA-NI when the CPU
            // has it), best of 50 rounds of 16 MiB in 1 KiB messages.
            let data = vec![0x5au8; 1024];
            let mut best = Duration::MAX;
            let mut sink = 0u8;
            for _ in 0..50 {
                let t = Instant::now();
                for _ in 0..16 * 1024 {
                    sink ^= spanforge_chain::merkle::leaf_hash(&data).as_bytes()[0];
                }
                best = best.min(t.elapsed());
            }
            let blocks = 16.0 * 1024.0 * 17.0; // 1,025 bytes + padding = 17 blocks
            println!(
                "sha256: {:.1} ns per 64-byte block ({sink})",
                best.as_secs_f64() * 1e9 / blocks
            );
            Ok(())
        }
        "time" => {
            let which = args.get(1).ok_or("time needs a mode")?;
            let rounds = u32::try_from(n(2)?)?;
            time(which, rounds, args.get(3))
        }
        _ => {
            eprintln!(
                "usage: write_loop gen|seal N | sqlite|sqlite-enc|jsonl N [DB] | time seal|sqlite|sqlite-enc|jsonl ROUNDS [DB]"
            );
            Ok(())
        }
    }
}
