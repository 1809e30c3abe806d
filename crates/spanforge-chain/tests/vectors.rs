//! Runs every transparency-dev Merkle proof vector in `../shared/vectors/merkle/` one by one,
//! and cross-checks the store-backed proof generator against the vectors' happy paths.
//!
//! The vectors are raw bytes, while the typed API takes 32-byte [`Hash`] values. Inclusion
//! vectors go through the typed verifiers (a field of the wrong length is refused at the type
//! boundary); consistency vectors go through the byte-level entry points
//! (`verify_consistency_bytes`, `verify_subtree_consistency_bytes`), which answer the cases that
//! never read a hash's content (equal sizes, empty subtrees) on the bytes as given, exactly as
//! the vectors expect, and check everything else strictly.

// Test helpers outside #[test] functions may unwrap: a failure is a broken fixture.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use spanforge_chain::Error;
use spanforge_chain::merkle::{
    Hash, MemoryTree, consistency_proof, inclusion_proof, subtree_consistency_proof,
    subtree_inclusion_proof, subtree_root, verify_consistency_bytes, verify_inclusion,
    verify_subtree_consistency_bytes, verify_subtree_inclusion,
};

const EXPECTED_FILES: usize = 518;

fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SPANFORGE_SHARED_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

fn vector_dir() -> PathBuf {
    let dir = shared_dir().join("vectors/merkle");
    assert!(
        dir.is_dir(),
        "Merkle vectors not found at {}; set SPANFORGE_SHARED_DIR to the shared directory",
        dir.display()
    );
    dir
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_json(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            out.push(path);
        }
    }
}

struct Vector {
    json: Value,
}

impl Vector {
    fn u64(&self, key: &str) -> u64 {
        self.json[key]
            .as_u64()
            .unwrap_or_else(|| panic!("field {key} is not a u64"))
    }

    fn bytes(&self, key: &str) -> Vec<u8> {
        let text = self.json[key]
            .as_str()
            .unwrap_or_else(|| panic!("field {key} is not a string"));
        BASE64.decode(text).expect("vector base64")
    }

    fn root(&self, key: &'static str) -> Result<Hash, Error> {
        Hash::from_slice(&self.bytes(key), key)
    }

    fn raw_proof(&self) -> Vec<Vec<u8>> {
        match &self.json["proof"] {
            Value::Null => Vec::new(),
            Value::Array(items) => items
                .iter()
                .map(|item| BASE64.decode(item.as_str().expect("proof entry")).unwrap())
                .collect(),
            other => panic!("proof is neither null nor an array: {other}"),
        }
    }

    fn leaf(&self) -> Result<Hash, Error> {
        Hash::from_slice(&self.bytes("leafHash"), "leafHash")
    }

    fn proof(&self) -> Result<Vec<Hash>, Error> {
        match &self.json["proof"] {
            Value::Null => Ok(Vec::new()),
            Value::Array(items) => items
                .iter()
                .map(|item| {
                    let bytes = BASE64.decode(item.as_str().expect("proof entry")).unwrap();
                    Hash::from_slice(&bytes, "proof")
                })
                .collect(),
            other => panic!("proof is neither null nor an array: {other}"),
        }
    }

    fn want_err(&self) -> bool {
        self.json["wantErr"].as_bool().expect("wantErr")
    }

    /// Runs the verifier this vector's kind calls for.
    fn run(&self, kind: &str) -> Result<(), Error> {
        match kind {
            "inclusion" => verify_inclusion(
                self.u64("leafIdx"),
                self.u64("treeSize"),
                &self.leaf()?,
                &self.proof()?,
                &self.root("root")?,
            ),
            "consistency" => verify_consistency_bytes(
                self.u64("size1"),
                self.u64("size2"),
                &self.raw_proof(),
                &self.bytes("root1"),
                &self.bytes("root2"),
            ),
            "subtreeinclusion" => verify_subtree_inclusion(
                self.u64("leafIdx"),
                self.u64("start"),
                self.u64("end"),
                &self.leaf()?,
                &self.proof()?,
                &self.root("root")?,
            ),
            "subtreeconsistency" => verify_subtree_consistency_bytes(
                self.u64("start"),
                self.u64("end"),
                self.u64("size"),
                &self.raw_proof(),
                &self.bytes("root1"),
                &self.bytes("root2"),
            ),
            other => panic!("unknown vector kind {other}"),
        }
    }
}

fn load(path: &Path) -> Vector {
    let text = std::fs::read_to_string(path).unwrap();
    Vector {
        json: serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    }
}

fn all_vectors() -> (PathBuf, Vec<PathBuf>) {
    let dir = vector_dir();
    let mut files = Vec::new();
    collect_json(&dir, &mut files);
    files.sort();
    (dir, files)
}

fn relative(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir)
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

#[test]
fn every_vector_file_behaves_as_specified() {
    let (dir, files) = all_vectors();
    assert_eq!(
        files.len(),
        EXPECTED_FILES,
        "expected {EXPECTED_FILES} vector files under {}",
        dir.display()
    );
    let mut failures = Vec::new();
    let mut by_kind = std::collections::BTreeMap::<String, usize>::new();
    for path in &files {
        let rel = relative(&dir, path);
        let kind = rel.split('/').next().unwrap().to_owned();
        *by_kind.entry(kind.clone()).or_default() += 1;
        let vector = load(path);
        let result = vector.run(&kind);
        if result.is_err() != vector.want_err() {
            failures.push(format!(
                "{rel}: wantErr={} but got {result:?}",
                vector.want_err()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vector files failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    assert_eq!(by_kind["inclusion"] + by_kind["consistency"], 196);
}

/// The eight RFC 6962 test leaves the transparency-dev happy-path vectors are built from.
fn rfc_tree() -> MemoryTree {
    let mut tree = MemoryTree::new();
    for leaf in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ] {
        tree.append_leaf(&hex::decode(leaf).unwrap()).unwrap();
    }
    tree
}

#[test]
fn generated_proofs_equal_the_vector_proofs() {
    let (dir, files) = all_vectors();
    let tree = rfc_tree();
    // RFC 6962 known-answer root for all eight leaves, through the store-backed path.
    assert_eq!(
        tree.root_at(8).unwrap().to_hex(),
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    );
    assert_eq!(tree.root(), tree.root_at(8).unwrap());
    let mut compared = 0;
    for path in &files {
        let rel = relative(&dir, path);
        if !rel.ends_with("happy-path.json") {
            continue;
        }
        let kind = rel.split('/').next().unwrap();
        let v = load(path);
        let want = v.proof().unwrap();
        let got = match kind {
            "inclusion" => {
                let n = v.u64("treeSize");
                if n > tree.size() || tree.root_at(n).unwrap() != v.root("root").unwrap() {
                    continue;
                }
                inclusion_proof(&tree, v.u64("leafIdx"), n).unwrap()
            }
            "consistency" => {
                let n = v.u64("size2");
                if n > tree.size() || tree.root_at(n).unwrap() != v.root("root2").unwrap() {
                    continue;
                }
                consistency_proof(&tree, v.u64("size1"), n).unwrap()
            }
            "subtreeinclusion" => {
                let (start, end) = (v.u64("start"), v.u64("end"));
                if end > tree.size()
                    || subtree_root(&tree, start, end).unwrap() != v.root("root").unwrap()
                {
                    continue;
                }
                subtree_inclusion_proof(&tree, v.u64("leafIdx"), start, end).unwrap()
            }
            "subtreeconsistency" => {
                let n = v.u64("size");
                if n > tree.size() || tree.root_at(n).unwrap() != v.root("root2").unwrap() {
                    continue;
                }
                subtree_consistency_proof(&tree, v.u64("start"), v.u64("end"), n).unwrap()
            }
            _ => unreachable!(),
        };
        assert_eq!(got, want, "{rel}: generated proof differs from the vector");
        compared += 1;
    }
    eprintln!("compared {compared} generated proofs with vector happy paths");
    assert!(
        compared >= 12,
        "only {compared} happy paths were comparable"
    );
}
