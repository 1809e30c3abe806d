//! Verifying a package with nothing but its directory and the signer's public key.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use spanforge_chain::checkpoint::SignedCheckpoint;
use spanforge_chain::merkle::{Hash, leaf_hash};
use spanforge_chain::note::{Note, NoteVerifier};
use spanforge_chain::tlog_proof::{Leaf, TlogProof};
use spanforge_store::split_checkpoints;

use super::{PACKAGE_FORMAT, hash_file, list_files};
use crate::error::{Error, Result};

/// One problem found in a package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackageProblem {
    /// The file concerned (relative to the package directory).
    pub file: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The result of [`verify_package`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackageReport {
    /// True when no problem was found.
    pub ok: bool,
    /// Files whose hash was checked.
    pub files_checked: usize,
    /// Inclusion proofs checked.
    pub proofs_checked: usize,
    /// Signed checkpoints checked.
    pub checkpoints_checked: usize,
    /// Every problem, naming the file.
    pub problems: Vec<PackageProblem>,
}

struct Problems(Vec<PackageProblem>);

impl Problems {
    fn add(&mut self, file: &str, reason: impl Into<String>) {
        self.0.push(PackageProblem {
            file: file.to_owned(),
            reason: reason.into(),
        });
    }
}

/// Verifies a package: the manifest's signature with `verifiers` (the signer's public keys),
/// the SHA-256 and size of every file it lists, that no file is missing or added, every
/// checkpoint's signature, and every inclusion proof against the package's checkpoints.
///
/// Mismatches are reported in the [`PackageReport`], each naming its file; an error means the
/// package could not be read at all.
///
/// # Errors
///
/// [`Error::Package`] when the directory or its manifest cannot be read.
pub fn verify_package(dir: &Path, verifiers: &[NoteVerifier]) -> Result<PackageReport> {
    if !dir.is_dir() {
        return Err(Error::Package {
            path: dir.to_owned(),
            reason: "not a directory".to_owned(),
        });
    }
    let mut problems = Problems(Vec::new());
    let manifest_bytes = fs::read(dir.join("manifest.json")).map_err(|e| Error::Package {
        path: dir.join("manifest.json"),
        reason: e.to_string(),
    })?;
    let manifest_hash = hex::encode(Sha256::digest(&manifest_bytes));

    // 1. The signed note pins the manifest.
    match fs::read(dir.join("manifest.sig")) {
        Err(e) => problems.add("manifest.sig", format!("cannot be read: {e}")),
        Ok(sig) => match Note::open(&sig, verifiers) {
            Err(e) => problems.add(
                "manifest.sig",
                format!("the signature does not verify with the given public key: {e}"),
            ),
            Ok(note) => {
                let expected = format!("{PACKAGE_FORMAT}\nmanifest.json sha256:{manifest_hash}\n");
                if note.text() != expected {
                    if note.text().starts_with(PACKAGE_FORMAT) {
                        problems.add(
                            "manifest.json",
                            "its SHA-256 differs from the one the signed manifest.sig names",
                        );
                    } else {
                        problems.add(
                            "manifest.sig",
                            "the signed text is not a package manifest note",
                        );
                    }
                }
            }
        },
    }

    // 2. Every listed file, and nothing else.
    let manifest: Value = match serde_json::from_slice(&manifest_bytes) {
        Ok(v) => v,
        Err(e) => {
            problems.add("manifest.json", format!("is not valid JSON: {e}"));
            return Ok(finish(problems, 0, 0, 0));
        }
    };
    let listed: Vec<&Value> = manifest
        .get("files")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    if listed.is_empty() {
        problems.add("manifest.json", "lists no files");
    }
    let mut names = BTreeSet::new();
    let mut files_checked = 0;
    for entry in listed {
        let (Some(path), Some(sha), Some(bytes)) = (
            entry.get("path").and_then(Value::as_str),
            entry.get("sha256").and_then(Value::as_str),
            entry.get("bytes").and_then(Value::as_u64),
        ) else {
            problems.add("manifest.json", format!("malformed entry {entry}"));
            continue;
        };
        if path
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
            || path.starts_with('/')
        {
            problems.add("manifest.json", format!("unsafe path {path:?}"));
            continue;
        }
        names.insert(path.to_owned());
        let file = dir.join(path);
        if !file.is_file() {
            problems.add(path, "is listed in the manifest but missing");
            continue;
        }
        files_checked += 1;
        match hash_file(&file) {
            Err(e) => problems.add(path, format!("cannot be read: {e}")),
            Ok((actual, size)) => {
                if actual != sha {
                    problems.add(
                        path,
                        format!("SHA-256 is {actual}, the manifest says {sha}"),
                    );
                } else if size != bytes {
                    problems.add(
                        path,
                        format!("size is {size} bytes, the manifest says {bytes}"),
                    );
                }
            }
        }
    }
    for rel in list_files(dir)? {
        if rel != "manifest.json" && rel != "manifest.sig" && !names.contains(&rel) {
            problems.add(&rel, "is not listed in the manifest");
        }
    }

    // 3. Checkpoints: each signed by the given key.
    let mut checkpoints: Vec<String> = Vec::new();
    let cp_file = "integrity/checkpoints.txt";
    match fs::read_to_string(dir.join(cp_file)) {
        Err(e) => problems.add(cp_file, format!("cannot be read: {e}")),
        Ok(text) => {
            match split_checkpoints(&text) {
                Err(e) => problems.add(cp_file, e.to_string()),
                Ok(notes) => {
                    for note in notes {
                        let ok = verifiers
                            .iter()
                            .any(|v| SignedCheckpoint::open(note.as_bytes(), v).is_ok());
                        if ok {
                            checkpoints.push(note);
                        } else {
                            problems.add(cp_file, "a checkpoint's signature does not verify with the given public key");
                        }
                    }
                }
            }
        }
    }
    let checkpoints_checked = checkpoints.len();

    // 4. Inclusion proofs against those checkpoints.
    let index_file = "integrity/proofs/index.json";
    let mut proofs_checked = 0;
    let index: Value = match fs::read(dir.join(index_file)).map(|b| serde_json::from_slice(&b)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            problems.add(index_file, format!("is not valid JSON: {e}"));
            Value::Null
        }
        Err(e) => {
            problems.add(index_file, format!("cannot be read: {e}"));
            Value::Null
        }
    };
    for entry in index
        .get("proofs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(file), Some(leaf_hex), Some(seq)) = (
            entry.get("proof").and_then(Value::as_str),
            entry.get("leaf_hash").and_then(Value::as_str),
            entry.get("seq").and_then(Value::as_u64),
        ) else {
            problems.add(index_file, format!("malformed entry {entry}"));
            continue;
        };
        let rel = format!("integrity/proofs/{file}");
        if file.contains('/') || file.contains("..") {
            problems.add(index_file, format!("unsafe proof file name {file:?}"));
            continue;
        }
        let Ok(leaf) = Hash::from_hex(leaf_hex, "leaf_hash") else {
            problems.add(index_file, format!("bad leaf hash {leaf_hex:?}"));
            continue;
        };
        let bytes = match fs::read(dir.join(&rel)) {
            Ok(b) => b,
            Err(e) => {
                problems.add(&rel, format!("cannot be read: {e}"));
                continue;
            }
        };
        proofs_checked += 1;
        let proof = match TlogProof::parse(&bytes) {
            Ok(p) => p,
            Err(e) => {
                problems.add(&rel, format!("is not a tlog-proof bundle: {e}"));
                continue;
            }
        };
        if proof.index() != seq {
            problems.add(
                &rel,
                format!("proves leaf {}, the index says {seq}", proof.index()),
            );
        }
        if !checkpoints.iter().any(|c| c == proof.checkpoint_note()) {
            problems.add(
                &rel,
                "its checkpoint is not one of the package's signed checkpoints",
            );
        }
        if let Some(extra) = proof.extra()
            && leaf_hash(extra) != leaf
        {
            problems.add(
                &rel,
                "the event it carries does not hash to the listed leaf",
            );
        }
        let verified = verifiers
            .iter()
            .any(|v| proof.verify(Leaf::Hash(leaf), v).is_ok());
        if !verified {
            problems.add(
                &rel,
                "the inclusion proof does not verify against its signed checkpoint",
            );
        }
    }
    Ok(finish(
        problems,
        files_checked,
        proofs_checked,
        checkpoints_checked,
    ))
}

fn finish(problems: Problems, files: usize, proofs: usize, checkpoints: usize) -> PackageReport {
    PackageReport {
        ok: problems.0.is_empty(),
        files_checked: files,
        proofs_checked: proofs,
        checkpoints_checked: checkpoints,
        problems: problems.0,
    }
}
