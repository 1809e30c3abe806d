//! `spanforge catalog …`: the control catalogs and the crosswalk, from `spanforge-catalog`.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use spanforge_catalog::{FrameworkId, oscal, render};

use crate::Outcome;
use crate::events::Format;

/// Commands on the control catalogs.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List the frameworks with their edition, number of controls and content hash.
    List(FormatArg),
    /// Show a framework's controls, or one control of it.
    Show(ShowArgs),
    /// The crosswalk of a control: a canonical control (`SF-CHG-01`) or a framework
    /// node (`CC8.1`, `gdpr:Art. 17`), and everything it maps to.
    Map(MapArgs),
    /// Export a framework as OSCAL 1.2 JSON (catalog, profile, mapping collection).
    Export(ExportArgs),
}

/// The output-format option shared by the read-only commands.
#[derive(Debug, Args)]
pub(crate) struct FormatArg {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Arguments of `catalog show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// Framework id: soc2, iso42001, nist-ai-rmf, eu-ai-act, gdpr, hipaa (aliases accepted).
    framework: String,
    /// A control id within the framework (for example CC8.1 or A.6.2.8).
    control: Option<String>,
    #[command(flatten)]
    format: FormatArg,
}

/// Arguments of `catalog map`.
#[derive(Debug, Args)]
pub(crate) struct MapArgs {
    /// A canonical control id or a framework control id.
    control: String,
    #[command(flatten)]
    format: FormatArg,
}

/// Arguments of `catalog export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The framework to export as OSCAL.
    #[arg(long, value_name = "FRAMEWORK")]
    oscal: String,
    /// Directory to write the OSCAL documents into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub(crate) fn run(cmd: Command) -> Result<Outcome> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        Command::List(f) => match f.format {
            // Serialise the typed summaries, which keep the documented field order.
            Format::Json => writeln!(out, "{}", serde_json::to_string(&render::list())?)?,
            Format::Text => write!(out, "{}", render::list_text())?,
        },
        Command::Show(a) => {
            let framework = FrameworkId::parse(&a.framework)?;
            let control = a.control.as_deref();
            match a.format.format {
                Format::Json => writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&render::show_json(framework, control)?)?
                )?,
                Format::Text => write!(out, "{}", render::show_text(framework, control)?)?,
            }
        }
        Command::Map(a) => match a.format.format {
            Format::Json => writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&render::map_json(&a.control)?)?
            )?,
            Format::Text => write!(out, "{}", render::map_text(&a.control)?)?,
        },
        Command::Export(a) => {
            let framework = FrameworkId::parse(&a.oscal)?;
            fs::create_dir_all(&a.out)
                .with_context(|| format!("{}: cannot create directory", a.out.display()))?;
            for file in oscal::export_files(framework) {
                let path = a.out.join(&file.file_name);
                fs::write(&path, file.to_pretty_json())
                    .with_context(|| format!("{}: cannot write", path.display()))?;
                writeln!(out, "{}", path.display())?;
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Ok)
}
