//! `spanforge compliance`, `model`, `tenant` and `readiness` against a ledger holding a
//! generated workload.

// Fixture helpers unwrap: a failure there is a test failure with its message.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use spanforge_mapping::period::Day;
use spanforge_mapping::testing::Workload;
use spanforge_store::SqliteLedger;

use crate::support::{KeyedLedger, Run, keyed_ledger, spanforge};

const SECRET: &str = "cli-compliance-test-secret-0123456789";

/// A ledger with a 30-day workload signed with the keys of a keyring made by `spanforge keys
/// init`, and the public key file of `spanforge keys export-public`.
struct Setup {
    dir: tempfile::TempDir,
    db: PathBuf,
    keyring: PathBuf,
    pubkey: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let KeyedLedger {
        db,
        keyring,
        pubkey,
        keys,
    } = keyed_ledger(dir.path(), "ledger");
    let mut ledger = SqliteLedger::open(&db).unwrap();
    Workload::new(Day::parse("2026-01-01").unwrap(), 30)
        .with_calls_per_day(5)
        .append_to(&mut ledger, &keys)
        .unwrap();
    Setup {
        dir,
        db,
        keyring,
        pubkey,
    }
}

impl Setup {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = spanforge();
        cmd.args(args)
            .arg("--db")
            .arg(&self.db)
            .arg("--keyring")
            .arg(&self.keyring);
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        self.cmd(args).output().unwrap().into()
    }

    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn verify(dir: &Path, pubkey: &Path) -> Run {
    spanforge()
        .args(["compliance", "verify-package"])
        .arg(dir)
        .arg("--pubkey")
        .arg(pubkey)
        .output()
        .unwrap()
        .into()
}

#[test]
fn generate_verify_and_detect_a_changed_byte() {
    let s = setup();
    let out = s.out("pkg");
    let r = s.run(&[
        "compliance",
        "generate",
        "--model-id",
        "claims-llm",
        "--framework",
        "soc2",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-30",
        "--org",
        "acme",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("evidence package written"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("verify-package"));
    let ok = verify(&out, &s.pubkey);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.starts_with("OK:"), "{}", ok.stdout);
    // One changed byte: exit 1, the file named.
    let path = out.join("package.json");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[10] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let bad = verify(&out, &s.pubkey);
    assert_eq!(bad.code, 1, "{}", bad.stdout);
    assert!(bad.stdout.contains("package.json:"), "{}", bad.stdout);
    // The JSON form names it too.
    let json: serde_json::Value = serde_json::from_str(
        &spanforge()
            .args([
                "compliance",
                "verify-package",
                out.to_str().unwrap(),
                "--pubkey",
                s.pubkey.to_str().unwrap(),
                "--format",
                "json",
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["problems"][0]["file"], "package.json");
    // A bad framework or date is a usage error.
    let r = s.run(&[
        "compliance",
        "generate",
        "--framework",
        "iso27001",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-30",
        "--out",
        s.out("x").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    let r = s.run(&[
        "compliance",
        "generate",
        "--framework",
        "soc2",
        "--from",
        "2026-01-01",
        "--to",
        "2026-02-30",
        "--out",
        s.out("y").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("2026-02-30"), "{}", r.stderr);
}

#[test]
fn gaps_print_without_writing_a_package() {
    let s = setup();
    let r = s.run(&[
        "compliance",
        "gaps",
        "--framework",
        "soc2",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-30",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("Gap report:"), "{}", r.stdout);
    // The unapproved deployment of the acme tenant makes change management a gap.
    assert!(r.stdout.contains("CC8.1"), "{}", r.stdout);
    assert!(r.stdout.contains("SF-CHG-01"));
    assert!(!s.out("pkg").exists());
    let json = s.run(&[
        "compliance",
        "gaps",
        "--framework",
        "gdpr",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-30",
        "--format",
        "json",
    ]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["framework"], "gdpr");
    assert!(!v["criteria"].as_array().unwrap().is_empty());
}

#[test]
fn a_tampered_ledger_stops_generation_with_exit_1() {
    let s = setup();
    {
        let db = rusqlite_open(&s.db);
        db.execute_batch("DROP TRIGGER events_append_only_update;")
            .unwrap();
        db.execute_batch(
            "UPDATE events SET envelope = CAST(replace(CAST(envelope AS TEXT), 'ml-lead', 'ml-leaf') AS BLOB) \
             WHERE id = (SELECT id FROM events WHERE event_type = 'model_registry.registered' LIMIT 1);",
        )
        .unwrap();
    }
    let out = s.out("tampered");
    let r = s.run(&[
        "compliance",
        "generate",
        "--framework",
        "soc2",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-30",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("failed integrity verification"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
}

#[test]
fn generate_without_a_keyring_says_how_to_make_one() {
    let s = setup();
    let out = s.out("unsigned");
    let r: Run = spanforge()
        .current_dir(s.dir.path())
        .env_remove("SPANFORGE_KEYRING")
        .args(["compliance", "generate", "--framework", "soc2"])
        .args(["--from", "2026-01-01", "--to", "2026-01-30", "--out"])
        .arg(&out)
        .arg("--db")
        .arg(&s.db)
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("spanforge keys init"), "{}", r.stderr);
    assert!(!out.exists());
}

fn rusqlite_open(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[test]
fn the_model_registry_persists_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reg.db");
    let model = |args: &[&str], actor: &str| -> Run {
        spanforge()
            .env("SPANFORGE_SIGNING_KEY", SECRET)
            .arg("model")
            .args(args)
            .args([
                "--db",
                db.to_str().unwrap(),
                "--org",
                "acme",
                "--actor",
                actor,
            ])
            .output()
            .unwrap()
            .into()
    };
    let list = |args: &[&str]| -> Run {
        spanforge()
            .args(["model"])
            .args(args)
            .args(["--db", db.to_str().unwrap(), "--org", "acme"])
            .output()
            .unwrap()
            .into()
    };
    let r = model(
        &[
            "register",
            "--model-id",
            "ranker",
            "--model-version",
            "1",
            "--owner",
            "search",
            "--purpose",
            "ranking",
            "--risk-tier",
            "medium",
        ],
        "alice",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("model_registry.registered"));
    let l = list(&["list"]);
    assert!(l.stdout.contains("ranker"), "{}", l.stdout);
    let r = model(
        &["deploy", "--model-id", "ranker", "--model-version", "1"],
        "bob",
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no approval"), "{}", r.stderr);
    let r = model(
        &["approve", "--model-id", "ranker", "--model-version", "1"],
        "alice",
    );
    assert_eq!(r.code, 2, "self-approval must be refused");
    assert_eq!(
        model(
            &["approve", "--model-id", "ranker", "--model-version", "1"],
            "carol"
        )
        .code,
        0
    );
    assert_eq!(
        model(
            &[
                "evaluate",
                "--model-id",
                "ranker",
                "--model-version",
                "1",
                "--metric",
                "ndcg",
                "--score",
                "0.7",
                "--threshold",
                "0.6"
            ],
            "ci"
        )
        .code,
        0
    );
    let r = model(
        &["deploy", "--model-id", "ranker", "--model-version", "1"],
        "bob",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("dev.spanforge.model.deployed"));
    let show = list(&["show", "ranker"]);
    assert!(show.stdout.contains("deployed"), "{}", show.stdout);
    assert!(show.stdout.contains("approved"), "{}", show.stdout);
    let r = model(&["retire", "--model-id", "ghost", "--reason", "x"], "carol");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not registered"), "{}", r.stderr);
    assert_eq!(
        model(
            &["retire", "--model-id", "ranker", "--reason", "replaced"],
            "carol"
        )
        .code,
        0
    );
    let json = list(&["list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["models"]["ranker"]["versions"]["1"]["status"], "retired");
    // Every event the registry wrote is valid under the reference grammar.
    let ledger = SqliteLedger::open_existing(&db).unwrap();
    let acme = spanforge_store::TenantId::org("acme").unwrap();
    for line in ledger.export(&acme, None, None).unwrap() {
        let line = line.unwrap();
        let event = spanforge_event::Event::from_json_str(&line).unwrap();
        event.check_payload_strict().unwrap();
    }
    // No actor: a usage error.
    let r: Run = spanforge()
        .env("SPANFORGE_SIGNING_KEY", SECRET)
        .args([
            "model",
            "deprecate",
            "--model-id",
            "ranker",
            "--reason",
            "x",
            "--db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--actor"), "{}", r.stderr);
}

#[test]
fn isolation_and_readiness_from_the_ledger() {
    let s = setup();
    let r = s.run(&["tenant", "verify-isolation"]);
    // Both tenants share the one signing key: a warning, not a failure.
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Isolation: OK"), "{}", r.stdout);
    assert!(r.stdout.contains("warning:"), "{}", r.stdout);
    let r = s.run(&[
        "readiness",
        "--framework",
        "soc2",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-30",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("Readiness for soc2"), "{}", r.stdout);
    for category in [
        "security",
        "availability",
        "processing-integrity",
        "confidentiality",
        "privacy",
    ] {
        assert!(r.stdout.contains(&format!("\n{category} (")), "{category}");
    }
    assert!(r.stdout.contains("The auditor's eight questions"));
    let json = s.run(&[
        "readiness",
        "--framework",
        "soc2",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-30",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["questions"].as_array().unwrap().len(), 8);
}
