//! `spanforge keys`, `ingest` and `audit`: the ledger end to end, through the binary.

// Helpers outside `#[test]` functions may unwrap too: a failure there is a broken fixture.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Run, root, spanforge};

/// A scratch directory with a ledger and a keyring, and helpers to run commands in it.
pub(crate) struct Workspace {
    pub(crate) dir: tempfile::TempDir,
}

impl Workspace {
    pub(crate) fn new() -> Self {
        let ws = Workspace {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        let r = ws.run(&["keys", "init"]);
        assert_eq!(r.code, 0, "keys init: {}", r.stderr);
        ws
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cmd(&self) -> Command {
        let mut cmd = spanforge();
        cmd.current_dir(self.dir.path());
        cmd
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        self.cmd().args(args).output().expect("spawn").into()
    }

    pub(crate) fn secret(&self) -> String {
        let ring: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(self.path("spanforge-keys.json")).unwrap())
                .unwrap();
        ring["hmac_keys"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|k| k["status"] == "active")
            .unwrap()["secret"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// The bundled example events with their integrity fields removed (they were signed by the
/// Python SDK with a key this ledger does not have).
fn unsigned_examples(to: &Path) -> usize {
    let text = fs::read_to_string(root().join("examples/events.jsonl")).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let event = spanforge_event::Event::from_json_str(line).unwrap();
        out.push_str(&event.without_integrity().to_canonical_json());
        out.push('\n');
    }
    fs::write(to, out).unwrap();
    text.lines().count()
}

fn python() -> PathBuf {
    let venv = std::env::var_os("SPANFORGE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/venv"));
    let py = venv.join("bin/python");
    assert!(
        py.is_file(),
        "the reference SDK's venv is missing at {}: run `cargo xtask setup`",
        venv.display()
    );
    py
}

/// Runs the reference SDK's own verify_chain on a JSONL chain.
pub(crate) fn reference_verify(chain: &Path, key: &str, key_map: &str) -> String {
    let script = r#"
import json, sys
from spanforge.event import Event
from spanforge.signing import verify_chain
events = [Event.from_dict(json.loads(l)) for l in open(sys.argv[1]) if l.strip()]
r = verify_chain(events, sys.argv[2], key_map=json.loads(sys.argv[3]) or None)
print(json.dumps({"valid": r.valid, "tampered": r.tampered_count, "gaps": list(r.gaps), "n": len(events)}))
"#;
    let out = Command::new(python())
        .args(["-c", script])
        .arg(chain)
        .arg(key)
        .arg(key_map)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn keyring_is_private_and_never_printed() {
    let ws = Workspace::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(ws.path("spanforge-keys.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let secret = ws.secret();
    let again = ws.run(&["keys", "init"]);
    assert_eq!(again.code, 2, "a second init must not overwrite the keys");
    for args in [
        &["keys", "list"][..],
        &["keys", "list", "--format", "json"],
        &["keys", "export-public"],
    ] {
        let r = ws.run(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(
            !r.stdout.contains(&secret) && !r.stderr.contains(&secret),
            "{args:?} leaked the secret"
        );
    }
    // A keyring others can read is refused.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(
            ws.path("spanforge-keys.json"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let r = ws.run(&["keys", "list"]);
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains("readable by others"), "{}", r.stderr);
    }
}

#[test]
fn ingest_verify_prove_and_export_for_the_reference_sdk() {
    let ws = Workspace::new();
    let n = unsigned_examples(&ws.path("events.jsonl"));
    let r = ws.run(&["ingest", "events.jsonl"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!("ingested {n} events")),
        "{}",
        r.stdout
    );

    let r = ws.run(&["audit", "verify", "--format", "json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let report: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["events"], n);

    // One event proven to someone who has only the public key.
    assert_eq!(
        ws.run(&["keys", "export-public", "--out", "pub.key"]).code,
        0
    );
    let first = fs::read_to_string(ws.path("events.jsonl")).unwrap();
    let id = spanforge_event::Event::from_json_str(first.lines().next().unwrap())
        .unwrap()
        .event_id()
        .to_string();
    assert_eq!(
        ws.run(&["audit", "prove", "--event-id", &id, "--out", "proof.txt"])
            .code,
        0
    );
    let r = ws.run(&["audit", "verify-proof", "proof.txt", "--pubkey", "pub.key"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let proof = fs::read_to_string(ws.path("proof.txt")).unwrap();
    let bad = proof.replacen("index ", "index 1", 1);
    fs::write(ws.path("bad-proof.txt"), bad).unwrap();
    let r = ws.run(&[
        "audit",
        "verify-proof",
        "bad-proof.txt",
        "--pubkey",
        "pub.key",
    ]);
    assert_eq!(r.code, 1, "a changed index must fail: {}", r.stdout);

    // Every tenant's export verifies with the reference SDK's own verify_chain.
    for org in ["acme", ""] {
        let mut args = vec!["audit", "export", "--out", "chain.jsonl"];
        if !org.is_empty() {
            args.extend(["--org", org]);
        }
        assert_eq!(ws.run(&args).code, 0);
        let verdict = reference_verify(&ws.path("chain.jsonl"), &ws.secret(), "{}");
        assert!(verdict.contains(r#""valid": true"#), "{org}: {verdict}");
        let r = ws.run(&[
            "audit",
            "verify",
            "chain.jsonl",
            "--keyring",
            "spanforge-keys.json",
        ]);
        assert_eq!(r.code, 0, "{org}: {}", r.stdout);
    }
}

/// An auditor holding an export, a checkpoint saved with it and the public key, but no HMAC
/// secret: any edited field, and events cut off the end, fail; the reference SDK still accepts
/// the untampered export.
#[test]
fn an_export_is_verified_against_a_saved_checkpoint_with_only_the_public_key() {
    let ws = Workspace::new();
    unsigned_examples(&ws.path("events.jsonl"));
    assert_eq!(ws.run(&["ingest", "events.jsonl"]).code, 0);
    for args in [
        &["audit", "checkpoint", "--org", "acme", "--out", "cp.txt"][..],
        &["keys", "export-public", "--out", "pub.key"],
        &["audit", "export", "--org", "acme", "--out", "acme.jsonl"],
    ] {
        let r = ws.run(args);
        assert_eq!(r.code, 0, "{args:?}: {}{}", r.stdout, r.stderr);
    }
    let verdict = reference_verify(&ws.path("acme.jsonl"), &ws.secret(), "{}");
    assert!(verdict.contains(r#""valid": true"#), "{verdict}");
    // The workspace's keyring is moved away: only the public key is left.
    fs::rename(ws.path("spanforge-keys.json"), ws.path("keys.bak")).unwrap();
    let check = |file: &str| {
        ws.run(&[
            "audit",
            "verify",
            file,
            "--checkpoint",
            "cp.txt",
            "--pubkey",
            "pub.key",
            "--format",
            "json",
        ])
    };
    let r = check("acme.jsonl");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let report: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["signatures_checked"], false);
    assert_eq!(
        report["checkpoint_check"]["checkpoints"][0]["status"],
        "consistent"
    );

    let export = fs::read_to_string(ws.path("acme.jsonl")).unwrap();
    let lines: Vec<&str> = export.lines().collect();
    assert!(lines.len() >= 3, "{export}");
    // A timestamp moved by an hour: outside what the compatible signature covers.
    let moved = lines[1].replacen("\"timestamp\":\"2", "\"timestamp\":\"1", 1);
    assert_ne!(moved, lines[1]);
    let mut edited = lines.clone();
    edited[1] = &moved;
    fs::write(ws.path("edited.jsonl"), edited.join("\n") + "\n").unwrap();
    let r = check("edited.jsonl");
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let report: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(
        report["checkpoint_check"]["checkpoints"][0]["status"],
        "forked"
    );
    // The last event cut off.
    let cut = lines[..lines.len() - 1].join("\n") + "\n";
    fs::write(ws.path("cut.jsonl"), cut).unwrap();
    let r = check("cut.jsonl");
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let report: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(
        report["checkpoint_check"]["checkpoints"][0]["status"],
        "truncated"
    );

    // The public key of another keyring does not open the checkpoint.
    let other = Workspace::new();
    assert_eq!(
        other
            .run(&["keys", "export-public", "--out", "pub.key"])
            .code,
        0
    );
    fs::copy(other.path("pub.key"), ws.path("other.key")).unwrap();
    let r = ws.run(&[
        "audit",
        "verify",
        "acme.jsonl",
        "--checkpoint",
        "cp.txt",
        "--pubkey",
        "other.key",
    ]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("bad_signature"), "{}", r.stdout);
}

#[test]
fn a_tampered_signed_file_is_refused_whole() {
    let ws = Workspace::new();
    unsigned_examples(&ws.path("events.jsonl"));
    assert_eq!(ws.run(&["ingest", "events.jsonl"]).code, 0);
    assert_eq!(
        ws.run(&["audit", "export", "--org", "acme", "--out", "acme.jsonl"])
            .code,
        0
    );
    let before = ws.run(&["audit", "verify", "--format", "json"]).stdout;

    // Re-ingesting the exported, signed chain with one payload edited must be refused, naming
    // the line, and must leave the ledger exactly as it was.
    let text = fs::read_to_string(ws.path("acme.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let victim = lines.len() / 2;
    let edited = lines[victim].replacen("\"payload\":{", "\"payload\":{\"injected\":1,", 1);
    assert_ne!(edited, lines[victim]);
    lines[victim] = edited;
    fs::write(ws.path("tampered.jsonl"), lines.join("\n") + "\n").unwrap();
    // Into a fresh ledger (so no id is a duplicate) under the same keys: the chain is checked
    // before anything is re-signed, and one bad event refuses the file.
    let r = ws.run(&["ingest", "--db", "fresh.db", "tampered.jsonl"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!("tampered.jsonl:{}", victim + 1)),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("nothing"), "{}", r.stderr);
    let r = ws.run(&["audit", "verify", "--db", "fresh.db", "--format", "json"]);
    let fresh: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(fresh["events"], 0, "nothing may be half-written");
    // The untampered export goes in whole, its signatures verified first.
    fs::write(ws.path("clean.jsonl"), text).unwrap();
    let r = ws.run(&["ingest", "--db", "fresh.db", "clean.jsonl"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("arrived signed and were verified first"),
        "{}",
        r.stdout
    );
    // And the original ledger is untouched by all of this.
    assert_eq!(
        ws.run(&["audit", "verify", "--format", "json"]).stdout,
        before
    );
}

#[test]
fn editing_the_database_fails_verification() {
    let ws = Workspace::new();
    unsigned_examples(&ws.path("events.jsonl"));
    assert_eq!(ws.run(&["ingest", "events.jsonl"]).code, 0);
    assert_eq!(ws.run(&["audit", "checkpoint", "--out", "cp.txt"]).code, 0);
    assert_eq!(
        ws.run(&["audit", "verify", "--checkpoint", "cp.txt"]).code,
        0
    );

    // An attacker with the file edits a timestamp, a field the compatible signature does not
    // cover; the Merkle tree over the whole envelope catches it.
    let db = rusqlite::Connection::open(ws.path("spanforge.db")).unwrap();
    let triggers: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in triggers {
        db.execute_batch(&format!("DROP TRIGGER \"{t}\"")).unwrap();
    }
    let cols: Vec<String> = db
        .prepare("SELECT name FROM pragma_table_info('events')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let body = ["envelope", "body", "canonical", "data"]
        .into_iter()
        .find(|c| cols.iter().any(|x| x == c))
        .unwrap_or_else(|| panic!("no envelope column among {cols:?}"));
    let changed = db
        .execute(
            &format!(
                "UPDATE events SET {body} = CAST(replace(CAST({body} AS TEXT), '\"timestamp\":\"2026', '\"timestamp\":\"2025') AS BLOB) \
                 WHERE rowid = (SELECT rowid FROM events ORDER BY rowid LIMIT 1 OFFSET 5)"
            ),
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);
    let r = ws.run(&[
        "audit",
        "verify",
        "--checkpoint",
        "cp.txt",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let report: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(report["valid"], false);
}

#[test]
fn rotation_is_recorded_and_the_rotated_chain_verifies_everywhere() {
    let ws = Workspace::new();
    unsigned_examples(&ws.path("events.jsonl"));
    let text = fs::read_to_string(ws.path("events.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (a, b) = lines.split_at(lines.len() / 2);
    fs::write(ws.path("a.jsonl"), a.join("\n") + "\n").unwrap();
    fs::write(ws.path("b.jsonl"), b.join("\n") + "\n").unwrap();
    assert_eq!(ws.run(&["ingest", "a.jsonl"]).code, 0);
    let old = ws.secret();
    let r = ws.run(&["keys", "rotate", "--by", "ops"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let new = ws.secret();
    assert_ne!(old, new);
    let rotation = r
        .stdout
        .lines()
        .find(|l| l.starts_with("\"acme\": rotated"))
        .and_then(|l| l.split("(event ").nth(1))
        .map(|s| s.trim_end_matches(')').to_owned())
        .unwrap_or_else(|| panic!("rotation of acme reported: {}", r.stdout));
    assert!(!r.stdout.contains(&new) && !r.stdout.contains(&old));
    assert_eq!(ws.run(&["ingest", "b.jsonl"]).code, 0);
    assert_eq!(ws.run(&["audit", "verify"]).code, 0);

    assert_eq!(
        ws.run(&["audit", "export", "--org", "acme", "--out", "acme.jsonl"])
            .code,
        0
    );
    let key_map = format!(r#"{{"{rotation}": "{new}"}}"#);
    let verdict = reference_verify(&ws.path("acme.jsonl"), &old, &key_map);
    assert!(verdict.contains(r#""valid": true"#), "{verdict}");
    // Our verifier needs no key map: it follows the rotation by the new key's fingerprint.
    let r = ws.run(&[
        "audit",
        "verify",
        "acme.jsonl",
        "--keyring",
        "spanforge-keys.json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .contains(&format!("rotation: {rotation}: later events")),
        "{}",
        r.stdout
    );
}

#[test]
fn no_key_is_an_error_not_a_default() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    unsigned_examples(&events);
    let r: Run = spanforge()
        .current_dir(dir.path())
        .args(["ingest", "events.jsonl"])
        .output()
        .unwrap()
        .into();
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("SPANFORGE_SIGNING_KEY"), "{}", r.stderr);
    let r: Run = spanforge()
        .current_dir(dir.path())
        .env("SPANFORGE_SIGNING_KEY", "too-short")
        .args(["ingest", "events.jsonl"])
        .output()
        .unwrap()
        .into();
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("32"), "{}", r.stderr);
    assert!(!r.stderr.contains("too-short"), "{}", r.stderr);
}
