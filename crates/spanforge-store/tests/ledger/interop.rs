//! Interoperability with the REAL reference SDK (`spanforge==1.0.4` in a Python venv): its
//! `verify_chain` accepts our exports, and chains it signs are accepted by our ingest.
//!
//! The venv is found through `SPANFORGE_VENV` or at `<workspace>/target/venv`. These tests FAIL
//! when it is missing; create it with `cargo xtask setup` (or
//! `python3 -m venv target/venv && target/venv/bin/pip install spanforge==1.0.4`).

use std::path::{Path, PathBuf};
use std::process::Command;

use spanforge_store::{TenantId, VerifyOptions};

use crate::common::*;

fn python() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(find_python).clone()
}

fn find_python() -> PathBuf {
    let venv = std::env::var_os("SPANFORGE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/venv"));
    let python = venv.join("bin/python");
    let probe = Command::new(&python)
        .args(["-c", "import spanforge.signing"])
        .current_dir(std::env::temp_dir())
        .output();
    match probe {
        Ok(out) if out.status.success() => python,
        _ => panic!(
            "the reference SDK is not available at {}: run `cargo xtask setup` (or `python3 -m venv target/venv && \
             target/venv/bin/pip install spanforge==1.0.4`), or point SPANFORGE_VENV at a venv with spanforge==1.0.4",
            venv.display()
        ),
    }
}

/// Runs `verify_chain` on every job of a JSON list `[[path, key, key_map], ...]` in one process.
const VERIFY: &str = r#"
import json, sys
from spanforge import Event
from spanforge.signing import verify_chain
results = []
for path, key, key_map in json.load(open(sys.argv[1], encoding="utf-8")):
    events = [Event.from_json(line) for line in open(path, encoding="utf-8") if line.strip()]
    r = verify_chain(events, key, key_map=key_map or None)
    results.append({"valid": r.valid, "tampered_count": r.tampered_count, "gaps": list(r.gaps),
                    "first_tampered": r.first_tampered, "events": len(events)})
print(json.dumps(results))
"#;

#[derive(Debug)]
struct RefResult {
    valid: bool,
    tampered: u64,
    gaps: Vec<String>,
    events: u64,
}

/// Verifies each `(lines, key, key_map JSON)` job with the reference's `verify_chain`.
fn reference_verify(dir: &Path, jobs: &[(Vec<String>, &str, &str)]) -> Vec<RefResult> {
    let mut list = Vec::new();
    for (i, (lines, key, key_map)) in jobs.iter().enumerate() {
        let file = dir.join(format!("export-{i}.jsonl"));
        std::fs::write(
            &file,
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
        let key_map: serde_json::Value = serde_json::from_str(key_map).unwrap();
        list.push(serde_json::json!([file.to_str().unwrap(), key, key_map]));
    }
    let jobs_file = dir.join("jobs.json");
    std::fs::write(&jobs_file, serde_json::to_vec(&list).unwrap()).unwrap();
    // `import spanforge` writes ./.sf-gate into the working directory; keep it in the temp dir.
    let out = Command::new(python())
        .args(["-c", VERIFY, jobs_file.to_str().unwrap()])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reference verify_chain failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    v.iter()
        .map(|v| RefResult {
            valid: v["valid"].as_bool().unwrap(),
            tampered: v["tampered_count"].as_u64().unwrap(),
            gaps: v["gaps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g.as_str().unwrap().to_owned())
                .collect(),
            events: v["events"].as_u64().unwrap(),
        })
        .collect()
}

#[test]
fn the_reference_verify_chain_accepts_every_tenant_export() {
    let mut t = ledger();
    let keys = keys(&t.ledger);
    let mut all = events(0, 50, Some("acme"));
    all.extend(events(50, 20, None));
    all.extend(events(70, 30, Some("acme")));
    all.extend(events(100, 10, Some("globex")));
    // Pre-signed reference input is re-linked and re-signed too.
    let chain = reference_chain(&events(200, 5, Some("acme")), SECRET);
    all.extend(chain);
    t.ledger.ingest(&keys, lines("in.jsonl", &all)).unwrap();
    let tenants = [
        (org("acme"), 85),
        (TenantId::Default, 20),
        (org("globex"), 10),
    ];
    let mut jobs: Vec<(Vec<String>, &str, &str)> = tenants
        .iter()
        .map(|(tenant, _)| (export_lines(&t.ledger, tenant), SECRET, "{}"))
        .collect();
    // The reference's verdict is not a rubber stamp: a payload edit fails there too.
    let mut edited = export_lines(&t.ledger, &org("globex"));
    edited[4] = edited[4].replacen(r#""n":104"#, r#""n":105"#, 1);
    jobs.push((edited, SECRET, "{}"));
    // A time-limited export starts mid-chain: the reference reports its first event as a gap.
    let part: Vec<String> = t
        .ledger
        .export(
            &org("acme"),
            Some(spanforge_event::Timestamp::from_unix_micros(T0 + 10_000_000).unwrap()),
            None,
        )
        .unwrap()
        .map(Result::unwrap)
        .collect();
    jobs.push((part, SECRET, "{}"));

    let results = reference_verify(t.dir.path(), &jobs);
    for ((tenant, n), r) in tenants.iter().zip(&results) {
        assert!(
            r.valid && r.tampered == 0 && r.gaps.is_empty(),
            "{tenant}: {r:?}"
        );
        assert_eq!(r.events, *n);
    }
    assert!(
        !results[3].valid && results[3].tampered == 1,
        "{:?}",
        results[3]
    );
    assert_eq!(results[4].tampered, 0);
    assert_eq!(results[4].gaps.len(), 1, "{:?}", results[4]);
}

#[test]
fn the_reference_follows_our_rotation_with_a_key_map() {
    let (t, rotation_id) = crate::rotation::rotated();
    let lines = export_lines(&t.ledger, &org("acme"));
    let key_map = format!(r#"{{"{rotation_id}": "{SECRET_B}"}}"#);
    let results = reference_verify(
        t.dir.path(),
        &[(lines.clone(), SECRET, &key_map), (lines, SECRET, "{}")],
    );
    assert!(results[0].valid, "{:?}", results[0]);
    assert_eq!(results[0].events, 11);
    assert!(
        !results[1].valid,
        "without the key_map the reference cannot follow the rotation: {:?}",
        results[1]
    );
}

const SIGN: &str = r#"
import sys
from spanforge import Event
from spanforge.event import Tags
from spanforge.signing import sign
key, out = sys.argv[1], sys.argv[2]
prev = None
with open(out, "w", encoding="utf-8") as f:
    for i in range(12):
        e = Event(event_type="llm.trace.span.completed", source="ref-bot@1.0.4", org_id="acme",
                  payload={"i": i, "x": 1.5e-07, "big": 10**20, "s": "é\u2028", "model": {"name": "gpt-4o"}},
                  tags=Tags(env="prod"))
        e = sign(e, key, prev)
        f.write(e.to_json() + "\n")
        prev = e
"#;

#[test]
fn chains_the_reference_signs_are_verified_and_ingested() {
    let mut t = ledger();
    let keys = keys(&t.ledger);
    let file = t.dir.path().join("ref.jsonl");
    let out = Command::new(python())
        .args(["-c", SIGN, SECRET, file.to_str().unwrap()])
        .current_dir(t.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let receipt = t
        .ledger
        .ingest(
            &keys,
            spanforge_store::JsonlLines::new("ref.jsonl", text.as_bytes()),
        )
        .unwrap();
    assert_eq!(receipt.verified_presigned, 12);
    assert!(t.ledger.verify(&keys, &VerifyOptions::new()).unwrap().valid);

    // The same file with one payload edited is refused whole, naming the line.
    let tampered = text.replacen(r#""i":7"#, r#""i":70"#, 1);
    let mut fresh = ledger();
    let err = fresh
        .ledger
        .ingest(
            &keys,
            spanforge_store::JsonlLines::new("ref.jsonl", tampered.as_bytes()),
        )
        .unwrap_err();
    assert_eq!(err.location().map(|l| l.line), Some(8), "{err}");
    assert_eq!(count_rows(&fresh.path), 0);
}
