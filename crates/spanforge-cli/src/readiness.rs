//! `spanforge readiness`: the guide's readiness checklists and auditor questions answered from
//! the ledger.

use std::io::Write;

use anyhow::Result;
use clap::Args;
use spanforge_catalog::FrameworkId;
use spanforge_mapping::Error as MappingError;
use spanforge_mapping::engine::AssessmentRequest;
use spanforge_mapping::period::{Day, MICROS_PER_DAY, Period};
use spanforge_mapping::readiness::{readiness, render_text};
use spanforge_mapping::rules::RuleSet;

use crate::Outcome;
use crate::dates::now_micros;
use crate::events::Format;
use crate::keyfile::LedgerArgs;

/// Arguments of `readiness`.
#[derive(Debug, Args)]
pub(crate) struct Command {
    /// Framework whose criteria are summarised (the checklists are the guide's, for SOC 2).
    #[arg(long, default_value = "soc2")]
    framework: String,
    /// First day of the period (default: `--days` days before today).
    #[arg(long, value_name = "DATE", requires = "to")]
    from: Option<String>,
    /// Last day of the period, included (default: yesterday).
    #[arg(long, value_name = "DATE", requires = "from")]
    to: Option<String>,
    /// Length of the default period, ending yesterday.
    #[arg(long, default_value_t = 90)]
    days: u32,
    /// Only events about this model.
    #[arg(long, value_name = "ID")]
    model_id: Option<String>,
    /// Only this tenant (org id).
    #[arg(long)]
    org: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    ledger: LedgerArgs,
}

pub(crate) fn run(a: Command) -> Result<Outcome> {
    let framework = FrameworkId::parse(&a.framework)?;
    let now = now_micros()?;
    let period = match (&a.from, &a.to) {
        (Some(f), Some(t)) => Period::parse(f, t)?,
        _ => {
            let yesterday = Day::of_micros(now - MICROS_PER_DAY);
            let days = i32::try_from(a.days.max(1)).unwrap_or(i32::MAX);
            Period::new(yesterday.plus(1 - days), yesterday)?
        }
    };
    let mut req = AssessmentRequest::new(framework, period, now);
    if let Some(m) = &a.model_id {
        req = req.with_model(m.clone());
    }
    if let Some(o) = &a.org {
        req = req.with_org(o.clone());
    }
    let mut ledger = a.ledger.open_existing()?;
    let keys = a.ledger.keys()?;
    let report = match readiness(&mut ledger, &keys, &RuleSet::shipped()?, &req) {
        Ok(r) => r,
        Err(e @ MappingError::LedgerIntegrity { .. }) => {
            eprintln!("spanforge: {e}");
            return Ok(Outcome::Failed);
        }
        Err(e) => return Err(e.into()),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match a.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        Format::Text => write!(out, "{}", render_text(&report))?,
    }
    out.flush()?;
    Ok(Outcome::Ok)
}
