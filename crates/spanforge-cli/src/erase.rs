//! `spanforge erase --subject ID`: GDPR Art. 17 erasure by crypto-shredding.

use std::io::{self, Write};

use anyhow::{Context, Result};
use clap::Args;
use spanforge_event::UlidGenerator;

use crate::Outcome;
use crate::events::Format;
use crate::keyfile::LedgerArgs;

/// Arguments of `erase`.
#[derive(Debug, Args)]
pub(crate) struct EraseArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// The data subject: every payload whose event has it as `actor_id` or `session_id`, or
    /// whose payload names it as `subject_id`, becomes unreadable.
    #[arg(long, value_name = "ID")]
    subject: String,
    /// Who performs the erasure, recorded in the erasure event.
    #[arg(long, value_name = "NAME", default_value = "spanforge-cli")]
    by: String,
    /// Why, recorded in the erasure event.
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "GDPR Art. 17 right to erasure"
    )]
    reason: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub(crate) fn run(a: &EraseArgs) -> Result<Outcome> {
    let keys = a.ledger.keys.provider()?;
    let mut ledger = a.ledger.open(false)?;
    let mut ids = UlidGenerator::system();
    let receipt = ledger
        .erase_subject(&keys, &a.subject, &a.by, &a.reason, &mut ids)
        .context("erasure failed; nothing was destroyed")?;
    let mut out = io::stdout().lock();
    match a.format {
        Format::Json => {
            serde_json::to_writer(&mut out, &receipt)?;
            writeln!(out)?;
        }
        Format::Text => {
            if receipt.erasures.is_empty() {
                writeln!(
                    out,
                    "no encrypted data of subject {} (keyed hash) is in the ledger; nothing was destroyed",
                    receipt.subject_hash
                )?;
            }
            for e in &receipt.erasures {
                writeln!(
                    out,
                    "{}: destroyed {} data keys; erasure recorded as event {}",
                    e.tenant,
                    e.data_key_ids.len(),
                    e.erasure_event_id
                )?;
            }
            if !receipt.erasures.is_empty() {
                writeln!(
                    out,
                    "subject {} (keyed hash) erased: {} data keys destroyed; its payloads can no longer be decrypted",
                    receipt.subject_hash, receipt.destroyed_keys
                )?;
            }
        }
    }
    Ok(Outcome::Ok)
}
