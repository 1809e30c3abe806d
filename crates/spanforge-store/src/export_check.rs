//! Checking an exported chain against signed checkpoints, with no database.
//!
//! [`Ledger::export`](crate::Ledger::export) writes a tenant's envelopes in chain order, each
//! exactly as stored, one per line. A checkpoint of the tenant signs the RFC 6962 root over
//! those stored envelopes (leaf `i` is `SHA-256(0x00 || envelope i)`), so whoever holds an export,
//! a checkpoint saved earlier and the ledger's public key can rebuild the tree from the lines
//! and compare:
//!
//! * an edit to any byte of any line covered by the checkpoint, and an inserted, removed or
//!   reordered line, give another root at the checkpoint's size ([`CheckpointStatus::Forked`]);
//! * an export cut short of the checkpoint's size is [`CheckpointStatus::Truncated`];
//! * lines after the checkpoint's size extend it ([`CheckpointStatus::Consistent`]); only their
//!   signatures cover them until a later checkpoint does.
//!
//! The compatible signatures of the same lines are checked separately, by
//! [`spanforge_chain::compat::ChainVerifier`]; they name the event whose payload or ids were
//! changed, which a root alone cannot.
//!
//! Two kinds of export cannot match a checkpoint even when nothing was changed, and the detail
//! of a mismatch says so: an export limited in time (it does not start at the chain's first
//! event), and the lines of payloads stored encrypted, which the export decrypts while the
//! checkpoint covers their stored, encrypted form.

use std::collections::BTreeMap;

use serde::Serialize;
use spanforge_chain::merkle::{EMPTY_ROOT, Frontier, Hash, leaf_hash};
use spanforge_chain::note::NoteVerifier;

use crate::tenant::TenantId;
use crate::verify::{CheckpointCheck, CheckpointStatus, open_external};

/// What a mismatch may also mean, for the detail of a forked checkpoint.
const MISMATCH_CAUSES: &str = "a line was edited, inserted, removed or reordered, or the export \
     does not start at the chain's first event (--from), or it holds payloads decrypted from \
     encrypted storage, which a checkpoint covers in their stored form";

/// Rebuilds the tree of an exported chain line by line and compares it with checkpoints; see
/// the module docs.
#[derive(Debug)]
pub struct ExportCheck {
    checks: Vec<CheckpointCheck>,
    /// The opened checkpoints, by tree size: their index in `checks`, tenant and root.
    targets: BTreeMap<u64, Vec<(usize, TenantId, Hash)>>,
    frontier: Frontier,
    /// The tenant of the export's first event; every later one must match it.
    tenant: Option<TenantId>,
    problems: Vec<String>,
}

/// The result of [`ExportCheck::finish`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    /// True when a checkpoint of the export's tenant was compared and every checkpoint given
    /// is consistent with the export (or belongs to another tenant), and nothing below is wrong.
    pub valid: bool,
    /// The export's tenant (of its first event).
    pub tenant: Option<TenantId>,
    /// Lines compared.
    pub events: u64,
    /// The root rebuilt from every line, hex.
    pub root: String,
    /// Each checkpoint and what comparing it found.
    pub checkpoints: Vec<CheckpointCheck>,
    /// Problems outside any one checkpoint.
    pub problems: Vec<String>,
}

impl ExportReport {
    /// How many of the export's first events a consistent checkpoint covers whole (the largest
    /// such checkpoint's size); 0 when none does.
    pub fn covered(&self) -> u64 {
        self.checkpoints
            .iter()
            .filter(|c| c.status == CheckpointStatus::Consistent)
            .filter_map(|c| c.size)
            .max()
            .unwrap_or(0)
    }
}

impl ExportCheck {
    /// Opens each signed checkpoint note with `verifiers` (the ledger's public keys). A note
    /// that does not verify or does not name a SpanForge tenant is reported, never trusted.
    pub fn new(notes: &[String], verifiers: &[NoteVerifier]) -> Self {
        let mut check = ExportCheck {
            checks: Vec::with_capacity(notes.len()),
            targets: BTreeMap::new(),
            frontier: Frontier::new(),
            tenant: None,
            problems: Vec::new(),
        };
        for note in notes {
            // Which ledger the checkpoint names is not checked: an export does not say.
            let (found, opened) = open_external(note, verifiers);
            if let Some(opened) = opened {
                let cp = &opened.checkpoint;
                check.targets.entry(cp.size()).or_default().push((
                    check.checks.len(),
                    opened.tenant,
                    *cp.root(),
                ));
            }
            check.checks.push(found);
        }
        check
    }

    /// Adds the export's next line: `envelope` is its exact bytes without the line break, and
    /// `tenant` the tenant its event names (its `org_id`).
    pub fn push(&mut self, envelope: &[u8], tenant: &TenantId) {
        match &self.tenant {
            None => self.tenant = Some(tenant.clone()),
            Some(first) if first != tenant => {
                if self.problems.is_empty() {
                    self.problems.push(format!(
                        "line {} is an event of tenant {tenant}, the export's first of {first}: an export holds one tenant's chain",
                        self.frontier.size() + 1
                    ));
                }
            }
            Some(_) => {}
        }
        // A tree of 2^64 - 1 leaves is far beyond any file; should it ever be reached, the
        // lines after it are simply not compared.
        if self.frontier.push(leaf_hash(envelope)).is_err() {
            return;
        }
        let size = self.frontier.size();
        if let Some(targets) = self.targets.remove(&size) {
            let root = self.frontier.root();
            self.compare(targets, size, &root);
        }
    }

    /// Compares what is left and returns the report. `signatures_checked` says whether the
    /// caller verified the lines' compatible signatures as well: without them, lines that no
    /// consistent checkpoint covers are not verified at all, which makes the report invalid.
    pub fn finish(mut self, signatures_checked: bool) -> ExportReport {
        let size = self.frontier.size();
        let targets = std::mem::take(&mut self.targets);
        for (target_size, list) in targets {
            if target_size == 0 {
                self.compare(list, 0, &EMPTY_ROOT);
                continue;
            }
            for (index, tenant, _) in list {
                if self.tenant.as_ref() != Some(&tenant) {
                    self.not_ours(index, &tenant);
                } else if let Some(check) = self.checks.get_mut(index) {
                    check.status = CheckpointStatus::Truncated;
                    check.detail = Some(format!(
                        "the checkpoint has {target_size} events, the export {size}: events were cut off its end"
                    ));
                }
            }
        }
        let compared = self.checks.iter().any(|c| {
            c.tenant.is_some()
                && c.tenant == self.tenant
                && c.status != CheckpointStatus::NotChecked
        });
        if !compared {
            self.problems.push(match &self.tenant {
                Some(tenant) => format!(
                    "no checkpoint given is of tenant {tenant}, whose chain the export holds"
                ),
                None => "the export holds no events".to_owned(),
            });
        }
        let valid = self.problems.is_empty()
            && self.checks.iter().all(|c| {
                matches!(
                    c.status,
                    CheckpointStatus::Consistent | CheckpointStatus::NotChecked
                )
            });
        let mut report = ExportReport {
            valid,
            tenant: self.tenant,
            events: size,
            root: self.frontier.root().to_hex(),
            checkpoints: self.checks,
            problems: self.problems,
        };
        // Said only when nothing else is wrong: otherwise the other findings explain it.
        let covered = report.covered();
        if !signatures_checked && report.valid && covered < size {
            report.valid = false;
            report.problems.push(format!(
                "{} events after the first {covered} are covered by no checkpoint given, and without an HMAC key their signatures were not checked: they are not verified",
                size - covered
            ));
        }
        report
    }

    fn compare(&mut self, targets: Vec<(usize, TenantId, Hash)>, size: u64, root: &Hash) {
        for (index, tenant, want) in targets {
            if self.tenant.as_ref() != Some(&tenant) {
                self.not_ours(index, &tenant);
                continue;
            }
            let Some(check) = self.checks.get_mut(index) else {
                continue;
            };
            if want == *root {
                check.status = CheckpointStatus::Consistent;
            } else {
                check.status = CheckpointStatus::Forked;
                check.detail = Some(format!(
                    "the export's first {size} lines have the root {}, the checkpoint {}: {MISMATCH_CAUSES}",
                    root.to_hex(),
                    want.to_hex()
                ));
            }
        }
    }

    /// A checkpoint of another tenant than the export's: left unchecked, and said so.
    fn not_ours(&mut self, index: usize, tenant: &TenantId) {
        let export = self
            .tenant
            .as_ref()
            .map_or_else(|| "none".to_owned(), ToString::to_string);
        if let Some(check) = self.checks.get_mut(index) {
            check.status = CheckpointStatus::NotChecked;
            check.detail = Some(format!(
                "the checkpoint is of tenant {tenant}, the export of {export}"
            ));
        }
    }
}
