//! `spanforge audit …`: verify the ledger or a JSONL chain, sign checkpoints, prove and check
//! single events, export a tenant's chain for the Python SDK.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use spanforge_chain::compat::{ChainReport, ChainVerifier, HmacSecret, Keyring};
use spanforge_chain::keyring::KeyringFile;
use spanforge_chain::note::NoteVerifier;
use spanforge_event::Event;
use spanforge_store::{
    ExportCheck, ExportReport, KeyProvider, TenantId, VerifyOptions, format_checkpoints,
    split_checkpoints, verify_event_proof,
};

use crate::Outcome;
use crate::dates::parse_bound;
use crate::events::Format;
use crate::input::{Input, Line};
use crate::keyfile::{KeyArgs, LedgerArgs, read_keyring, read_verifiers};

/// Commands on the audit ledger.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Verify the ledger (every tenant's HMAC chain and Merkle tree, optionally against saved
    /// checkpoints), or a JSONL chain (written by the Python SDK or by `audit export`, which can
    /// also be checked against saved checkpoints). Exit 0 intact, 1 integrity failure, 2 usage
    /// or input error.
    Verify(VerifyArgs),
    /// Sign a checkpoint of each tenant's tree (or one tenant's) and print or save it. Keep it
    /// outside the database: verifying against it detects truncation, rollback and forks.
    Checkpoint(CheckpointArgs),
    /// Write a c2sp.org/tlog-proof@v1 bundle proving one event is in the ledger.
    Prove(ProveArgs),
    /// Check a proof bundle with only the ledger's public key.
    VerifyProof(VerifyProofArgs),
    /// Export a tenant's chain as JSONL that the Python SDK's verify_chain accepts.
    Export(ExportArgs),
}

/// Arguments of `audit verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// A JSONL chain to verify instead of the ledger.
    #[arg(value_name = "FILE.jsonl", conflicts_with = "db")]
    file: Option<PathBuf>,
    /// The ledger database (default: $SPANFORGE_DB, else ./spanforge.db).
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Keys: a keyring file, or for a JSONL chain also a text file with one secret per line.
    #[arg(long, value_name = "FILE")]
    keyring: Option<PathBuf>,
    /// A checkpoint file saved earlier (`audit checkpoint --out`). With a JSONL chain (an
    /// export of one tenant), its lines are hashed into the tree the checkpoint signed, so an
    /// edit to any field, or events cut off its end, fail verification.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// The ledger's public key (`keys export-public`), to check the signature of a checkpoint
    /// given with a JSONL chain; without it, the checkpoint key of `--keyring`.
    #[arg(
        long,
        value_name = "FILE",
        requires = "checkpoint",
        conflicts_with = "db"
    )]
    pubkey: Option<PathBuf>,
    /// Only this tenant (org id).
    #[arg(long, value_name = "ORG", conflicts_with = "file")]
    org: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Arguments of `audit checkpoint`.
#[derive(Debug, Args)]
pub(crate) struct CheckpointArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Only this tenant (org id); `default` is not special: events without an org use
    /// `--default-tenant`.
    #[arg(long, value_name = "ORG", conflicts_with = "default_tenant")]
    org: Option<String>,
    /// Only the default tenant (events without an org id).
    #[arg(long)]
    default_tenant: bool,
    /// Write the checkpoint(s) here instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Arguments of `audit prove`.
#[derive(Debug, Args)]
pub(crate) struct ProveArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// The event to prove.
    #[arg(long, value_name = "ID")]
    event_id: String,
    /// Write the bundle here instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Arguments of `audit verify-proof`.
#[derive(Debug, Args)]
pub(crate) struct VerifyProofArgs {
    /// The proof bundle.
    proof: PathBuf,
    /// The ledger's public key (`spanforge keys export-public`).
    #[arg(long, value_name = "FILE")]
    pubkey: PathBuf,
    /// The event line as received (for example a line of an export); it must be the proven
    /// event byte for byte.
    #[arg(long, value_name = "FILE")]
    event: Option<PathBuf>,
}

/// Arguments of `audit export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// The tenant (org id); without it, the default tenant (events without an org id).
    #[arg(long, value_name = "ORG")]
    org: Option<String>,
    /// Earliest event time, inclusive (YYYY-MM-DD or a full timestamp).
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// Latest event time, inclusive (a bare date includes the whole day).
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    /// The JSONL file to write.
    #[arg(long, value_name = "FILE.jsonl")]
    out: PathBuf,
}

pub(crate) fn run(cmd: Command) -> Result<Outcome> {
    match cmd {
        Command::Verify(a) => match &a.file {
            Some(file) => verify_file(&a, file),
            None => verify_ledger(&a),
        },
        Command::Checkpoint(a) => checkpoint(&a),
        Command::Prove(a) => prove(&a),
        Command::VerifyProof(a) => verify_proof(&a),
        Command::Export(a) => export(&a),
    }
}

fn tenant_arg(org: Option<&str>) -> Result<TenantId> {
    Ok(match org {
        Some(o) => TenantId::org(o)?,
        None => TenantId::Default,
    })
}

fn write_out(out: Option<&Path>, text: &str) -> Result<()> {
    match out {
        Some(path) => {
            fs::write(path, text).with_context(|| format!("{}: cannot write", path.display()))
        }
        None => {
            let mut stdout = io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            Ok(stdout.flush()?)
        }
    }
}

fn verify_ledger(a: &VerifyArgs) -> Result<Outcome> {
    if a.pubkey.is_some() {
        bail!(
            "--pubkey is for checking a JSONL chain against a checkpoint; a ledger's checkpoints are checked with its keyring"
        );
    }
    let ledger_args = LedgerArgs {
        db: a.db.clone(),
        keys: KeyArgs {
            keyring: a.keyring.clone(),
        },
        // Verification needs no plaintext, so no KMS.
        kms: crate::kms::KmsArgs::default(),
    };
    let keys = ledger_args.keys.provider()?;
    let ledger = ledger_args.open(false)?;
    let mut opts = VerifyOptions::new();
    if let Some(path) = &a.checkpoint {
        opts.checkpoints = checkpoint_notes(path)?;
    }
    if let Some(org) = &a.org {
        opts = opts.only_tenant(TenantId::org(org)?);
    }
    let report = ledger.verify(&keys, &opts)?;
    let mut out = io::stdout().lock();
    match a.format {
        Format::Json => {
            serde_json::to_writer(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Text => {
            for t in &report.tenants {
                let state = if t.valid { "intact" } else { "FAILED" };
                writeln!(out, "{}: {} events, {state}", t.tenant, t.events)?;
                if t.encrypted_count > 0 {
                    writeln!(
                        out,
                        "  {} encrypted, {} erased (crypto-shredded, not tampered), {} erasure records",
                        t.encrypted_count,
                        t.erased_count,
                        t.erasure_events.len()
                    )?;
                    if !t.erased.is_empty() {
                        writeln!(out, "  erased: {}", t.erased.join(" "))?;
                    }
                }
                if !t.valid {
                    writeln!(out, "  {}", serde_json::to_string(t)?)?;
                }
            }
            for c in &report.checkpoints {
                writeln!(out, "checkpoint: {}", serde_json::to_string(c)?)?;
            }
            for p in &report.problems {
                writeln!(out, "problem: {p}")?;
            }
            writeln!(
                out,
                "ledger {}: {} events, {}",
                report.ledger_id,
                report.events,
                if report.valid {
                    "intact"
                } else {
                    "INTEGRITY FAILURE"
                }
            )?;
        }
    }
    Ok(if report.valid {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

/// The signed checkpoint notes of a checkpoint file (`audit checkpoint --out`).
fn checkpoint_notes(path: &Path) -> Result<Vec<String>> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the checkpoint file", path.display()))?;
    split_checkpoints(&text).with_context(|| format!("{}: not a checkpoint file", path.display()))
}

/// What `--keyring` holds when a JSONL chain is verified: a keyring file, or a text file of
/// secrets (one per line).
enum KeyFile {
    Keyring(KeyringFile),
    Secrets(Vec<HmacSecret>),
}

fn read_key_file(path: &Path) -> Result<KeyFile> {
    let text = zeroize::Zeroizing::new(
        fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?,
    );
    if text.trim_start().starts_with('{') {
        return Ok(KeyFile::Keyring(read_keyring(path)?));
    }
    let mut secrets = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let secret = HmacSecret::new(line)
            .with_context(|| format!("{}:{}: not a usable secret", path.display(), n + 1))?;
        secrets.push(secret);
    }
    Ok(KeyFile::Secrets(secrets))
}

/// The keys for verifying a JSONL chain: the key file's HMAC keys, plus `SPANFORGE_SIGNING_KEY`.
fn file_keyring(file: Option<&KeyFile>, allow_empty: bool) -> Result<Keyring> {
    let mut ring = Keyring::default();
    if let Ok(v) = std::env::var("SPANFORGE_SIGNING_KEY") {
        ring.add(HmacSecret::new(&v).context("SPANFORGE_SIGNING_KEY is set but empty")?);
    }
    match file {
        Some(KeyFile::Keyring(keyring)) => {
            for k in keyring.hmac_keys() {
                ring.add(k.secret().clone());
            }
        }
        Some(KeyFile::Secrets(secrets)) => {
            for secret in secrets {
                ring.add(secret.clone());
            }
        }
        None => {}
    }
    if ring.is_empty() && !allow_empty {
        bail!(
            "no keys to verify with: set SPANFORGE_SIGNING_KEY, pass --keyring FILE, or check against a checkpoint with --checkpoint FILE --pubkey FILE"
        );
    }
    Ok(ring)
}

/// The checkpoints to compare a JSONL chain with, opened with the ledger's public key from
/// `--pubkey`, else with the checkpoint key of a keyring file given as `--keyring`.
fn export_check(a: &VerifyArgs, key_file: Option<&KeyFile>) -> Result<Option<ExportCheck>> {
    let Some(path) = &a.checkpoint else {
        return Ok(None);
    };
    let notes = checkpoint_notes(path)?;
    let verifiers = match (&a.pubkey, key_file) {
        (Some(pubkey), _) => read_verifiers(pubkey)?,
        (None, Some(KeyFile::Keyring(keyring))) => {
            crate::keyfile::provider(Some(keyring))?.checkpoint_verifiers()
        }
        _ => Vec::new(),
    };
    if verifiers.is_empty() {
        bail!(
            "checking a checkpoint needs the ledger's public key: pass --pubkey FILE (from `spanforge keys export-public`) or the keyring as --keyring FILE"
        );
    }
    Ok(Some(ExportCheck::new(&notes, &verifiers)))
}

fn verify_file(a: &VerifyArgs, file: &Path) -> Result<Outcome> {
    let key_file = a.keyring.as_deref().map(read_key_file).transpose()?;
    let mut against = export_check(a, key_file.as_ref())?;
    // With a checkpoint, the ledger's public key is enough: an auditor need not hold the HMAC
    // secret. The signatures are then not checked, and only what the checkpoint covers is.
    let ring = file_keyring(key_file.as_ref(), against.is_some())?;
    let name = file.display().to_string();
    let mut input = Input::open(&name)?;
    let mut buf = Vec::new();
    let mut verifier: Option<ChainVerifier<'_>> = None;
    let mut withheld: Vec<(String, String)> = Vec::new();
    let mut erased_keys: std::collections::HashSet<String> = std::collections::HashSet::new();
    let (mut line_no, mut events) = (0u64, 0u64);
    while let Some(line) = input
        .next_line(&mut buf)
        .with_context(|| format!("{name}: read error after line {line_no}"))?
    {
        line_no += 1;
        let text = match line {
            Line::Text(t) if t.trim().is_empty() => continue,
            Line::Text(t) => t,
            Line::NotUtf8 { byte } => {
                bail!("{name}:{line_no}: not UTF-8 (bad byte at offset {byte})")
            }
            Line::TooLong => bail!("{name}:{line_no}: line too long to be an event"),
        };
        let event =
            Event::from_json_str(text).map_err(|e| anyhow::anyhow!("{name}:{line_no}: {e}"))?;
        events += 1;
        if let Some(check) = against.as_mut() {
            check.push(text.as_bytes(), &TenantId::of_event(&event));
        }
        if ring.is_empty() {
            continue;
        }
        let v = verifier.get_or_insert_with(|| {
            let mut v = ChainVerifier::new(&ring, None);
            if let Some(start) = ring.detect_starting_key(&event) {
                v.set_current_key(start.clone());
            }
            v
        });
        // An erased event of an encrypted ledger is exported as stored: its payload is the
        // ciphertext whose key was destroyed. Only its signature can be checked, and it counts
        // as erased only if an erasure record in the chain lists its data key.
        match spanforge_store::encryption::EncryptedPayload::from_payload(event.payload()) {
            Some(sealed) => {
                v.push_withheld(&event);
                withheld.push((event.event_id().to_string(), sealed.data_key_id));
            }
            None => {
                v.push(&event);
            }
        }
        if let Some(keys) = spanforge_store::encryption::erased_key_ids(&event) {
            erased_keys.extend(keys);
        }
    }
    if events == 0 {
        bail!("{name}: no events to verify");
    }
    let report: Option<ChainReport> = verifier.map(|mut v| {
        for (id, key) in &withheld {
            if !erased_keys.contains(key) {
                v.reject_withheld(id, "payload withheld without an erasure record");
            }
        }
        v.finish()
    });
    let against: Option<ExportReport> = against.map(|x| x.finish(report.is_some()));
    let valid = report.as_ref().is_none_or(|r| r.valid) && against.as_ref().is_none_or(|x| x.valid);
    let mut out = io::stdout().lock();
    match a.format {
        Format::Json => {
            let mut value = match &report {
                Some(r) => serde_json::to_value(r)?,
                None => serde_json::json!({ "events": events }),
            };
            if let Some(x) = &against {
                value["valid"] = valid.into();
                value["signatures_checked"] = report.is_some().into();
                value["checkpoint_check"] = serde_json::to_value(x)?;
            }
            serde_json::to_writer(&mut out, &value)?;
            writeln!(out)?;
        }
        Format::Text => {
            match &report {
                Some(r) => write_chain_report(&mut out, &name, r)?,
                None => writeln!(
                    out,
                    "{name}: {events} events; their HMAC signatures were not checked (no key given)"
                )?,
            }
            match (&against, &report) {
                (Some(x), _) => write_export_check(&mut out, &name, x)?,
                (None, Some(r)) => writeln!(
                    out,
                    "note: a JSONL chain's signatures cover only {}; truncation of its end cannot be detected without a checkpoint",
                    r.covered_fields.join(", ")
                )?,
                (None, None) => {}
            }
        }
    }
    Ok(if valid { Outcome::Ok } else { Outcome::Failed })
}

/// The text report of a JSONL chain's signatures and links.
fn write_chain_report(out: &mut impl Write, name: &str, report: &ChainReport) -> Result<()> {
    for t in &report.tampered {
        writeln!(out, "tampered: {} ({})", t.event_id, t.reason)?;
    }
    for g in &report.gaps {
        writeln!(out, "gap: {g} does not link to the event before it")?;
    }
    for w in &report.warnings {
        writeln!(out, "warning: {w}")?;
    }
    // A rotation whose key the keyring lacks is already a warning.
    for r in report.rotations.iter().filter(|r| r.key_found) {
        writeln!(
            out,
            "rotation: {}: later events checked under the keyring's key it names",
            r.event_id
        )?;
    }
    if report.withheld_count > 0 {
        writeln!(
            out,
            "erased: {} events (payload crypto-shredded; signature, link and checksum verified, listed by an erasure record): {}",
            report.withheld_count,
            report.withheld.join(" ")
        )?;
    }
    writeln!(
        out,
        "{name}: {} events, {} tampered, {} gaps, {} tombstones, {} erased: {}",
        report.events,
        report.tampered_count,
        report.gap_count,
        report.tombstone_count,
        report.withheld_count,
        if report.valid {
            "intact"
        } else {
            "INTEGRITY FAILURE"
        }
    )?;
    Ok(())
}

/// The text report of a JSONL chain compared with checkpoints.
fn write_export_check(out: &mut impl Write, name: &str, x: &ExportReport) -> Result<()> {
    for c in &x.checkpoints {
        writeln!(out, "checkpoint: {}", serde_json::to_string(c)?)?;
    }
    for p in &x.problems {
        writeln!(out, "problem: {p}")?;
    }
    let covered = x.covered();
    if x.valid {
        writeln!(
            out,
            "{name}: against the checkpoint: consistent; every field of the first {covered} events is covered"
        )?;
        if x.events > covered {
            writeln!(
                out,
                "note: the {} events after them are covered by their signatures only; a later checkpoint covers them whole",
                x.events - covered
            )?;
        }
    } else {
        writeln!(out, "{name}: against the checkpoint: INTEGRITY FAILURE")?;
    }
    Ok(())
}

fn checkpoint(a: &CheckpointArgs) -> Result<Outcome> {
    let keys = a.ledger.keys.provider()?;
    let mut ledger = a.ledger.open(false)?;
    let signed = if a.default_tenant || a.org.is_some() {
        vec![ledger.checkpoint(&keys, &tenant_arg(a.org.as_deref())?)?]
    } else {
        ledger.checkpoint_all(&keys)?
    };
    write_out(a.out.as_deref(), &format_checkpoints(&signed))?;
    Ok(Outcome::Ok)
}

fn prove(a: &ProveArgs) -> Result<Outcome> {
    let keys = a.ledger.keys.provider()?;
    let mut ledger = a.ledger.open(false)?;
    let proof = ledger.prove(&keys, &a.event_id)?;
    write_out(a.out.as_deref(), &proof.to_text())?;
    Ok(Outcome::Ok)
}

fn verify_proof(a: &VerifyProofArgs) -> Result<Outcome> {
    let vkey = fs::read_to_string(&a.pubkey)
        .with_context(|| format!("{}: cannot read the public key", a.pubkey.display()))?;
    let verifier = NoteVerifier::from_vkey(vkey.trim())
        .with_context(|| format!("{}: not a verifier key", a.pubkey.display()))?;
    let bundle = fs::read(&a.proof)
        .with_context(|| format!("{}: cannot read the proof", a.proof.display()))?;
    let event = match &a.event {
        Some(p) => {
            let mut bytes = fs::read(p).with_context(|| format!("{}: cannot read", p.display()))?;
            while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                bytes.pop();
            }
            Some(bytes)
        }
        None => None,
    };
    match verify_event_proof(&bundle, &verifier, event.as_deref()) {
        Ok(v) => {
            println!(
                "event {} is entry {} of {} (tree size {}): proof valid",
                v.event.event_id(),
                v.index,
                v.checkpoint.origin(),
                v.checkpoint.size()
            );
            Ok(Outcome::Ok)
        }
        Err(e) => {
            println!("{}: proof INVALID: {e}", a.proof.display());
            Ok(Outcome::Failed)
        }
    }
}

fn export(a: &ExportArgs) -> Result<Outcome> {
    let ledger = a.ledger.open(false)?;
    let tenant = tenant_arg(a.org.as_deref())?;
    let from = a
        .from
        .as_deref()
        .map(|d| parse_bound(d, false))
        .transpose()?;
    let to = a.to.as_deref().map(|d| parse_bound(d, true)).transpose()?;
    let mut export = ledger.export(&tenant, from, to)?;
    let notice = export.notice();
    // Stream into a temporary file beside the target and rename it at the end, so that an
    // error never leaves a partial export that looks complete.
    let tmp = a.out.with_extension("jsonl.partial");
    let mut count = 0u64;
    let written = (|| -> Result<()> {
        let mut w = io::BufWriter::new(
            fs::File::create(&tmp).with_context(|| format!("{}: cannot create", tmp.display()))?,
        );
        for line in export.by_ref() {
            w.write_all(line?.as_bytes())?;
            w.write_all(b"\n")?;
            count += 1;
        }
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        fs::rename(&tmp, &a.out).with_context(|| format!("{}: cannot write", a.out.display()))
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    println!("exported {count} events of {tenant} to {}", a.out.display());
    if let Some(n) = notice {
        println!("note: {n}");
    }
    let decrypted = export.decrypted();
    if decrypted > 0 {
        println!(
            "note: {decrypted} events are stored encrypted and decrypted in this export; a checkpoint covers them in their stored form, so verify this export with its HMAC key, or single events with `audit prove`, not against a checkpoint"
        );
    }
    Ok(Outcome::Ok)
}
