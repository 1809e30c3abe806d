//! `spanforge tenant …`: tenant isolation checks over the ledger (CC6.1, auditor question 8).

use std::io::Write;

use anyhow::Result;
use clap::{Args, Subcommand};
use spanforge_mapping::isolation::verify_isolation;

use crate::Outcome;
use crate::events::Format;
use crate::keyfile::LedgerArgs;

/// Tenant commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Prove that each tenant's chain verifies on its own and under its own key, that no event
    /// of one tenant sits in another's chain, and that evidence queries never cross tenants.
    /// Shared keys are a warning; exit 1 when any check fails.
    VerifyIsolation(IsolationArgs),
}

/// Arguments of `tenant verify-isolation`.
#[derive(Debug, Args)]
pub(crate) struct IsolationArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    ledger: LedgerArgs,
}

pub(crate) fn run(cmd: Command) -> Result<Outcome> {
    let Command::VerifyIsolation(a) = cmd;
    let ledger = a.ledger.open_existing()?;
    let keys = a.ledger.keys()?;
    let report = verify_isolation(&ledger, &keys)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match a.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        Format::Text => {
            for t in &report.tenants {
                writeln!(
                    out,
                    "tenant {}: {} event(s); chain verified on its own: {}; keys: {}; foreign events: {}; query returned {} event(s), {} of another tenant",
                    t.tenant,
                    t.events,
                    if t.chain_verified { "yes" } else { "NO" },
                    t.key_ids.join(", "),
                    t.foreign_events,
                    t.query_events,
                    t.query_leaks
                )?;
            }
            for w in &report.warnings {
                writeln!(out, "warning: {w}")?;
            }
            for f in &report.failures {
                writeln!(out, "FAIL: {f}")?;
            }
            writeln!(
                out,
                "{}",
                if report.ok {
                    "Isolation: OK"
                } else {
                    "Isolation: FAILED"
                }
            )?;
        }
    }
    out.flush()?;
    Ok(if report.ok {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}
