//! Helpers shared by the CLI tests: running the binary and locating fixtures.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The result of one run of the binary.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A command for the binary with a clean environment for keys and databases.
pub(crate) fn spanforge() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spanforge"));
    for (k, _) in std::env::vars() {
        if k.starts_with("SPANFORGE_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Runs the binary with `args`.
pub(crate) fn run(args: &[&str]) -> Run {
    spanforge()
        .args(args)
        .output()
        .expect("spawn spanforge")
        .into()
}

/// Runs the binary with `args`, feeding `stdin`.
pub(crate) fn run_stdin(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = spanforge()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn spanforge");
    // Feed stdin from another thread so that a child writing a lot to stdout cannot deadlock
    // against us while we are still writing.
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || pipe.write_all(&data));
    let out = child.wait_with_output().expect("wait for spanforge");
    // A child that exits before reading all of stdin closes the pipe; that is its right.
    let _ = writer.join().expect("stdin writer thread");
    out.into()
}
