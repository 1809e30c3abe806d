//! The package's OSCAL assessment results pass a real OSCAL validator (compliance-trestle).
//!
//! The test needs the Python venv that `cargo xtask setup` creates at `<workspace>/target/venv`
//! (or the one named by `SPANFORGE_VENV`) and fails, naming that command, when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use spanforge_catalog::FrameworkId;

use crate::support::*;

fn trestle() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv =
        std::env::var_os("SPANFORGE_VENV").map_or_else(|| root.join("target/venv"), PathBuf::from);
    let bin = venv.join("bin/trestle");
    assert!(
        bin.is_file(),
        "compliance-trestle is not installed at {}: run `cargo xtask setup` from the workspace root \
         (or set SPANFORGE_VENV to a venv with the packages of scripts/requirements-test.txt)",
        bin.display()
    );
    bin
}

fn run(trestle: &Path, dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(trestle)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn assessment_results_pass_trestle_validation() {
    let trestle = trestle();
    let mut f = shared();
    let workspace = tempfile::tempdir().unwrap();
    let (ok, out) = run(&trestle, workspace.path(), &["init"]);
    assert!(ok, "trestle init failed:\n{out}");
    let mut written = Vec::new();
    for fw in [FrameworkId::Soc2, FrameworkId::NistAiRmf, FrameworkId::Gdpr] {
        let (dir, _) = standard_package(&mut f, fw);
        let target = workspace
            .path()
            .join("assessment-results")
            .join(format!("pkg-{fw}"))
            .join("assessment-results.json");
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(dir.join("oscal/assessment-results.json"), &target).unwrap();
        written.push(target);
    }
    let (ok, out) = run(&trestle, workspace.path(), &["validate", "-a"]);
    assert!(ok, "trestle rejected the assessment results:\n{out}");
    for path in &written {
        let shown = path.display().to_string();
        assert!(
            out.lines()
                .any(|l| l.starts_with("VALID") && l.contains(&shown)),
            "trestle did not report {shown} as valid:\n{out}"
        );
    }
}
