//! Crash safety: a child process ingests a stream with group commit and prints an ack after each
//! durable commit; the parent kills it with SIGKILL at random moments, then checks that the
//! ledger verifies, still extends every checkpoint taken before, and holds every acked event.
//!
//! The child is this test binary itself, re-executed with an environment variable that selects
//! the (otherwise ignored) `crash::ingest_child` entry point.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use spanforge_store::{JsonlLines, SqliteLedger, StaticKeys, VerifyOptions};

use crate::common::*;

const CHILD_DB: &str = "SPANFORGE_STORE_CRASH_DB";
const CHILD_BATCH: &str = "SPANFORGE_STORE_CRASH_BATCH";
const KILLS: usize = 50;
/// Kills per database: each database is resumed after every crash but the first, and a new one
/// starts every few kills so that verification after each kill stays quick in debug builds.
const KILLS_PER_DB: usize = 5;

fn child_keys(ledger: &SqliteLedger) -> StaticKeys {
    StaticKeys::new()
        .with_default_key(key())
        .with_tenant_key(org("acme"), key_b())
        .with_checkpoint_signer(log_signer(ledger))
}

#[test]
#[ignore = "entry point of the child process that crash_safety_under_sigkill kills"]
fn ingest_child() {
    let Some(db) = std::env::var_os(CHILD_DB) else {
        panic!("run only as the child of crash_safety_under_sigkill");
    };
    let batch: usize = std::env::var(CHILD_BATCH).unwrap().parse().unwrap();
    let mut ledger = SqliteLedger::open(db).unwrap();
    let keys = child_keys(&ledger);
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    ledger
        .ingest_streaming(&keys, JsonlLines::new("-", stdin), batch, &mut |receipt| {
            // Acknowledge only now: the commit has returned, the batch is on disk.
            let last = receipt.last_event_id.as_deref().unwrap_or("-");
            writeln!(stdout, "acked {} {last}", receipt.total)
                .and_then(|()| stdout.flush())
                .map_err(|e| spanforge_store::Error::backend("acknowledging", e))
        })
        .unwrap();
}

/// A small deterministic generator (xorshift64*), seeded from the clock and printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A small event (the crash test is about durability, not size), in one of three tenants.
fn line(n: u64) -> String {
    let org = match n % 3 {
        0 => String::new(),
        1 => r#""org_id":"acme","#.to_owned(),
        _ => r#""org_id":"globex","#.to_owned(),
    };
    let ts = spanforge_event::Timestamp::from_unix_micros(T0 + n as i64 * 1000).unwrap();
    format!(
        r#"{{"event_id":"{}","event_type":"decision.made",{org}"payload":{{"n":{n}}},"schema_version":"2.0","source":"crash@1.0.0","timestamp":"{}"}}"#,
        event_id(n, T0 + n as i64 * 1000),
        ts.as_str()
    )
}

#[test]
fn crash_safety_under_sigkill() {
    let seed = std::env::var("SPANFORGE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test seed: {seed} (set SPANFORGE_CRASH_SEED to replay)");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let started = Instant::now();
    let mut next_n = 0u64;
    let mut acked_total = 0u64;
    let mut acked_all = 0u64;
    let mut checkpoints: Vec<String> = Vec::new();
    let mut kills_with_acks = 0;

    for round in 0..KILLS {
        let db = dir
            .path()
            .join(format!("crash-{}.db", round / KILLS_PER_DB));
        if round % KILLS_PER_DB == 0 {
            acked_total = 0;
            checkpoints.clear();
        }
        let batch = 1 + rng.below(96);
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash::ingest_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
                "-q",
            ])
            .env(CHILD_DB, &db)
            .env(CHILD_BATCH, batch.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();

        // Feed fresh events until the pipe breaks; remember what was sent, in order.
        let sent = Arc::new(Mutex::new(Vec::<String>::new()));
        let mut stdin = child.stdin.take().unwrap();
        let writer = {
            let sent = Arc::clone(&sent);
            let start = next_n;
            std::thread::spawn(move || {
                let mut n = start;
                loop {
                    let text = line(n);
                    let id = event_id(n, T0 + n as i64 * 1000).to_string();
                    sent.lock().unwrap().push(id);
                    if stdin
                        .write_all(text.as_bytes())
                        .and_then(|()| stdin.write_all(b"\n"))
                        .is_err()
                    {
                        return n + 1;
                    }
                    n += 1;
                }
            })
        };
        let stdout = child.stdout.take().unwrap();
        let (first_ack, first_ack_seen) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut last: Option<(u64, String)> = None;
            for l in BufReader::new(stdout).lines() {
                let Ok(l) = l else { break };
                if let Some(rest) = l.strip_prefix("acked ") {
                    let (count, id) = rest.split_once(' ').unwrap();
                    last = Some((count.parse().unwrap(), id.to_owned()));
                    let _ = first_ack.send(());
                }
            }
            last
        });

        // Even rounds kill at any moment (start-up, WAL recovery, ingest, commit); odd rounds
        // wait for the first ack so that, however loaded the machine, half the kills land while
        // acknowledged data exists.
        if round % 2 == 1 {
            first_ack_seen
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("round {round}: no ack within 30 s"));
        }
        std::thread::sleep(Duration::from_millis(rng.below(100)));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "round {round}: the child ended on its own ({status}): {stderr}"
        );
        let acked = reader.join().unwrap();
        next_n = writer.join().unwrap();

        // Every acked event of this round is the prefix of what was sent.
        let t_killed = started.elapsed();
        let sent = sent.lock().unwrap();
        let mut ledger = SqliteLedger::open(&db).unwrap();
        let keys = child_keys(&ledger);
        if let Some((count, last_id)) = &acked {
            kills_with_acks += 1;
            let count = *count as usize;
            assert_eq!(
                sent.get(count - 1),
                Some(last_id),
                "round {round}: ack does not match the input order"
            );
            for id in &sent[..count] {
                assert!(
                    ledger.get(id).unwrap().is_some(),
                    "round {round}: acked event {id} was lost"
                );
            }
            acked_total += count as u64;
            acked_all += count as u64;
        }
        // The ledger verifies and extends every checkpoint taken after earlier rounds, so no
        // event acked in an earlier round was lost either.
        let opts = VerifyOptions::new()
            .with_checkpoint_file(&checkpoints.join("\n"))
            .unwrap_or_default();
        let report = ledger.verify(&keys, &opts).unwrap();
        assert!(report.valid, "round {round}: {report:#?}");
        assert!(
            report.events >= acked_total,
            "round {round}: {} events stored, {acked_total} acked",
            report.events
        );
        let t_verified = started.elapsed();
        checkpoints = ledger
            .checkpoint_all(&keys)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        if std::env::var_os("SPANFORGE_CRASH_TRACE").is_some() {
            eprintln!(
                "round {round}: killed at {t_killed:?}, verified {} events by {t_verified:?}, checkpointed by {:?}, acked {:?}",
                report.events,
                started.elapsed(),
                acked.as_ref().map(|a| a.0)
            );
        }
    }
    eprintln!(
        "{KILLS} kills ({kills_with_acks} after at least one ack), {acked_all} events acked, {next_n} sent, {:?}",
        started.elapsed()
    );
    assert!(kills_with_acks >= KILLS / 2);
}
