//! `spanforge ingest`: validate, sign and append JSONL events to the ledger.

use std::fs::File;
use std::io::{self, BufReader, Write};

use anyhow::{Context, Result};
use clap::Args;
use spanforge_store::JsonlLines;

use crate::Outcome;
use crate::keyfile::LedgerArgs;

/// Arguments of `ingest`.
#[derive(Debug, Args)]
pub(crate) struct IngestArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Commit every N events, printing `acked <total> <last_event_id>` after each durable
    /// commit (for long-running producers). Without it, all files are one transaction: any
    /// error leaves the ledger as it was.
    #[arg(long, value_name = "N")]
    commit_every: Option<usize>,
    /// Store payloads encrypted (AES-256-GCM under per-subject data keys from the KMS; see
    /// `--kms-keyring`). The setting is recorded in the ledger: once on, every later ingest
    /// encrypts too. Creates the local KMS keyring if there is none.
    #[arg(long)]
    encrypt: bool,
    /// Print the receipt as JSON.
    #[arg(long)]
    json: bool,
    /// JSONL files (`-` for standard input).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
}

pub(crate) fn run(args: &IngestArgs) -> Result<Outcome> {
    let keys = args.ledger.keys.provider()?;
    // Open every input before writing anything.
    let mut sources: Vec<JsonlLines<Box<dyn io::BufRead>>> = Vec::new();
    for name in &args.files {
        let reader: Box<dyn io::BufRead> = if name == "-" {
            Box::new(BufReader::with_capacity(1 << 16, io::stdin()))
        } else {
            let file = File::open(name).with_context(|| format!("{name}: cannot open"))?;
            Box::new(BufReader::with_capacity(1 << 16, file))
        };
        let label = if name == "-" {
            "<stdin>"
        } else {
            name.as_str()
        };
        sources.push(JsonlLines::new(label, reader));
    }
    let input = sources.into_iter().flatten();
    let mut ledger = args.ledger.open_with_kms(true, args.encrypt)?;
    if args.encrypt {
        ledger.encrypt_payloads();
    }
    let stdout = io::stdout();
    let receipt = match args.commit_every {
        None => ledger.ingest(&keys, input),
        Some(n) => {
            let mut ack = |b: &spanforge_store::BatchReceipt| -> spanforge_store::Result<()> {
                let mut out = stdout.lock();
                // A producer waiting for acks must see each one as soon as it is durable.
                let _ = writeln!(
                    out,
                    "acked {} {}",
                    b.total,
                    b.last_event_id.as_deref().unwrap_or("-")
                );
                let _ = out.flush();
                Ok(())
            };
            ledger.ingest_streaming(&keys, input, n, &mut ack)
        }
    };
    let receipt = match receipt {
        Ok(r) => r,
        Err(e) if is_input_error(&e) => {
            eprintln!("spanforge: refused: {e}");
            eprintln!("spanforge: nothing from this input was written to the ledger");
            return Ok(Outcome::Failed);
        }
        Err(e) => return Err(e).context("ingest failed; nothing from this input was written"),
    };
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer(&mut out, &receipt)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "ingested {} events ({} arrived signed and were verified first) into {}",
            receipt.events,
            receipt.verified_presigned,
            args.ledger.db_path().display()
        )?;
        for t in &receipt.tenants {
            writeln!(out, "  {}: {} events, root {}", t.tenant, t.size, t.root)?;
        }
    }
    Ok(Outcome::Ok)
}

/// Whether an ingest error is about the input (exit 1) rather than the system (exit 2).
fn is_input_error(e: &spanforge_store::Error) -> bool {
    e.location().is_some()
}
