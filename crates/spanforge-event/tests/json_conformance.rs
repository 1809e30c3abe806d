//! Conformance of `spanforge_event::json` with the reference SDK's canonical JSON: the shared checksum vectors,
//! a corpus generated with the real CPython `json` module, and property tests.

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use spanforge_event::json::{parse, to_canonical_string};

/// Locates `shared/`: `SPANFORGE_SHARED_DIR` if set, else `<workspace root>/../shared`.
fn shared_dir() -> PathBuf {
    let dir = match std::env::var_os("SPANFORGE_SHARED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    assert!(
        dir.is_dir(),
        "shared vectors directory {} is missing: set SPANFORGE_SHARED_DIR to the shared/ directory",
        dir.display()
    );
    dir
}

fn checksum(canonical: &str) -> String {
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    )
}

mod vectors {
    use super::*;

    #[test]
    fn all_canonical_json_vectors_match_byte_for_byte() {
        let path = shared_dir().join("vectors/canonical-json/vectors.jsonl");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut failures = Vec::new();
        let mut count = 0;
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            count += 1;
            let line_no = index + 1;
            // The wrapper line is read with serde_json, independently of the parser under test.
            let record: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("line {line_no}: bad vector line: {e}"));
            let field = |name: &str| {
                record[name]
                    .as_str()
                    .unwrap_or_else(|| panic!("line {line_no}: missing {name}"))
                    .to_owned()
            };
            let (input, canonical, expected_sum) =
                (field("input_pretty"), field("canonical"), field("checksum"));
            match parse(&input) {
                Err(e) => failures.push(format!("line {line_no}: parse error: {e}")),
                Ok(value) => {
                    let ours = to_canonical_string(&value);
                    if ours != canonical {
                        failures.push(format!("line {line_no}: canonical differs:\n  ours  {ours}\n  want  {canonical}"));
                    } else if checksum(&ours) != expected_sum {
                        failures.push(format!("line {line_no}: checksum differs"));
                    }
                    // Canonical text is a fixed point.
                    match parse(&ours) {
                        Ok(again) if again == value && to_canonical_string(&again) == ours => {}
                        _ => failures.push(format!(
                            "line {line_no}: canonical text does not re-parse to itself"
                        )),
                    }
                }
            }
        }
        assert_eq!(count, 433, "expected 433 vectors in {}", path.display());
        assert!(
            failures.is_empty(),
            "{} of {count} vectors failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}
