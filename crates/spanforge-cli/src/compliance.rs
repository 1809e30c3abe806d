//! `spanforge compliance …`: evidence packages, their verification, and gap reports, from
//! `spanforge-mapping`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use spanforge_catalog::FrameworkId;
use spanforge_mapping::engine::{AssessmentRequest, assess};
use spanforge_mapping::package::{generate_package, verify_package};
use spanforge_mapping::period::Period;
use spanforge_mapping::rules::RuleSet;
use spanforge_mapping::sampling::SampleTable;
use spanforge_mapping::{Error as MappingError, accumulator::NoFiles, text};

use crate::Outcome;
use crate::dates::now_micros;
use crate::events::Format;
use crate::keyfile::{LedgerArgs, read_verifiers};

/// Compliance evidence commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Build a signed evidence package for one framework and period from the ledger.
    ///
    /// The ledger is verified first; a tampered ledger stops generation (exit 1) and nothing is
    /// written. The package is signed with the keyring's checkpoint key, so the public key of
    /// `spanforge keys export-public` verifies it.
    Generate(GenerateArgs),
    /// Verify a package: every file's SHA-256, the manifest signature, the checkpoints and
    /// every inclusion proof. Exit 0 when intact, 1 on any mismatch (each named by file).
    VerifyPackage(VerifyArgs),
    /// Print the gap report for a period without writing a package.
    Gaps(GapsArgs),
}

/// What to assess: framework, period, model and tenant.
#[derive(Debug, Args)]
pub(crate) struct ScopeArgs {
    /// Framework: soc2, iso42001, nist-ai-rmf, eu-ai-act, gdpr, hipaa (aliases accepted).
    #[arg(long)]
    framework: String,
    /// First day of the period (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE")]
    from: String,
    /// Last day of the period, included (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE")]
    to: String,
    /// Only events about this model (payload.model_id, payload.model.name or a plain-string
    /// payload.model); events naming no model concern the whole organisation and are kept.
    #[arg(long, value_name = "ID")]
    model_id: Option<String>,
    /// Only this tenant (org id); every tenant of the ledger when omitted.
    #[arg(long)]
    org: Option<String>,
    /// Scope a canonical control out: `SF-TRN-01=no user-facing surface` (repeatable).
    #[arg(long, value_name = "ID=REASON")]
    not_applicable: Vec<String>,
    /// A checkpoint file kept outside the ledger to verify against (repeatable).
    #[arg(long, value_name = "FILE")]
    checkpoint: Vec<PathBuf>,
}

impl ScopeArgs {
    fn request(&self) -> Result<AssessmentRequest> {
        let framework = FrameworkId::parse(&self.framework)?;
        let period = Period::parse(&self.from, &self.to)?;
        let mut req = AssessmentRequest::new(framework, period, now_micros()?);
        if let Some(m) = &self.model_id {
            req = req.with_model(m.clone());
        }
        if let Some(o) = &self.org {
            req = req.with_org(o.clone());
        }
        for item in &self.not_applicable {
            let (id, reason) = item
                .split_once('=')
                .with_context(|| format!("--not-applicable {item:?}: expected ID=REASON"))?;
            req = req.with_not_applicable(id.trim(), reason.trim());
        }
        for path in &self.checkpoint {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{}: cannot read the checkpoint file", path.display()))?;
            req.external_checkpoints
                .extend(spanforge_store::split_checkpoints(&text)?);
        }
        Ok(req)
    }
}

/// Arguments of `compliance generate`.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    /// Directory to write the package into (created; must be empty).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Test a deterministic sample (seeded from each population's hash) instead of a census;
    /// the full populations are still shipped.
    #[arg(long)]
    sample: bool,
    /// Include each population item's payload, prompt and output text included.
    #[arg(long)]
    include_text: bool,
    #[command(flatten)]
    ledger: LedgerArgs,
}

/// Arguments of `compliance verify-package`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The package directory.
    dir: PathBuf,
    /// File with the signer's public key (C2SP vkey; one per line).
    #[arg(long, value_name = "FILE")]
    pubkey: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Arguments of `compliance gaps`.
#[derive(Debug, Args)]
pub(crate) struct GapsArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    ledger: LedgerArgs,
}

/// Maps an integrity failure to exit 1 (a failed check) and everything else to an error.
fn integrity_or(e: MappingError) -> Result<Outcome> {
    match e {
        MappingError::LedgerIntegrity { .. } => {
            eprintln!("spanforge: {e}");
            Ok(Outcome::Failed)
        }
        other => Err(other.into()),
    }
}

pub(crate) fn run(cmd: Command) -> Result<Outcome> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        Command::Generate(a) => {
            let mut req = a.scope.request()?;
            req.include_text = a.include_text;
            if a.sample {
                req = req.with_sampling(SampleTable::default());
            }
            let mut ledger = a.ledger.open_existing()?;
            let keys = a.ledger.keys()?;
            let signer = a.ledger.checkpoint_signer()?;
            let rules = RuleSet::shipped()?;
            let summary = match generate_package(
                &mut ledger,
                &keys,
                &rules,
                &req,
                &a.out,
                &signer,
                env!("CARGO_PKG_VERSION"),
            ) {
                Ok(s) => s,
                Err(e) => return integrity_or(e),
            };
            writeln!(
                out,
                "spanforge: evidence package written to {}",
                a.out.display()
            )?;
            write!(out, "{}", text::summary(&summary.assessment))?;
            writeln!(
                out,
                "  files: {} ({} bytes), inclusion proofs: {}, manifest sha256 {}",
                summary.files, summary.bytes, summary.proofs, summary.manifest_sha256
            )?;
            writeln!(
                out,
                "  signed by {}; verify with: spanforge compliance verify-package {} --pubkey FILE\n  where FILE holds: {}",
                signer.name(),
                a.out.display(),
                signer.vkey()
            )?;
        }
        Command::VerifyPackage(a) => {
            let verifiers = read_verifiers(&a.pubkey)?;
            let report = verify_package(&a.dir, &verifiers)?;
            match a.format {
                Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
                Format::Text => write!(out, "{}", text::package_report(&report))?,
            }
            out.flush()?;
            return Ok(if report.ok {
                Outcome::Ok
            } else {
                Outcome::Failed
            });
        }
        Command::Gaps(a) => {
            let req = a.scope.request()?.unanchored();
            let mut ledger = a.ledger.open_existing()?;
            let keys = a.ledger.keys()?;
            let rules = RuleSet::shipped()?;
            let assessment = match assess(&mut ledger, &keys, &rules, &req, &mut NoFiles) {
                Ok(x) => x,
                Err(e) => return integrity_or(e),
            };
            match a.format {
                Format::Json => writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "framework": assessment.framework.as_str(),
                        "period": {"from": assessment.period.from().to_string(), "to": assessment.period.to().to_string()},
                        "model_id": assessment.model_id,
                        "org": assessment.org,
                        "criteria": assessment.nodes,
                        "controls": assessment.controls,
                    }))?
                )?,
                Format::Text => write!(out, "{}", text::gap_report(&assessment))?,
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Ok)
}
