//! Builds a large SQLite ledger and verifies it, reporting throughput, CPU time and peak memory
//! (`VmHWM` from `/proc/self/status`), so the "memory stays flat while verifying" claim can be
//! checked on any size the disk allows.
//!
//! ```text
//! cargo run --release -p spanforge-store --example verify_rss -- build /path/ledger.db 2000000
//! cargo run --release -p spanforge-store --example verify_rss -- verify /path/ledger.db
//! SPANFORGE_BENCH_WORKLOAD=reference cargo run --release -p spanforge-store --example verify_rss -- build /path/small.db 1000000
//! cargo run --release -p spanforge-store --example verify_rss -- floor /path/small.db hash
//! ```
//!
//! `build` appends the span workload (862-byte events), or with `SPANFORGE_BENCH_WORKLOAD=reference`
//! the ~540-byte events #3's targets are stated for (`benches/support/workload.rs`).
//! `SPANFORGE_SIGNING_KEY` replaces the example's signing secret (to verify a ledger another
//! program built). Run the two steps as separate processes: the peak memory of `verify` is then verification's
//! own. CPU time is user + system time of the process (all threads); on a shared machine it is
//! a steadier measure than wall time.
//!
//! `floor` measures what verification cannot go below on this host: the same reads, and with
//! `hash` the SHA-256 work the formats fix, without any of verification's own checks (see
//! [`floor`]).

use std::time::Instant;

use spanforge_chain::compat::HmacSecret;
use spanforge_event::Event;
use spanforge_store::{HmacKey, SqliteLedger, StaticKeys, VerifyOptions};

#[path = "../benches/support/workload.rs"]
mod workload;

fn event(shape: workload::Shape, n: u64) -> Result<Event, Box<dyn std::error::Error>> {
    Ok(Event::from_json_str(&shape.event_json(n, 0x5EED)?)?)
}
const BATCH: u64 = 8192;

/// The example's own signing secret, or `SPANFORGE_SIGNING_KEY` when set, so that `verify` also
/// runs on ledgers built elsewhere (for example the evidence-package bench's).
fn keys() -> Result<StaticKeys, Box<dyn std::error::Error>> {
    let secret = std::env::var("SPANFORGE_SIGNING_KEY")
        .unwrap_or_else(|_| "rss-example-signing-secret-0123456789abcdef".to_owned());
    Ok(StaticKeys::new().with_default_key(HmacKey::derived(HmacSecret::new_native(&secret)?)))
}

/// Peak resident set size in KiB.
fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU time of this process, in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: verify_rss build PATH COUNT | verify_rss verify PATH | verify_rss floor PATH [hash]";
    let (Some(mode), Some(path)) = (args.get(1), args.get(2)) else {
        return Err(usage.into());
    };
    let keys = keys()?;
    let mut ledger = SqliteLedger::open(path)?;
    let start = Instant::now();
    let cpu0 = cpu_seconds();
    match mode.as_str() {
        "build" => {
            let count: u64 = args.get(3).ok_or(usage)?.parse()?;
            let shape = workload::Shape::from_env()?;
            let mut n = ledger.tenants()?.iter().map(|t| t.size).sum::<u64>();
            let end = n + count;
            while n < end {
                let batch = (n..(n + BATCH).min(end))
                    .map(|n| event(shape, n))
                    .collect::<Result<Vec<_>, _>>()?;
                n += batch.len() as u64;
                ledger.append_batch(&keys, batch)?;
            }
            report("appended", count, start, cpu0);
            println!("workload: {}", shape.name());
        }
        "verify" => {
            let report_ = ledger.verify(&keys, &VerifyOptions::new())?;
            report("verified", report_.events, start, cpu0);
            println!("valid: {}", report_.valid);
            if !report_.valid {
                return Err("the ledger did not verify".into());
            }
        }
        "floor" => {
            let hashing = args.get(3).map(String::as_str) == Some("hash");
            let events = floor(&ledger, hashing)?;
            report(
                if hashing { "read and hashed" } else { "read" },
                events,
                start,
                cpu0,
            );
        }
        _ => return Err(usage.into()),
    }
    Ok(())
}

/// What this host allows verification at most, with none of its parsing, comparing or folding:
/// every row read as verification reads it (the same per-thread readers, chunks of 1,024 and
/// columns), and with `hash` also the SHA-256 work the formats fix per event: the leaf over the
/// whole envelope, a checksum over a payload-sized span (the reference workload's payloads are
/// 109 bytes), the HMAC over two ids and a checksum, and one tree node (17 compressions for a
/// reference-sized event). Events with larger payloads cost verification more checksum blocks
/// than this counts, so on them the figure overstates the ceiling, which keeps it an upper bound.
fn floor(ledger: &SqliteLedger, hashing: bool) -> Result<u64, Box<dyn std::error::Error>> {
    use spanforge_event::ids::Checksum;
    use spanforge_event::sha256::sha256_prefixed;
    use spanforge_store::{Backend, Reader};
    use std::sync::atomic::{AtomicU64, Ordering};

    const CHUNK: u64 = 1024;
    let snapshot = ledger.backend().read()?;
    let threads = rayon::current_num_threads();
    let secret = HmacSecret::new_native("floor-measurement-secret-0123456789abcdef")?;
    let id = spanforge_event::EventId::parse("01JF0000000000000000000000")?;
    let events = AtomicU64::new(0);
    for tenant in snapshot.tenants()? {
        let Some(last) = snapshot.last_seq(tenant.key)? else {
            continue;
        };
        let chunks = last / CHUNK + 1;
        let claimed = AtomicU64::new(0);
        let mut readers = snapshot.scan_readers(threads)?;
        std::thread::scope(|s| {
            let workers: Vec<_> = readers
                .iter_mut()
                .map(|reader| {
                    let (claimed, events, secret, id) = (&claimed, &events, &secret, &id);
                    s.spawn(move || -> Result<(), spanforge_store::Error> {
                        let mut node = [0u8; 32];
                        loop {
                            let chunk = claimed.fetch_add(1, Ordering::Relaxed);
                            if chunk >= chunks {
                                return Ok(());
                            }
                            let from = chunk * CHUNK;
                            let mut rows = 0;
                            reader.scan(
                                tenant.key,
                                from..(from + CHUNK).min(last + 1),
                                &mut |row| {
                                    rows += 1;
                                    if hashing {
                                        let leaf = sha256_prefixed(0, row.envelope);
                                        let span = &row.envelope[..row.envelope.len().min(109)];
                                        let checksum = Checksum::of_canonical(span);
                                        std::hint::black_box(secret.sign_parts(
                                            id,
                                            &checksum,
                                            Some(id),
                                        ));
                                        let mut pair = [0u8; 64];
                                        pair[..32].copy_from_slice(&leaf);
                                        pair[32..].copy_from_slice(&node);
                                        node = sha256_prefixed(1, &pair);
                                    } else {
                                        std::hint::black_box(row.envelope.len());
                                    }
                                    true
                                },
                            )?;
                            events.fetch_add(rows, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .try_for_each(|w| w.join().expect("a floor thread panicked"))
        })?;
    }
    Ok(events.into_inner())
}

fn report(what: &str, events: u64, start: Instant, cpu0: f64) {
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    println!(
        "{what} {events} events in {wall:.2} s wall ({:.0} events/s), {cpu:.2} s CPU ({:.0} events per CPU-second), peak RSS {} MiB",
        events as f64 / wall,
        events as f64 / cpu.max(1e-9),
        vm_hwm_kib() / 1024
    );
}
