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

/// A ledger and keyring made by `spanforge keys init` in `dir` (files named after `name`), the
/// public key file `spanforge keys export-public` writes, and the keyring's active signing key,
/// for writing fixtures into the ledger through the library.
pub(crate) struct KeyedLedger {
    pub(crate) db: PathBuf,
    pub(crate) keyring: PathBuf,
    pub(crate) pubkey: PathBuf,
    pub(crate) keys: spanforge_store::StaticKeys,
}

#[allow(
    clippy::unwrap_used,
    reason = "a fixture: a failure there is a test failure with its message"
)]
pub(crate) fn keyed_ledger(dir: &std::path::Path, name: &str) -> KeyedLedger {
    let db = dir.join(format!("{name}.db"));
    let keyring = dir.join(format!("{name}-keys.json"));
    let pubkey = dir.join(format!("{name}.pub"));
    for args in [
        &["keys", "init"][..],
        &["keys", "export-public", "--out", pubkey.to_str().unwrap()][..],
    ] {
        let r: Run = spanforge()
            .args(args)
            .arg("--db")
            .arg(&db)
            .arg("--keyring")
            .arg(&keyring)
            .output()
            .unwrap()
            .into();
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    }
    let ring =
        spanforge_chain::keyring::KeyringFile::parse(&std::fs::read_to_string(&keyring).unwrap())
            .unwrap();
    let active = ring.active_hmac(None).unwrap();
    let keys = spanforge_store::StaticKeys::new().with_default_key(spanforge_store::HmacKey::new(
        spanforge_store::KeyId::new(active.id()).unwrap(),
        active.secret().clone(),
    ));
    KeyedLedger {
        db,
        keyring,
        pubkey,
        keys,
    }
}
