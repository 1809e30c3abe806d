//! Tidy checks, run as ordinary tests (`cargo test -p xtask`).
//!
//! They keep the workspace honest about things no compiler checks: the crate layering of
//! `ARCHITECTURE.md`, module docs, and leftover stubs.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use cargo_metadata::{DependencyKind, MetadataCommand};

/// The layer of each workspace crate. A crate may depend only on crates of a strictly lower
/// layer. Keep in sync with the code map in `ARCHITECTURE.md`.
const LAYERS: &[(&str, u8)] = &[
    ("spanforge-event", 0),
    ("spanforge-crypto", 1),
    ("spanforge-catalog", 1),
    ("spanforge-chain", 2),
    ("spanforge-store", 3),
    ("spanforge-mapping", 4),
    ("spanforge-alert", 4),
    ("spanforge-export", 4),
    ("spanforge-cli", 5),
    ("spanforge-tests", 6),
    ("xtask", 6),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

#[test]
fn crates_depend_only_on_lower_layers() {
    let meta = MetadataCommand::new()
        .manifest_path(root().join("Cargo.toml"))
        .exec()
        .expect("cargo metadata runs");
    let layer: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut wrong = Vec::new();
    for pkg in meta.workspace_packages() {
        let Some(&mine) = layer.get(pkg.name.as_str()) else {
            wrong.push(format!(
                "{} is not in the LAYERS table of xtask/src/tidy.rs",
                pkg.name
            ));
            continue;
        };
        for dep in &pkg.dependencies {
            if dep.kind == DependencyKind::Development {
                continue;
            }
            if let Some(&theirs) = layer.get(dep.name.as_str())
                && theirs >= mine
            {
                wrong.push(format!(
                    "{} (layer {mine}) depends on {} (layer {theirs})",
                    pkg.name, dep.name
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "layering violations:\n{}",
        wrong.join("\n")
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_source_file_starts_with_module_docs() {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    rust_files(&root().join("xtask/src"), &mut files);
    let missing: Vec<String> = files
        .iter()
        .filter(|p| p.components().any(|c| c.as_os_str() == "src"))
        .filter(|p| {
            let text = fs::read_to_string(p).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not open with a `//!` module doc:\n{}",
        missing.join("\n")
    );
}

#[test]
fn no_stubs_are_left_in_library_code() {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    // Spelled in pieces so that this file does not match its own search.
    let needles = [
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
        concat!("dbg", "!("),
    ];
    let mut hits = Vec::new();
    for path in files {
        let text = fs::read_to_string(&path).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            if needles.iter().any(|s| line.contains(s)) {
                hits.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(hits.is_empty(), "stubs left in code:\n{}", hits.join("\n"));
}
