//! `spanforge events …`: commands on event files.
//!
//! `events validate FILE...` checks JSONL files line by line against the envelope rules of
//! [`spanforge_event`], streaming so that any file size runs in constant memory.

use std::io::Write;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use spanforge_event::{Event, EventError, json};

use crate::Outcome;
use crate::input::{Input, Line, MAX_LINE_BYTES};

/// Commands on event files.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Validate JSONL event files: one event per line; `-` reads standard input.
    ///
    /// Prints `FILE:LINE: field: reason` for every bad line and a summary. Exit status: 0 when
    /// every line is a valid event, 1 when any is not, 2 for usage or I/O errors.
    Validate(ValidateArgs),
}

/// Arguments of `events validate`.
#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// JSONL files to validate (`-` for standard input).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
    /// Output format; JSON is one object: `{"total","valid","invalid":[…]}`.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// How a command prints its result (every command that takes `--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Lines for a person to read.
    Text,
    /// One JSON object: the command's whole report.
    Json,
}

pub(crate) fn run(cmd: Command) -> Result<Outcome> {
    match cmd {
        Command::Validate(args) => validate(&args),
    }
}

/// One invalid line, as `--format json` reports it.
#[derive(Debug, Serialize)]
struct Invalid {
    file: String,
    line: u64,
    event_id: Option<String>,
    field: String,
    error: String,
}

#[derive(Debug, Default, Serialize)]
struct Summary {
    total: u64,
    valid: u64,
    invalid: Vec<Invalid>,
}

fn validate(args: &ValidateArgs) -> Result<Outcome> {
    // Open every input first, so that a typo in the last name fails before any output.
    let inputs = args
        .files
        .iter()
        .map(|f| Input::open(f))
        .collect::<Result<Vec<_>>>()?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut summary = Summary::default();
    // In text mode problems are printed as they are found, so memory stays constant however
    // many lines are bad; JSON mode has to hold the list of problems to print one object.
    let streaming = args.format == Format::Text;
    let mut invalid_count = 0u64;
    for mut input in inputs {
        let mut report = |problem: Invalid| -> Result<()> {
            invalid_count += 1;
            if streaming {
                writeln!(
                    out,
                    "{}:{}: {}: {}",
                    problem.file, problem.line, problem.field, problem.error
                )?;
            } else {
                summary.invalid.push(problem);
            }
            Ok(())
        };
        validate_one(
            &mut input,
            &mut summary.total,
            &mut summary.valid,
            &mut report,
        )?;
    }
    match args.format {
        Format::Text => {
            writeln!(
                out,
                "{} events checked: {} valid, {} invalid",
                summary.total, summary.valid, invalid_count
            )?;
        }
        Format::Json => {
            serde_json::to_writer(&mut out, &summary)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(if invalid_count == 0 {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

/// The field name used for problems that concern the file rather than one event.
const WHOLE_FILE: &str = "<file>";

fn validate_one(
    input: &mut Input,
    total: &mut u64,
    valid: &mut u64,
    report: &mut dyn FnMut(Invalid) -> Result<()>,
) -> Result<()> {
    let mut buf = Vec::with_capacity(4096);
    let mut line_no = 0u64;
    // Until one line has parsed as JSON, a syntax error means the file is probably not JSONL
    // at all (a pretty-printed document, a JSON array, a binary file): say so once and stop,
    // rather than printing an error for every line of it.
    let mut seen_json = false;
    loop {
        let line = input
            .next_line(&mut buf)
            .with_context(|| format!("{}: read error after line {line_no}", input.name))?;
        let Some(line) = line else { break };
        line_no += 1;
        let problem = |field: &str, error: String, event_id: Option<String>| Invalid {
            file: input.name.clone(),
            line: line_no,
            event_id,
            field: field.to_owned(),
            error,
        };
        let text = match line {
            Line::Text(t) if t.trim().is_empty() => continue,
            Line::Text(t) => t,
            Line::NotUtf8 { byte } => {
                *total += 1;
                if !seen_json {
                    report(problem(
                        WHOLE_FILE,
                        format!(
                            "not a JSONL file: line {line_no} is not UTF-8 text (bad byte at offset {byte})"
                        ),
                        None,
                    ))?;
                    return Ok(());
                }
                report(problem(
                    "<event>",
                    format!("line is not valid UTF-8 (bad byte at offset {byte})"),
                    None,
                ))?;
                continue;
            }
            Line::TooLong => {
                *total += 1;
                report(problem(
                    "<event>",
                    format!(
                        "line is longer than {MAX_LINE_BYTES} bytes; an event is at most 1 MiB"
                    ),
                    None,
                ))?;
                continue;
            }
        };
        *total += 1;
        match Event::from_json_str(text) {
            Ok(_) => {
                seen_json = true;
                *valid += 1;
            }
            Err(err) => {
                if let EventError::Json(parse) = &err {
                    if !seen_json {
                        report(problem(WHOLE_FILE, not_jsonl(text, line_no, parse), None))?;
                        return Ok(());
                    }
                } else {
                    seen_json = true;
                }
                let field = err.field().to_owned();
                let full = err.to_string();
                let reason = full
                    .strip_prefix(&format!("{field}: "))
                    .unwrap_or(&full)
                    .to_owned();
                report(problem(&field, reason, event_id_of(text)))?;
            }
        }
    }
    Ok(())
}

/// Explains why a file whose first line is not JSON is not JSONL.
fn not_jsonl(first: &str, line_no: u64, err: &json::ParseError) -> String {
    let trimmed = first.trim();
    let hint = if trimmed == "{" || trimmed == "[" {
        "it looks like a pretty-printed JSON document; JSONL needs one complete event per line"
    } else if trimmed.starts_with('[') {
        "it looks like a JSON array; JSONL needs one event object per line, not an array"
    } else {
        "expected one JSON event object per line"
    };
    format!("not a JSONL file: line {line_no} is not JSON ({err}); {hint}")
}

/// The `event_id` of a line that is JSON but not a valid event, when it has a string one.
fn event_id_of(text: &str) -> Option<String> {
    let value = json::parse(text).ok()?;
    value.get("event_id")?.as_str().map(str::to_owned)
}
