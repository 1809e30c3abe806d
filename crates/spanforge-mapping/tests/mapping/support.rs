//! Shared fixtures: a ledger holding a realistic generated workload, its keys, and helpers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use spanforge_catalog::FrameworkId;
use spanforge_mapping::engine::{Assessment, AssessmentRequest};
use spanforge_mapping::package::generate_package;

use spanforge_chain::compat::HmacSecret;
use spanforge_chain::note::{NoteSigner, NoteVerifier};
use spanforge_mapping::period::{Day, Period};
use spanforge_mapping::rules::RuleSet;
use spanforge_mapping::testing::Workload;
use spanforge_store::{HmacKey, SqliteLedger, StaticKeys};

/// The first day of the standard workload.
pub const START: &str = "2026-01-01";
/// Days in the standard workload.
pub const DAYS: u32 = 90;

/// A ledger with its keys and the checkpoint (package) signer.
pub struct Fixture {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
    /// The ledger.
    pub ledger: SqliteLedger,
    /// The keys.
    pub keys: StaticKeys,
    /// The checkpoint and package signer.
    pub signer: NoteSigner,
    /// Packages of the standard request per framework, generated once.
    pub packages: BTreeMap<FrameworkId, (PathBuf, Assessment)>,
}

impl Fixture {
    /// The signer's public key.
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    /// A fresh output directory inside the fixture's directory.
    pub fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join("out").join(name)
    }
}

/// Builds a ledger holding `workload` in a fresh temporary directory.
pub fn fixture(workload: &Workload) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = SqliteLedger::open(dir.path().join("ledger.db")).unwrap();
    let signer = NoteSigner::from_seed(&ledger.log_key_name(), &[42; 32]).unwrap();
    let keys = StaticKeys::new()
        .with_default_key(HmacKey::derived(
            HmacSecret::new_native("test-signing-secret-0123456789abcdef").unwrap(),
        ))
        .with_checkpoint_signer(NoteSigner::from_seed(&ledger.log_key_name(), &[42; 32]).unwrap());
    let events = workload.append_to(&mut ledger, &keys).unwrap();
    assert!(
        events > 10_000 || workload.days < 90,
        "the standard workload is realistic in size"
    );
    Fixture {
        dir,
        ledger,
        keys,
        signer,
        packages: BTreeMap::new(),
    }
}

/// The standard realistic workload: two tenants, 90 days, one unapproved deployment.
pub fn standard_workload() -> Workload {
    Workload::new(Day::parse(START).unwrap(), DAYS).with_calls_per_day(20)
}

/// The standard workload's ledger, built once and shared (tests take the lock).
pub fn shared() -> MutexGuard<'static, Fixture> {
    static SHARED: OnceLock<Mutex<Fixture>> = OnceLock::new();
    SHARED
        .get_or_init(|| Mutex::new(fixture(&standard_workload())))
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The standard period (the whole workload).
pub fn period() -> Period {
    let start = Day::parse(START).unwrap();
    Period::new(start, start.plus(DAYS as i32 - 1)).unwrap()
}

/// An instant well after the standard period.
pub fn now() -> i64 {
    period().end_micros() + 30 * 86_400_000_000
}

/// The shipped rule set.
pub fn rules() -> RuleSet {
    RuleSet::shipped().unwrap()
}

/// Every file under `root`, relative, sorted.
pub fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    out.sort();
    out
}

/// The standard package (all tenants, all models, census) of `framework` over the shared
/// ledger, generated on first use; returns its directory and assessment.
pub fn standard_package(f: &mut Fixture, framework: FrameworkId) -> (PathBuf, Assessment) {
    if let Some(p) = f.packages.get(&framework) {
        return p.clone();
    }
    let out = f.out(&format!("standard-{framework}"));
    let req = AssessmentRequest::new(framework, period(), now());
    let summary = generate_package(
        &mut f.ledger,
        &f.keys,
        &rules(),
        &req,
        &out,
        &f.signer,
        "test",
    )
    .unwrap();
    let entry = (summary.dir, summary.assessment);
    f.packages.insert(framework, entry.clone());
    entry
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    for rel in files_under(from) {
        let target = to.join(&rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(from.join(&rel), target).unwrap();
    }
}
