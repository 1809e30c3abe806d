//! `spanforge model …`: the model registry. Every action appends a signed event to the ledger
//! (so the registry survives across processes and is itself change-management evidence), and
//! `list`/`show` fold the state back from those events.

use std::io::Write;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use spanforge_event::{Source, UlidGenerator};
use spanforge_mapping::registry::{ActionContext, LifecycleRules, ModelAction, ModelRegistry};
use spanforge_store::TenantId;

use crate::Outcome;
use crate::events::Format;
use crate::keyfile::LedgerArgs;

/// Model registry commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Register a model version (`model_registry.registered`).
    Register(RegisterArgs),
    /// Approve the release of a version (`decision.made`); the approver must not be the person
    /// who registered it.
    Approve(ApproveArgs),
    /// Record an evaluation result of a version (`llm.eval.score.recorded`).
    Evaluate(EvaluateArgs),
    /// Deploy a version (`dev.spanforge.model.deployed`): needs an approval of the change and a
    /// passing latest evaluation on record, unless the rules are relaxed.
    Deploy(DeployArgs),
    /// Deprecate a version, or every live version (`model_registry.deprecated`).
    Deprecate(EndArgs),
    /// Retire a version, or every live version (`model_registry.retired`).
    Retire(EndArgs),
    /// List the registered models.
    List(ListArgs),
    /// Show one model with its versions and history.
    Show(ShowArgs),
}

/// Options every writing command takes.
#[derive(Debug, Args)]
pub(crate) struct Common {
    /// The tenant (org id) the model belongs to; the default tenant when omitted.
    #[arg(long)]
    org: Option<String>,
    /// Who acts (default: $SPANFORGE_ACTOR).
    #[arg(long)]
    actor: Option<String>,
    #[command(flatten)]
    ledger: LedgerArgs,
}

/// Arguments of `model register`.
#[derive(Debug, Args)]
pub(crate) struct RegisterArgs {
    /// Model id.
    #[arg(long)]
    model_id: String,
    /// Model version.
    #[arg(long, value_name = "VERSION")]
    model_version: String,
    /// Display name (defaults to the id).
    #[arg(long)]
    name: Option<String>,
    /// Accountable owner.
    #[arg(long)]
    owner: String,
    /// Intended purpose.
    #[arg(long)]
    purpose: String,
    /// Risk tier: low, medium, high, critical.
    #[arg(long)]
    risk_tier: String,
    #[command(flatten)]
    common: Common,
}

/// Arguments of `model approve`.
#[derive(Debug, Args)]
pub(crate) struct ApproveArgs {
    /// Model id.
    #[arg(long)]
    model_id: String,
    /// Model version.
    #[arg(long, value_name = "VERSION")]
    model_version: String,
    /// Change record id (default `<model>@<version>`).
    #[arg(long)]
    change_id: Option<String>,
    /// Why the release is approved.
    #[arg(long, default_value = "release approved")]
    note: String,
    /// Allow the person who registered the version to approve it.
    #[arg(long)]
    allow_self_approval: bool,
    #[command(flatten)]
    common: Common,
}

/// Arguments of `model evaluate`.
#[derive(Debug, Args)]
pub(crate) struct EvaluateArgs {
    /// Model id.
    #[arg(long)]
    model_id: String,
    /// Model version.
    #[arg(long, value_name = "VERSION")]
    model_version: String,
    /// Metric name.
    #[arg(long)]
    metric: String,
    /// Score.
    #[arg(long)]
    score: f64,
    /// Passing threshold (the score must be at least this).
    #[arg(long)]
    threshold: f64,
    /// Test set id.
    #[arg(long, default_value = "default")]
    test_set: String,
    #[command(flatten)]
    common: Common,
}

/// Arguments of `model deploy`.
#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// Model id.
    #[arg(long)]
    model_id: String,
    /// Model version.
    #[arg(long, value_name = "VERSION")]
    model_version: String,
    /// Change record id (default `<model>@<version>`).
    #[arg(long)]
    change_id: Option<String>,
    /// Target environment.
    #[arg(long, default_value = "production")]
    environment: String,
    /// Model card or documentation link.
    #[arg(long)]
    doc_uri: Option<String>,
    /// Deploy without an approval on record (the package will report an exception).
    #[arg(long)]
    allow_unapproved: bool,
    /// Deploy without a passing evaluation on record.
    #[arg(long)]
    skip_evaluation_check: bool,
    /// Allow deploying a deprecated version.
    #[arg(long)]
    allow_deprecated: bool,
    #[command(flatten)]
    common: Common,
}

/// Arguments of `model deprecate` and `model retire`.
#[derive(Debug, Args)]
pub(crate) struct EndArgs {
    /// Model id.
    #[arg(long)]
    model_id: String,
    /// One model version (every live version when omitted).
    #[arg(long, value_name = "VERSION")]
    model_version: Option<String>,
    /// Why.
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    common: Common,
}

/// Arguments of `model list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// The tenant (org id); the default tenant when omitted.
    #[arg(long)]
    org: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    ledger: LedgerArgs,
}

/// Arguments of `model show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// Model id.
    model_id: String,
    /// The tenant (org id); the default tenant when omitted.
    #[arg(long)]
    org: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    ledger: LedgerArgs,
}

fn tenant(org: Option<&String>) -> Result<TenantId> {
    Ok(match org {
        Some(o) => TenantId::org(o.clone())?,
        None => TenantId::Default,
    })
}

fn act(common: &Common, action: &ModelAction, rules: &LifecycleRules) -> Result<Outcome> {
    let mut ledger = common.ledger.open(true)?;
    let keys = common.ledger.keys()?;
    let registry = ModelRegistry::load(&ledger, &tenant(common.org.as_ref())?)?;
    let ctx = ActionContext {
        actor: actor(common.actor.as_deref())?,
        org: common.org.clone(),
        source: Source::parse(concat!("spanforge-cli@", env!("CARGO_PKG_VERSION")))?,
    };
    let events = registry.plan(action, &ctx, rules, &mut UlidGenerator::system())?;
    let ids: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e.event_type().as_str().to_owned(),
                e.event_id().as_str().to_owned(),
            )
        })
        .collect();
    ledger.append_batch(&keys, events)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (t, id) in ids {
        writeln!(out, "recorded {t} {id}")?;
    }
    Ok(Outcome::Ok)
}

pub(crate) fn run(cmd: Command) -> Result<Outcome> {
    let default_rules = LifecycleRules::default();
    match cmd {
        Command::Register(a) => act(
            &a.common,
            &ModelAction::Register {
                model_id: a.model_id,
                version: a.model_version,
                name: a.name,
                owner: a.owner,
                purpose: a.purpose,
                risk_tier: a.risk_tier,
            },
            &default_rules,
        ),
        Command::Approve(a) => act(
            &a.common,
            &ModelAction::Approve {
                model_id: a.model_id,
                version: a.model_version,
                change_id: a.change_id,
                note: a.note,
            },
            &LifecycleRules {
                independent_approval: !a.allow_self_approval,
                ..default_rules
            },
        ),
        Command::Evaluate(a) => act(
            &a.common,
            &ModelAction::Evaluate {
                model_id: a.model_id,
                version: a.model_version,
                metric: a.metric,
                score: a.score,
                threshold: a.threshold,
                test_set: a.test_set,
            },
            &default_rules,
        ),
        Command::Deploy(a) => act(
            &a.common,
            &ModelAction::Deploy {
                model_id: a.model_id,
                version: a.model_version,
                change_id: a.change_id,
                environment: a.environment,
                doc_uri: a.doc_uri,
            },
            &LifecycleRules {
                require_approval: !a.allow_unapproved,
                require_passing_evaluation: !a.skip_evaluation_check,
                allow_deploying_deprecated: a.allow_deprecated,
                ..default_rules
            },
        ),
        Command::Deprecate(a) => act(
            &a.common,
            &ModelAction::Deprecate {
                model_id: a.model_id,
                version: a.model_version,
                reason: a.reason,
            },
            &default_rules,
        ),
        Command::Retire(a) => act(
            &a.common,
            &ModelAction::Retire {
                model_id: a.model_id,
                version: a.model_version,
                reason: a.reason,
            },
            &default_rules,
        ),
        Command::List(a) => {
            let ledger = a.ledger.open_existing()?;
            let registry = ModelRegistry::load(&ledger, &tenant(a.org.as_ref())?)?;
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            match a.format {
                Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&registry)?)?,
                Format::Text => {
                    if registry.models.is_empty() {
                        writeln!(out, "No models registered.")?;
                    }
                    for m in registry.models.values() {
                        let versions: Vec<String> = m
                            .versions
                            .values()
                            .map(|v| format!("{} ({})", v.version, v.status))
                            .collect();
                        writeln!(
                            out,
                            "{}\t{}\t{}",
                            m.model_id,
                            m.status(),
                            versions.join(", ")
                        )?;
                    }
                }
            }
            Ok(Outcome::Ok)
        }
        Command::Show(a) => {
            let ledger = a.ledger.open_existing()?;
            let registry = ModelRegistry::load(&ledger, &tenant(a.org.as_ref())?)?;
            let model = registry
                .model(&a.model_id)
                .ok_or_else(|| anyhow::anyhow!("model {} is not registered", a.model_id))?;
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            match a.format {
                Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(model)?)?,
                Format::Text => {
                    writeln!(out, "{} ({})", model.model_id, model.status())?;
                    for v in model.versions.values() {
                        writeln!(
                            out,
                            "  version {}: {} · owner {} · risk {} · approvals {} · evaluations {} (latest passed: {}) · deployments {}",
                            v.version,
                            v.status,
                            v.owner.as_deref().unwrap_or("?"),
                            v.risk_tier.as_deref().unwrap_or("?"),
                            v.approvals.len(),
                            v.evaluations.len(),
                            v.latest_evaluation_passed()
                                .map_or("none".to_owned(), |b| b.to_string()),
                            v.deployments.len()
                        )?;
                        for d in &v.deployments {
                            writeln!(
                                out,
                                "    deployed {} to {} by {} ({})",
                                d.at,
                                d.environment.as_deref().unwrap_or("?"),
                                d.by.as_deref().unwrap_or("?"),
                                if d.approved {
                                    "approved"
                                } else {
                                    "NO APPROVAL ON RECORD"
                                }
                            )?;
                        }
                    }
                    writeln!(out, "  history:")?;
                    for h in &model.history {
                        writeln!(
                            out,
                            "    {} {} {} by {} ({})",
                            h.at,
                            h.event_type,
                            h.version.as_deref().unwrap_or("*"),
                            h.actor.as_deref().unwrap_or("?"),
                            h.event_id
                        )?;
                    }
                }
            }
            Ok(Outcome::Ok)
        }
    }
}

/// The actor named by `--actor`, else `$SPANFORGE_ACTOR`.
fn actor(given: Option<&str>) -> Result<String> {
    match given {
        Some(a) if !a.trim().is_empty() => Ok(a.to_owned()),
        _ => std::env::var("SPANFORGE_ACTOR")
            .ok()
            .filter(|a| !a.trim().is_empty())
            .context("name who acts with --actor (or SPANFORGE_ACTOR)"),
    }
}
