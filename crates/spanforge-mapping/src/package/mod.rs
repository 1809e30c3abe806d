//! The evidence package: a directory an auditor can verify with a public key and browse.
//!
//! ```text
//! manifest.json                     every other file with its SHA-256 and size (canonical JSON)
//! manifest.sig                      C2SP signed note over "spanforge-evidence-package/v1" and the
//!                                   SHA-256 of manifest.json, signed with Ed25519
//! package.json                      org, model, framework, period, catalog and rule hashes, the
//!                                   ledger checkpoints the package is bounded by, tool version
//! controls/<ID>/population.jsonl    the population: one projected line per item (no prompt or
//!                                   output text unless asked for)
//! controls/<ID>/selection.json      census, or the deterministic sample and how to re-derive it
//! controls/<ID>/test-results.json   per attribute: method, items tested and failed, period checks
//! controls/<ID>/exceptions.jsonl    every deviation (failed item attribute, exception event,
//!                                   period violation)
//! controls/<ID>/conclusion.json     the conclusion, its reason, coverage and remediation
//! gaps/gap-report.json              every node of the framework: status, missing evidence, steps
//! integrity/ledger-verification.json  the ledger verification the package rests on
//! integrity/checkpoints.txt         the signed checkpoints (one per tenant)
//! integrity/proofs/index.json       the cited events with their leaf hashes
//! integrity/proofs/<event>.tlog-proof  a c2sp.org/tlog-proof@v1 bundle per cited event
//! oscal/assessment-results.json     OSCAL 1.2 assessment results
//! report/index.html                 one self-contained page for people
//! ```
//!
//! Every file is written from the assessment and the ledger state bounded by the checkpoints;
//! nothing reads the clock, so the same ledger and arguments give a byte-identical package.
//!
//! **Signature.** `manifest.sig` is a C2SP signed note (the format of the ledger's
//! checkpoints) whose text is two lines, `spanforge-evidence-package/v1` and
//! `manifest.json sha256:<hex>`. It is signed with the ledger's checkpoint key by default, so
//! the one public key (`vkey`) that verifies the checkpoints also verifies the package.
//!
//! **What verification proves**, and what not: that no file changed since signing, that the
//! signer held the key, and that each cited event is included in the signed tree of its
//! tenant. It does not prove that the events were complete when the SDK first saw them, nor that
//! their timestamps are true.

mod html;
mod oscal;
mod verify;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use spanforge_chain::merkle::leaf_hash;
use spanforge_chain::note::{Note, NoteSigner};
use spanforge_chain::tlog_proof::TlogProof;
use spanforge_store::{Backend, KeyProvider, Ledger};

pub use verify::{PackageProblem, PackageReport, verify_package};

use crate::accumulator::{CitedEvent, EvidenceSink};
use crate::engine::{Assessment, AssessmentRequest, ControlResult, assess};
use crate::error::{Error, Result};
use crate::json;
use crate::rules::RuleSet;

/// First line of the signed manifest note.
pub const PACKAGE_FORMAT: &str = "spanforge-evidence-package/v1";
/// The manifest's `format` value.
pub const MANIFEST_FORMAT: &str = "spanforge-evidence-manifest/v1";

/// Writes population and exception lines into `controls/<ID>/` of a package directory.
struct DirSink {
    root: PathBuf,
    files: HashMap<(String, &'static str), BufWriter<File>>,
}

impl DirSink {
    fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
            files: HashMap::new(),
        }
    }

    /// Appends `lines` (whole lines, each ending with a newline) to a control's file.
    fn write(&mut self, control: &str, name: &'static str, lines: &str) -> Result<()> {
        let key = (control.to_owned(), name);
        if !self.files.contains_key(&key) {
            let dir = self.root.join("controls").join(control);
            fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            let path = dir.join(name);
            let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
            self.files
                .insert(key.clone(), BufWriter::with_capacity(1 << 16, file));
        }
        let path_of = || self.root.join("controls").join(control).join(name);
        if let Some(w) = self.files.get_mut(&key) {
            w.write_all(lines.as_bytes())
                .map_err(|e| Error::io(path_of(), e))?;
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        for ((control, name), mut w) in self.files {
            w.flush()
                .map_err(|e| Error::io(Path::new("controls").join(control).join(name), e))?;
        }
        Ok(())
    }
}

impl EvidenceSink for DirSink {
    fn population_line(&mut self, control: &str, line: &str) -> Result<()> {
        self.write(control, "population.jsonl", &format!("{line}\n"))
    }

    fn exception_line(&mut self, control: &str, line: &str) -> Result<()> {
        self.write(control, "exceptions.jsonl", &format!("{line}\n"))
    }

    fn population_lines(&mut self, control: &str, lines: &str) -> Result<()> {
        self.write(control, "population.jsonl", lines)
    }

    fn exception_lines(&mut self, control: &str, lines: &str) -> Result<()> {
        self.write(control, "exceptions.jsonl", lines)
    }
}

/// What was written.
#[derive(Clone, Debug)]
pub struct PackageSummary {
    /// The package directory.
    pub dir: PathBuf,
    /// Files listed in the manifest.
    pub files: usize,
    /// Their total size.
    pub bytes: u64,
    /// SHA-256 (hex) of `manifest.json`.
    pub manifest_sha256: String,
    /// Inclusion proofs written.
    pub proofs: usize,
    /// The assessment the package was built from.
    pub assessment: Assessment,
}

fn write_file(root: &Path, rel: &str, bytes: &[u8]) -> Result<()> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    fs::write(&path, bytes).map_err(|e| Error::io(&path, e))
}

fn to_json<T: serde::Serialize>(value: &T, what: &str) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| Error::invalid(what, e.to_string()))
}

/// A file-name-safe form of an event id (ULIDs already are; anything else is hex-escaped).
pub(crate) fn proof_file(event_id: &str) -> String {
    let safe: String = event_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("_{:02x}", u32::from(c))
            }
        })
        .collect();
    format!("integrity/proofs/{safe}.tlog-proof")
}

/// Builds the evidence package for `req` into `out` (created if needed; it must be empty).
///
/// The ledger is verified first; on any integrity problem nothing is written and the error says
/// what was found. The manifest is signed with `signer`.
///
/// # Errors
///
/// Everything [`assess`] returns, [`Error::OutputNotEmpty`], and I/O errors.
pub fn generate_package<B: Backend>(
    ledger: &mut Ledger<B>,
    keys: &dyn KeyProvider,
    rules: &RuleSet,
    req: &AssessmentRequest,
    out: &Path,
    signer: &NoteSigner,
    tool_version: &str,
) -> Result<PackageSummary> {
    let created = !out.exists();
    if !created {
        let mut entries = fs::read_dir(out).map_err(|e| Error::io(out, e))?;
        if entries.next().is_some() {
            return Err(Error::OutputNotEmpty {
                path: out.to_owned(),
            });
        }
    }
    fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let result = build(ledger, keys, rules, req, out, signer, tool_version);
    if result.is_err() {
        // Leave no half-written package behind.
        if created {
            let _ = fs::remove_dir_all(out);
        } else if let Ok(entries) = fs::read_dir(out) {
            for entry in entries.flatten() {
                let path = entry.path();
                let _ = if path.is_dir() {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
            }
        }
    }
    result
}

fn build<B: Backend>(
    ledger: &mut Ledger<B>,
    keys: &dyn KeyProvider,
    rules: &RuleSet,
    req: &AssessmentRequest,
    out: &Path,
    signer: &NoteSigner,
    tool_version: &str,
) -> Result<PackageSummary> {
    if !req.anchor {
        return Err(Error::invalid(
            "request",
            "a package must be anchored to signed checkpoints",
        ));
    }
    let mut sink = DirSink::new(out);
    let assessment = assess(ledger, keys, rules, req, &mut sink)?;
    sink.finish()?;

    // Every control directory holds both listings, even when empty.
    for c in &assessment.controls {
        for name in ["population.jsonl", "exceptions.jsonl"] {
            let path = out.join("controls").join(&c.id).join(name);
            if !path.exists() {
                write_file(out, &format!("controls/{}/{name}", c.id), b"")?;
            }
        }
    }

    // Sampled items are cited too: read their lines back from the listings.
    let mut sampled: BTreeMap<String, Vec<(u64, CitedEvent, bool)>> = BTreeMap::new();
    for c in &assessment.controls {
        if let Some(indices) = c.selection.indices() {
            let items = read_lines_at(
                &out.join("controls").join(&c.id).join("population.jsonl"),
                indices,
            )?;
            let with_result = items
                .into_iter()
                .map(|(i, e)| {
                    let deviates = c.sampled_deviating.contains(&i);
                    (i, e, deviates)
                })
                .collect();
            sampled.insert(c.id.clone(), with_result);
        }
    }

    for c in &assessment.controls {
        write_control(out, c, sampled.get(&c.id))?;
    }

    // Inclusion proofs for every cited event.
    let mut cited: BTreeMap<CitedEvent, BTreeSet<String>> = BTreeMap::new();
    for c in &assessment.controls {
        let mine = c
            .deviations
            .iter()
            .filter_map(|d| d.event.clone())
            .chain(c.recent.iter().cloned())
            .chain(
                sampled
                    .get(&c.id)
                    .into_iter()
                    .flatten()
                    .map(|(_, e, _)| e.clone()),
            );
        for e in mine {
            cited.entry(e).or_default().insert(c.id.clone());
        }
    }
    let checkpoints: HashMap<&str, _> = assessment
        .tenants
        .iter()
        .filter_map(|t| t.checkpoint.as_ref().map(|cp| (t.path.as_str(), cp)))
        .collect();
    let mut index = Vec::new();
    for (event, controls) in &cited {
        let cp = checkpoints.get(event.tenant.as_str()).ok_or_else(|| {
            Error::invalid(
                "cited event",
                format!("{} has no checkpoint for its tenant", event.event_id),
            )
        })?;
        let proof = ledger
            .prove_against(&event.event_id, cp)
            .map_err(|e| Error::store(format!("proving event {}", event.event_id), e))?;
        let mut bundle = TlogProof::new(proof.index, proof.bundle.path().to_vec(), cp)
            .map_err(|e| Error::chain(format!("building the proof of {}", event.event_id), e))?;
        if req.include_text {
            bundle = bundle.with_extra(proof.envelope.clone().into_bytes());
        }
        let file = proof_file(&event.event_id);
        write_file(out, &file, &bundle.to_bytes())?;
        index.push(json!({
            "event_id": event.event_id,
            "event_type": event.event_type,
            "tenant": event.tenant,
            "seq": event.seq,
            "timestamp": event.timestamp,
            "leaf_hash": leaf_hash(proof.envelope.as_bytes()).to_hex(),
            "proof": file.trim_start_matches("integrity/proofs/"),
            "cited_by": controls.iter().collect::<Vec<_>>(),
        }));
    }
    let proofs = index.len();
    write_file(
        out,
        "integrity/proofs/index.json",
        json::pretty(&json!({
            "format": "spanforge-proof-index/v1",
            "leaf": "RFC 6962 leaf hash SHA-256(0x00 || canonical signed envelope); the bundle carries the envelope in its extra line only when the package includes payload text",
            "proofs": index,
        }))
        .as_bytes(),
    )?;
    let notes: Vec<String> = assessment
        .tenants
        .iter()
        .filter_map(|t| t.checkpoint.as_ref().map(ToString::to_string))
        .collect();
    write_file(
        out,
        "integrity/checkpoints.txt",
        notes.join("\n").as_bytes(),
    )?;
    write_file(
        out,
        "integrity/ledger-verification.json",
        json::pretty(&to_json(&assessment.verification, "verification report")?).as_bytes(),
    )?;
    write_file(
        out,
        "gaps/gap-report.json",
        json::pretty(&gap_report_json(&assessment)?).as_bytes(),
    )?;
    let package = package_json(&assessment, signer, tool_version)?;
    write_file(out, "package.json", json::pretty(&package).as_bytes())?;
    write_file(
        out,
        "oscal/assessment-results.json",
        json::pretty(&oscal::assessment_results(&assessment, out)?).as_bytes(),
    )?;
    write_file(
        out,
        "report/index.html",
        html::report(&assessment, &package, &cited).as_bytes(),
    )?;

    // The manifest lists every file with its hash; the signed note pins the manifest.
    let mut files = Vec::new();
    let mut total = 0_u64;
    // Population listings were hashed while they were written; reuse those hashes when the
    // size on disk agrees, instead of reading hundreds of megabytes again.
    let known: HashMap<String, (&str, u64)> = assessment
        .controls
        .iter()
        .map(|c| {
            (
                format!("controls/{}/population.jsonl", c.id),
                (c.population_sha256.as_str(), c.population_bytes),
            )
        })
        .collect();
    for rel in list_files(out)? {
        if rel == "manifest.json" || rel == "manifest.sig" {
            continue;
        }
        let path = out.join(&rel);
        let (hash, size) = match known.get(&rel) {
            Some((hash, bytes))
                if fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len() == *bytes =>
            {
                ((*hash).to_owned(), *bytes)
            }
            _ => hash_file(&path)?,
        };
        total += size;
        files.push(json!({"path": rel, "sha256": hash, "bytes": size}));
    }
    let count = files.len();
    let manifest = json::pretty(&json!({
        "format": MANIFEST_FORMAT,
        "hash": "SHA-256, lowercase hex, over the file's bytes",
        "files": files,
    }));
    write_file(out, "manifest.json", manifest.as_bytes())?;
    let manifest_sha256 = hex::encode(Sha256::digest(manifest.as_bytes()));
    let mut note = Note::new(format!(
        "{PACKAGE_FORMAT}\nmanifest.json sha256:{manifest_sha256}\n"
    ))
    .map_err(|e| Error::chain("building the manifest note", e))?;
    note.sign(signer)
        .map_err(|e| Error::chain("signing the manifest", e))?;
    write_file(out, "manifest.sig", &note.to_bytes())?;
    Ok(PackageSummary {
        dir: out.to_owned(),
        files: count,
        bytes: total,
        manifest_sha256,
        proofs,
        assessment,
    })
}

/// Every file under `root`, as `/`-separated relative paths, sorted.
pub(crate) fn list_files(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
            if kind.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .map_err(|_| Error::invalid("package path", path.display().to_string()))?;
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// SHA-256 (hex) and size of a file, streamed.
pub(crate) fn hash_file(path: &Path) -> Result<(String, u64)> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut hasher = Sha256::new();
    let mut size = 0_u64;
    loop {
        let buf = reader.fill_buf().map_err(|e| Error::io(path, e))?;
        if buf.is_empty() {
            break;
        }
        hasher.update(buf);
        size += buf.len() as u64;
        let n = buf.len();
        reader.consume(n);
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// Reads the population lines at `indices` (ascending) and returns the cited events.
fn read_lines_at(path: &Path, indices: &[u64]) -> Result<Vec<(u64, CitedEvent)>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = BufReader::new(file);
    let wanted: BTreeSet<u64> = indices.iter().copied().collect();
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let i = i as u64;
        if !wanted.contains(&i) {
            if wanted.range(i..).next().is_none() {
                break;
            }
            continue;
        }
        let line = line.map_err(|e| Error::io(path, e))?;
        let v: Value = serde_json::from_str(&line).map_err(|e| {
            Error::invalid(format!("{} line {}", path.display(), i + 1), e.to_string())
        })?;
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        out.push((
            i,
            CitedEvent {
                tenant: text("tenant"),
                seq: v.get("seq").and_then(Value::as_u64).unwrap_or_default(),
                event_id: text("event_id"),
                event_type: text("event_type"),
                timestamp: text("timestamp"),
            },
        ));
    }
    Ok(out)
}

fn write_control(
    out: &Path,
    c: &ControlResult,
    sampled: Option<&Vec<(u64, CitedEvent, bool)>>,
) -> Result<()> {
    let dir = format!("controls/{}", c.id);
    let mut selection = to_json(&c.selection, "selection")?;
    if let (Some(items), Some(map)) = (sampled, selection.as_object_mut()) {
        map.insert(
            "items".to_owned(),
            Value::Array(
                items
                    .iter()
                    .map(|(i, e, _)| json!({"index": i, "event_id": e.event_id, "tenant": e.tenant, "seq": e.seq}))
                    .collect(),
            ),
        );
    }
    write_file(
        out,
        &format!("{dir}/selection.json"),
        json::pretty(&selection).as_bytes(),
    )?;

    let mut tests = json!({
        "control": c.id,
        "population": c.population,
        "method": match c.selection { crate::sampling::Selection::Census { .. } => "census", crate::sampling::Selection::Sample { .. } => "sample" },
        "attributes": to_json(&c.attributes, "attributes")?,
        "failing_items": "every failing item and attribute is listed in exceptions.jsonl; items not listed passed every automated attribute that applied to them",
    });
    if let (Some(items), Some(map)) = (sampled, tests.as_object_mut()) {
        map.insert(
            "sample_results".to_owned(),
            Value::Array(
                items
                    .iter()
                    .map(|(i, e, dev)| json!({"index": i, "event_id": e.event_id, "result": if *dev { "fail" } else { "pass" }}))
                    .collect(),
            ),
        );
    }
    write_file(
        out,
        &format!("{dir}/test-results.json"),
        json::pretty(&tests).as_bytes(),
    )?;

    let conclusion = json!({
        "control": c.id,
        "title": c.title,
        "objective": c.objective,
        "domain": c.domain,
        "frequency": c.frequency,
        "automation": c.automation,
        "conclusion": c.conclusion,
        "reason": c.reason,
        "population": {
            "role": c.population_role,
            "items": c.population,
            "sha256": c.population_sha256,
            "by_type": c.population_by_type,
            "first": c.first_item,
            "last": c.last_item,
            "file": "population.jsonl",
        },
        "deviations": {
            "counted": c.deviations_counted,
            "deviating_items": c.deviating_items,
            "exception_events": c.exception_events,
            "period_violations": c.period_violations,
            "total_recorded": c.deviations_total,
            "cited": to_json(&c.deviations, "deviations")?,
            "file": "exceptions.jsonl",
        },
        "coverage": to_json(&c.coverage, "coverage")?,
        "configuration": to_json(&c.configuration, "configuration")?,
        "recent_items": to_json(&c.recent, "recent items")?,
        "evidence_rules": c.evidence_rules,
        "documents_expected": c.documents,
        "maps_to": c.maps_to,
        "guide_questions": c.questions,
        "remediation": c.remediation,
        "preparer": "spanforge mapping engine (automated)",
        "reviewer": null,
        "review_status": "pending",
    });
    write_file(
        out,
        &format!("{dir}/conclusion.json"),
        json::pretty(&conclusion).as_bytes(),
    )
}

fn gap_report_json(a: &Assessment) -> Result<Value> {
    let catalog = spanforge_catalog::catalog(a.framework);
    let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
    for n in &a.nodes {
        *by_status.entry(n.status.as_str()).or_default() += 1;
    }
    Ok(json!({
        "framework": a.framework.as_str(),
        "framework_name": catalog.name(),
        "edition": catalog.edition().edition,
        "period": {"from": a.period.from().to_string(), "to": a.period.to().to_string()},
        "model_id": a.model_id,
        "org": a.org,
        "statement": "Evidence relevant to each criterion, from ledger telemetry; not a statement of compliance.",
        "summary": by_status,
        "criteria": to_json(&a.nodes, "nodes")?,
    }))
}

fn package_json(a: &Assessment, signer: &NoteSigner, tool_version: &str) -> Result<Value> {
    let registry = spanforge_catalog::registry();
    let catalog = registry.catalog(a.framework);
    let mut by_conclusion: BTreeMap<&str, u64> = BTreeMap::new();
    for c in &a.controls {
        *by_conclusion.entry(c.conclusion.as_str()).or_default() += 1;
    }
    let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
    for n in &a.nodes {
        *by_status.entry(n.status.as_str()).or_default() += 1;
    }
    let checkpoints: Vec<Value> = a
        .tenants
        .iter()
        .map(|t| {
            let cp = t.checkpoint.as_ref().map(|c| c.checkpoint());
            json!({
                "tenant": t.path,
                "origin": t.origin,
                "size": cp.map(|c| c.size()),
                "root": cp.map(|c| c.root().to_hex()),
                "events_read": t.events_read,
            })
        })
        .collect();
    Ok(json!({
        "format": PACKAGE_FORMAT,
        "org": a.org,
        "model_id": a.model_id,
        "framework": {
            "id": a.framework.as_str(),
            "name": catalog.name(),
            "edition": catalog.edition().edition,
            "edition_id": catalog.edition().edition_id,
            "content_hash": catalog.content_hash().to_string(),
        },
        "catalog": {
            "canonical_controls_hash": registry.controls_hash().to_string(),
            "canonical_controls_version": registry.controls_meta().data_version,
            "mappings_hash": registry.mappings_hash().to_string(),
            "mappings_version": registry.provenance().data_version,
            "mappings_status": registry.provenance().status.to_string(),
        },
        "engine_rules": {"version": a.rules_version, "hash": a.rules_hash},
        "period": {
            "from": a.period.from().to_string(),
            "to": a.period.to().to_string(),
            "start": a.period.start_rfc3339(),
            "end": a.period.end_rfc3339(),
            "days": a.period.days(),
        },
        "report_type": "Type II (operating effectiveness over the period)",
        "sampling": match &a.sampling {
            None => json!({"method": "census"}),
            Some(t) => json!({"method": "sample", "table": to_json(t, "sample table")?}),
        },
        "deviation_policy": to_json(&a.policy, "deviation policy")?,
        "includes_payload_text": a.include_text,
        "ledger": {
            "ledger_id": a.verification.ledger_id,
            "verified": a.verification.valid,
            "events_verified": a.verification.events,
            "checkpoints": checkpoints,
        },
        "signer": {
            "key_name": signer.name(),
            "key_id": signer.key_id().to_string(),
            "vkey": signer.vkey(),
            "signature": "manifest.sig: C2SP signed note (Ed25519) over the SHA-256 of manifest.json",
        },
        "tool": {"name": "spanforge", "version": tool_version},
        "summary": {"controls": by_conclusion, "criteria": by_status},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_file_names_are_safe() {
        assert_eq!(
            proof_file("01KDZ5T8Q3M9V6W2X4Y7Z0A1B3"),
            "integrity/proofs/01KDZ5T8Q3M9V6W2X4Y7Z0A1B3.tlog-proof"
        );
        assert_eq!(proof_file("../x"), "integrity/proofs/_2e_2e_2fx.tlog-proof");
    }
}
