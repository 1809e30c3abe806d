//! Validates every OSCAL export with compliance-trestle, a real OSCAL validator.
//!
//! The test needs the Python venv that `cargo xtask setup` creates at
//! `<workspace>/target/venv` (or the one named by `SPANFORGE_VENV`) and fails, naming that
//! command, when it is missing. It writes the exports into a fresh `trestle init` workspace in
//! the layout trestle expects (`catalogs/<name>/catalog.json`, `profiles/<name>/profile.json`,
//! `mapping-collections/<name>/mapping-collection.json`) and runs `trestle validate -a`, which
//! loads each file into trestle's OSCAL 1.2 pydantic models and runs its registered validators.

use std::path::{Path, PathBuf};
use std::process::Command;

use spanforge_catalog::FrameworkId;
use spanforge_catalog::oscal::export_files;

use crate::support::workspace_root;

const SETUP: &str = "cargo xtask setup";

fn trestle() -> PathBuf {
    let venv = std::env::var_os("SPANFORGE_VENV")
        .map_or_else(|| workspace_root().join("target/venv"), PathBuf::from);
    let bin = venv.join(if cfg!(windows) {
        "Scripts/trestle.exe"
    } else {
        "bin/trestle"
    });
    assert!(
        bin.is_file(),
        "compliance-trestle is not installed at {}: run `{SETUP}` from the workspace root \
         (or set SPANFORGE_VENV to a venv that has the packages of scripts/requirements-test.txt)",
        bin.display()
    );
    bin
}

fn run(trestle: &Path, dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(trestle)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", trestle.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Where trestle expects a document with this file name.
fn trestle_path(root: &Path, file_name: &str) -> PathBuf {
    let stem = file_name.trim_end_matches(".json");
    let (dir, model) = if stem.ends_with("-mapping-collection") {
        ("mapping-collections", "mapping-collection")
    } else if stem.ends_with("-profile") {
        ("profiles", "profile")
    } else {
        ("catalogs", "catalog")
    };
    root.join(dir).join(stem).join(format!("{model}.json"))
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn fresh_workspace(trestle: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = run(trestle, dir.path(), &["init"]);
    assert!(ok, "trestle init failed:\n{out}");
    dir
}

#[test]
fn oscal_exports_pass_trestle_validation() {
    let trestle = trestle();
    let workspace = fresh_workspace(&trestle);
    let mut written = Vec::new();
    for fw in FrameworkId::ALL {
        for file in export_files(fw) {
            let path = trestle_path(workspace.path(), &file.file_name);
            if !written.contains(&path) {
                write(&path, &file.to_pretty_json());
                written.push(path);
            }
        }
    }
    // One canonical catalog plus a catalog, profile and mapping collection per framework.
    assert_eq!(written.len(), 1 + 3 * FrameworkId::ALL.len());
    let (ok, out) = run(&trestle, workspace.path(), &["validate", "-a"]);
    assert!(ok, "trestle rejected the exports:\n{out}");
    for path in &written {
        let shown = path.display().to_string();
        assert!(
            out.lines()
                .any(|l| l.starts_with("VALID") && l.contains(&shown)),
            "trestle did not report {shown} as valid:\n{out}"
        );
    }
}

#[test]
fn trestle_rejects_a_broken_export() {
    // Guards the harness: a document with a bad UUID and no metadata must fail.
    let trestle = trestle();
    let workspace = fresh_workspace(&trestle);
    let mut doc = spanforge_catalog::oscal::catalog_json(FrameworkId::Gdpr);
    doc["catalog"]["uuid"] = "not-a-uuid".into();
    let path = trestle_path(workspace.path(), "broken-catalog.json");
    write(&path, &doc.to_string());
    let (ok, out) = run(
        &trestle,
        workspace.path(),
        &["validate", "-f", &path.display().to_string()],
    );
    assert!(!ok, "trestle accepted a broken catalog:\n{out}");
    assert!(out.contains("uuid"), "unexpected trestle output:\n{out}");
}
