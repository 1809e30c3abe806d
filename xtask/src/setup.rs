//! `cargo xtask setup`: installs what the tests need from outside Cargo.
//!
//! Everything a fresh machine lacks is installed here, so that CI on a brand-new machine and a
//! developer's first run behave the same:
//!
//! - Debian packages listed in `scripts/apt-packages.txt` (only those not yet installed);
//! - a Python virtual environment at `target/venv` with the pinned packages of
//!   `scripts/requirements-test.txt` (the reference SDK that generated our vectors, the OSCAL
//!   validator, the KMS emulator). A stamp file holding the requirements' content skips the
//!   install when nothing changed.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::run;

/// Optional features that CI builds on their own: `(package, feature)`.
pub(crate) const FEATURES: &[(&str, &str)] = &[
    ("spanforge-cli", "aws-kms"),
    ("spanforge-crypto", "aws-kms"),
    ("spanforge-mapping", "testing"),
];

pub(crate) fn install(root: &Path) -> Result<()> {
    apt(root)?;
    python(root)
}

fn apt(root: &Path) -> Result<()> {
    let list = root.join("scripts/apt-packages.txt");
    let Ok(text) = fs::read_to_string(&list) else {
        return Ok(());
    };
    let wanted: Vec<&str> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect();
    let missing: Vec<&str> = wanted
        .into_iter()
        .filter(|pkg| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", pkg])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
                .unwrap_or(false)
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    run(Command::new("apt-get").arg("update").arg("-qq"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn python(root: &Path) -> Result<()> {
    let reqs = root.join("scripts/requirements-test.txt");
    let Ok(wanted) = fs::read_to_string(&reqs) else {
        return Ok(());
    };
    let venv = root.join("target/venv");
    let py = venv.join("bin/python");
    let stamp = venv.join(".spanforge-requirements");
    if py.exists() && fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    if !py.exists() {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    run(Command::new(&py).args(["-m", "pip", "install", "-q", "--upgrade", "pip"]))?;
    run(Command::new(&py)
        .args(["-m", "pip", "install", "-q", "-r"])
        .arg(&reqs))?;
    fs::write(&stamp, wanted).with_context(|| format!("cannot write {}", stamp.display()))
}
