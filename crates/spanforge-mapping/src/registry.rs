//! The model registry as change-management evidence (CC8.1): lifecycle actions become events
//! appended to the ledger, and the registry state is folded back from those events, so it
//! survives across processes and every change is itself tamper-evident evidence.
//!
//! Event types follow the reference SDK's registry where it has one and documented extension
//! types elsewhere, so every event passes the reference's validation:
//!
//! | action | event type | payload |
//! |---|---|---|
//! | register | `model_registry.registered` | the registry entry (`model_id`, `name`, `version`, `owner`, `purpose`, `risk_tier`, `status`) |
//! | approve | `decision.made` | a decision record with `approval_of: "model_release"`, `decision: "approved"`, `change_id`, `model_id`, `version` |
//! | evaluate | `llm.eval.score.recorded` | `model_id`, `model_version`, `metric`, `score`, `threshold`, `passed`, `test_set` |
//! | deploy | `dev.spanforge.model.deployed` | `model_id`, `version`, `change_id`, `environment`, `author`, `doc_uri` |
//! | deprecate | `model_registry.deprecated` | the entry with `status: "deprecated"` and the reason |
//! | retire | `model_registry.retired` | the entry with `status: "retired"`, the reason and `approved_by` |
//!
//! Lifecycle rules ([`LifecycleRules`]) are checked before an event is built; a deployment
//! recorded by other means without an approval still lands in the ledger, and the evidence
//! package reports it as an exception of SF-CHG-01.

use std::collections::BTreeMap;

use serde::Serialize;
use spanforge_event::json::{Map, Value};
use spanforge_event::{Clock, Entropy, Event, EventBuilder, EventType, Source, UlidGenerator};
use spanforge_store::{Backend, Ledger, Query, TenantId};

use crate::error::{Error, Result};

/// The extension type of a deployment record.
pub const DEPLOYED_TYPE: &str = "dev.spanforge.model.deployed";
/// The catalog's extension type of an approval record (read; this module writes
/// `decision.made`).
pub const APPROVED_TYPE: &str = "dev.spanforge.model.approved";
/// The event types the registry state is folded from.
pub const REGISTRY_TYPES: [&str; 7] = [
    "model_registry.registered",
    "model_registry.deprecated",
    "model_registry.retired",
    "decision.made",
    APPROVED_TYPE,
    "llm.eval.score.recorded",
    DEPLOYED_TYPE,
];

/// The risk tiers the reference registry accepts.
pub const RISK_TIERS: [&str; 4] = ["low", "medium", "high", "critical"];

/// Which lifecycle rules are enforced before an event is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LifecycleRules {
    /// A deployment needs an approval of the same change on record.
    pub require_approval: bool,
    /// A deployment needs the latest evaluation of the version to have passed.
    pub require_passing_evaluation: bool,
    /// Whoever registered a version may not approve it.
    pub independent_approval: bool,
    /// A deprecated version may still be deployed.
    pub allow_deploying_deprecated: bool,
}

impl Default for LifecycleRules {
    fn default() -> Self {
        Self {
            require_approval: true,
            require_passing_evaluation: true,
            independent_approval: true,
            allow_deploying_deprecated: false,
        }
    }
}

/// A lifecycle action.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelAction {
    /// Register a model version.
    Register {
        /// Model id.
        model_id: String,
        /// Version.
        version: String,
        /// Display name (defaults to the id).
        name: Option<String>,
        /// Accountable owner.
        owner: String,
        /// Intended purpose.
        purpose: String,
        /// Risk tier: low, medium, high or critical.
        risk_tier: String,
    },
    /// Approve the release of a version.
    Approve {
        /// Model id.
        model_id: String,
        /// Version.
        version: String,
        /// Change record id (defaults to `<model>@<version>`).
        change_id: Option<String>,
        /// Why it is approved.
        note: String,
    },
    /// Record an evaluation result of a version.
    Evaluate {
        /// Model id.
        model_id: String,
        /// Version.
        version: String,
        /// Metric name.
        metric: String,
        /// Score.
        score: f64,
        /// Passing threshold (score must be at least this).
        threshold: f64,
        /// Test set id.
        test_set: String,
    },
    /// Deploy a version.
    Deploy {
        /// Model id.
        model_id: String,
        /// Version.
        version: String,
        /// Change record id (defaults to `<model>@<version>`).
        change_id: Option<String>,
        /// Target environment.
        environment: String,
        /// Model card or documentation link.
        doc_uri: Option<String>,
    },
    /// Deprecate a version, or every live version of the model.
    Deprecate {
        /// Model id.
        model_id: String,
        /// One version, or all when `None`.
        version: Option<String>,
        /// Why.
        reason: String,
    },
    /// Retire a version, or every live version of the model.
    Retire {
        /// Model id.
        model_id: String,
        /// One version, or all when `None`.
        version: Option<String>,
        /// Why.
        reason: String,
    },
}

/// Who acts, for which tenant, from which source.
#[derive(Clone, Debug)]
pub struct ActionContext {
    /// The person or service acting (`actor_id`).
    pub actor: String,
    /// The tenant's org id (`None` for the default tenant).
    pub org: Option<String>,
    /// The envelope `source` (`spanforge-cli@<version>`).
    pub source: Source,
}

/// An approval on record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Approval {
    /// The change approved.
    pub change_id: String,
    /// Who approved.
    pub approver: Option<String>,
    /// When.
    pub at: String,
    /// The event.
    pub event_id: String,
}

/// An evaluation on record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    /// Metric.
    pub metric: Option<String>,
    /// Score.
    pub score: Option<f64>,
    /// Threshold.
    pub threshold: Option<f64>,
    /// Whether it passed.
    pub passed: bool,
    /// When.
    pub at: String,
    /// The event.
    pub event_id: String,
}

/// A deployment on record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Deployment {
    /// The change deployed.
    pub change_id: Option<String>,
    /// Environment.
    pub environment: Option<String>,
    /// Who deployed.
    pub by: Option<String>,
    /// Whether an approval of the change was on record at the time.
    pub approved: bool,
    /// When.
    pub at: String,
    /// The event.
    pub event_id: String,
}

/// The state of one model version.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VersionState {
    /// Version.
    pub version: String,
    /// `registered`, `deployed`, `deprecated` or `retired`.
    pub status: String,
    /// Display name.
    pub name: Option<String>,
    /// Owner.
    pub owner: Option<String>,
    /// Purpose.
    pub purpose: Option<String>,
    /// Risk tier.
    pub risk_tier: Option<String>,
    /// Who registered it.
    pub registered_by: Option<String>,
    /// When it was registered (`None` if the registration is not in the ledger).
    pub registered_at: Option<String>,
    /// Approvals.
    pub approvals: Vec<Approval>,
    /// Evaluations.
    pub evaluations: Vec<Evaluation>,
    /// Deployments.
    pub deployments: Vec<Deployment>,
    /// Deprecation time and reason.
    pub deprecated: Option<(String, String)>,
    /// Retirement time and reason.
    pub retired: Option<(String, String)>,
}

impl VersionState {
    fn new(version: &str) -> Self {
        Self {
            version: version.to_owned(),
            status: "registered".to_owned(),
            name: None,
            owner: None,
            purpose: None,
            risk_tier: None,
            registered_by: None,
            registered_at: None,
            approvals: Vec::new(),
            evaluations: Vec::new(),
            deployments: Vec::new(),
            deprecated: None,
            retired: None,
        }
    }

    /// Whether the latest evaluation passed.
    pub fn latest_evaluation_passed(&self) -> Option<bool> {
        self.evaluations.last().map(|e| e.passed)
    }
}

/// One entry of a model's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// When.
    pub at: String,
    /// The event type.
    pub event_type: String,
    /// The version concerned.
    pub version: Option<String>,
    /// Who acted.
    pub actor: Option<String>,
    /// The event.
    pub event_id: String,
}

/// The state of one model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelState {
    /// Model id.
    pub model_id: String,
    /// Versions by version string.
    pub versions: BTreeMap<String, VersionState>,
    /// Every registry event about the model, in order.
    pub history: Vec<HistoryEntry>,
}

impl ModelState {
    /// A summary status: `retired` when every version is, else the most advanced status of
    /// any live version.
    pub fn status(&self) -> &str {
        let live: Vec<&VersionState> = self
            .versions
            .values()
            .filter(|v| v.status != "retired")
            .collect();
        if live.is_empty() {
            return "retired";
        }
        for s in ["deployed", "registered", "deprecated"] {
            if live.iter().any(|v| v.status == s) {
                return s;
            }
        }
        "registered"
    }
}

/// The registry state of one tenant, folded from its ledger events.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ModelRegistry {
    /// Models by id.
    pub models: BTreeMap<String, ModelState>,
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn number(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

fn lifecycle(model: &str, version: Option<&str>, reason: impl Into<String>) -> Error {
    Error::Lifecycle {
        model: match version {
            Some(v) => format!("{model} version {v}"),
            None => model.to_owned(),
        },
        reason: reason.into(),
    }
}

impl ModelRegistry {
    /// Reads the registry events of `tenant` from the ledger (one query per registry type)
    /// and folds them in time order.
    ///
    /// # Errors
    ///
    /// Ledger read errors, or a stored event that does not parse.
    pub fn load<B: Backend>(ledger: &Ledger<B>, tenant: &TenantId) -> Result<Self> {
        let mut records = Vec::new();
        for t in REGISTRY_TYPES {
            // A type prefix that is a whole type matches that type and anything below it;
            // keep only exact matches.
            let query = Query {
                event_type_prefix: Some(t.to_owned()),
                ..Query::tenant(tenant.clone())
            };
            let rows = ledger
                .query(&query)
                .map_err(|e| Error::store(format!("reading {t} events"), e))?;
            for row in rows {
                let row = row.map_err(|e| Error::store(format!("reading {t} events"), e))?;
                if row.event_type == t {
                    records.push(row);
                }
            }
        }
        records.sort_by_key(|r| (r.ts_micros, r.seq));
        let mut registry = Self::default();
        for r in records {
            let event =
                Event::from_json_str_for_reading(&r.envelope).map_err(|source| Error::Event {
                    context: format!("parsing stored event {}", r.event_id),
                    source,
                })?;
            registry.apply(&event);
        }
        Ok(registry)
    }

    /// A model by id.
    pub fn model(&self, model_id: &str) -> Option<&ModelState> {
        self.models.get(model_id)
    }

    /// Folds one event into the state; events that are not registry events are ignored.
    pub fn apply(&mut self, event: &Event) {
        let p = event.payload();
        let event_type = event.event_type().as_str();
        let at = event.timestamp().as_str().to_owned();
        let event_id = event.event_id().as_str().to_owned();
        let actor = event.actor_id().map(str::to_owned);
        let (model_id, version) = match event_type {
            "llm.eval.score.recorded" => (text(p.get("model_id")), text(p.get("model_version"))),
            "decision.made" => {
                let is_approval = text(p.get("approval_of")).as_deref() == Some("model_release")
                    && text(p.get("decision")).as_deref() == Some("approved");
                if !is_approval {
                    return;
                }
                (text(p.get("model_id")), text(p.get("version")))
            }
            _ => (text(p.get("model_id")), text(p.get("version"))),
        };
        let Some(model_id) = model_id else { return };
        let model = self
            .models
            .entry(model_id.clone())
            .or_insert_with(|| ModelState {
                model_id: model_id.clone(),
                versions: BTreeMap::new(),
                history: Vec::new(),
            });
        model.history.push(HistoryEntry {
            at: at.clone(),
            event_type: event_type.to_owned(),
            version: version.clone(),
            actor: actor.clone(),
            event_id: event_id.clone(),
        });
        // Deprecations and retirements without a version apply to every live version.
        let targets: Vec<String> = match (&version, event_type) {
            (Some(v), _) => vec![v.clone()],
            (None, "model_registry.deprecated" | "model_registry.retired") => model
                .versions
                .values()
                .filter(|v| v.status != "retired")
                .map(|v| v.version.clone())
                .collect(),
            (None, _) => return,
        };
        for v in targets {
            let entry = model
                .versions
                .entry(v.clone())
                .or_insert_with(|| VersionState::new(&v));
            match event_type {
                "model_registry.registered" => {
                    entry.name = text(p.get("name"));
                    entry.owner = text(p.get("owner"));
                    entry.purpose = text(p.get("purpose"));
                    entry.risk_tier = text(p.get("risk_tier"));
                    entry.registered_by.clone_from(&actor);
                    entry.registered_at = Some(at.clone());
                }
                "decision.made" | APPROVED_TYPE => entry.approvals.push(Approval {
                    change_id: text(p.get("change_id"))
                        .unwrap_or_else(|| format!("{model_id}@{v}")),
                    approver: actor.clone(),
                    at: at.clone(),
                    event_id: event_id.clone(),
                }),
                "llm.eval.score.recorded" => {
                    let score = number(p.get("score"));
                    let threshold = number(p.get("threshold"));
                    let passed = match p.get("passed").and_then(Value::as_bool) {
                        Some(b) => b,
                        None => matches!((score, threshold), (Some(s), Some(t)) if s >= t),
                    };
                    entry.evaluations.push(Evaluation {
                        metric: text(p.get("metric")),
                        score,
                        threshold,
                        passed,
                        at: at.clone(),
                        event_id: event_id.clone(),
                    });
                }
                DEPLOYED_TYPE => {
                    let change_id = text(p.get("change_id"));
                    let approved = entry
                        .approvals
                        .iter()
                        .any(|a| Some(&a.change_id) == change_id.as_ref());
                    entry.deployments.push(Deployment {
                        change_id,
                        environment: text(p.get("environment")),
                        by: actor.clone(),
                        approved,
                        at: at.clone(),
                        event_id: event_id.clone(),
                    });
                    if entry.status != "retired" {
                        entry.status = "deployed".to_owned();
                    }
                }
                "model_registry.deprecated" => {
                    let reason = text(p.get("reason"))
                        .or_else(|| {
                            text(p.get("metadata").and_then(|m| m.get("deprecation_reason")))
                        })
                        .unwrap_or_default();
                    entry.deprecated = Some((at.clone(), reason));
                    if entry.status != "retired" {
                        entry.status = "deprecated".to_owned();
                    }
                }
                "model_registry.retired" => {
                    entry.retired = Some((at.clone(), text(p.get("reason")).unwrap_or_default()));
                    entry.status = "retired".to_owned();
                }
                _ => {}
            }
        }
    }

    /// Checks `action` against the state and `rules` and builds the event(s) to append (one
    /// per version affected).
    ///
    /// # Errors
    ///
    /// [`Error::Lifecycle`] naming the rule broken (unknown model or version, duplicate
    /// registration, missing approval or passing evaluation, self-approval, action on a
    /// retired version), or [`Error::Invalid`] for a bad argument.
    pub fn plan<C: Clock, E: Entropy>(
        &self,
        action: &ModelAction,
        ctx: &ActionContext,
        rules: &LifecycleRules,
        ids: &mut UlidGenerator<C, E>,
    ) -> Result<Vec<Event>> {
        if ctx.actor.trim().is_empty() {
            return Err(Error::invalid("actor", "it is empty"));
        }
        let build =
            |event_type: &str, payload: Value, ids: &mut UlidGenerator<C, E>| -> Result<Event> {
                let t = EventType::parse(event_type).map_err(|source| Error::Event {
                    context: format!("building a {event_type} event"),
                    source,
                })?;
                let mut b =
                    EventBuilder::new(t, ctx.source.clone(), payload).actor_id(ctx.actor.clone());
                if let Some(org) = &ctx.org {
                    b = b.org_id(org.clone());
                }
                b.build(ids).map_err(|source| Error::Event {
                    context: format!("building a {event_type} event"),
                    source,
                })
            };
        let live_version = |model_id: &str, version: &str| -> Result<&VersionState> {
            let model = self
                .model(model_id)
                .ok_or_else(|| lifecycle(model_id, None, "is not registered"))?;
            let v = model.versions.get(version).ok_or_else(|| {
                lifecycle(
                    model_id,
                    Some(version),
                    "is not registered (register the version first)",
                )
            })?;
            if v.status == "retired" {
                return Err(lifecycle(model_id, Some(version), "is retired"));
            }
            Ok(v)
        };
        match action {
            ModelAction::Register {
                model_id,
                version,
                name,
                owner,
                purpose,
                risk_tier,
            } => {
                for (what, value) in [
                    ("model id", model_id),
                    ("version", version),
                    ("owner", owner),
                    ("purpose", purpose),
                ] {
                    if value.trim().is_empty() {
                        return Err(Error::invalid(what, "it is empty"));
                    }
                }
                if !RISK_TIERS.contains(&risk_tier.as_str()) {
                    return Err(Error::invalid(
                        "risk tier",
                        format!("{risk_tier:?} is not one of {}", RISK_TIERS.join(", ")),
                    ));
                }
                if self.model(model_id).is_some_and(|m| {
                    m.versions
                        .get(version)
                        .is_some_and(|v| v.registered_at.is_some())
                }) {
                    return Err(lifecycle(model_id, Some(version), "is already registered"));
                }
                let mut payload = entry_payload(
                    model_id,
                    version,
                    name.as_deref().unwrap_or(model_id),
                    owner,
                    purpose,
                    risk_tier,
                    "active",
                );
                if let Value::Object(map) = &mut payload {
                    map.insert("registered_by", ctx.actor.as_str());
                }
                Ok(vec![build("model_registry.registered", payload, ids)?])
            }
            ModelAction::Approve {
                model_id,
                version,
                change_id,
                note,
            } => {
                let v = live_version(model_id, version)?;
                if rules.independent_approval
                    && v.registered_by.as_deref() == Some(ctx.actor.as_str())
                {
                    return Err(lifecycle(
                        model_id,
                        Some(version),
                        format!(
                            "{} registered this version and may not approve it; another person must",
                            ctx.actor
                        ),
                    ));
                }
                let change = change_id
                    .clone()
                    .unwrap_or_else(|| format!("{model_id}@{version}"));
                Ok(vec![build(
                    "decision.made",
                    approval_payload(model_id, version, &change, note),
                    ids,
                )?])
            }
            ModelAction::Evaluate {
                model_id,
                version,
                metric,
                score,
                threshold,
                test_set,
            } => {
                live_version(model_id, version)?;
                if !score.is_finite() || !threshold.is_finite() {
                    return Err(Error::invalid(
                        "score",
                        "score and threshold must be finite numbers",
                    ));
                }
                let mut map = Map::new();
                map.insert("metric", metric.as_str());
                map.insert("model_id", model_id.as_str());
                map.insert("model_version", version.as_str());
                map.insert("passed", *score >= *threshold);
                map.insert("score", *score);
                map.insert("test_set", test_set.as_str());
                map.insert("threshold", *threshold);
                Ok(vec![build(
                    "llm.eval.score.recorded",
                    Value::Object(map),
                    ids,
                )?])
            }
            ModelAction::Deploy {
                model_id,
                version,
                change_id,
                environment,
                doc_uri,
            } => {
                let v = live_version(model_id, version)?;
                if v.status == "deprecated" && !rules.allow_deploying_deprecated {
                    return Err(lifecycle(
                        model_id,
                        Some(version),
                        "is deprecated and may not be deployed",
                    ));
                }
                let change = change_id
                    .clone()
                    .unwrap_or_else(|| format!("{model_id}@{version}"));
                if rules.require_approval && !v.approvals.iter().any(|a| a.change_id == change) {
                    return Err(lifecycle(
                        model_id,
                        Some(version),
                        format!(
                            "no approval of change {change} is on record; run `spanforge model approve` first"
                        ),
                    ));
                }
                if rules.require_passing_evaluation {
                    match v.latest_evaluation_passed() {
                        None => {
                            return Err(lifecycle(
                                model_id,
                                Some(version),
                                "no evaluation is on record; record a passing evaluation first",
                            ));
                        }
                        Some(false) => {
                            return Err(lifecycle(
                                model_id,
                                Some(version),
                                "its latest evaluation failed its threshold",
                            ));
                        }
                        Some(true) => {}
                    }
                }
                let mut map = Map::new();
                map.insert(
                    "author",
                    v.registered_by.clone().unwrap_or_else(|| ctx.actor.clone()),
                );
                map.insert("change_id", change.as_str());
                if let Some(doc) = doc_uri {
                    map.insert("doc_uri", doc.as_str());
                }
                map.insert("environment", environment.as_str());
                map.insert("model_id", model_id.as_str());
                map.insert("version", version.as_str());
                Ok(vec![build(DEPLOYED_TYPE, Value::Object(map), ids)?])
            }
            ModelAction::Deprecate {
                model_id,
                version,
                reason,
            }
            | ModelAction::Retire {
                model_id,
                version,
                reason,
            } => {
                let retire = matches!(action, ModelAction::Retire { .. });
                let model = self.model(model_id).ok_or_else(|| {
                    lifecycle(
                        model_id,
                        None,
                        "is not registered, so it cannot be deprecated or retired",
                    )
                })?;
                let targets: Vec<&VersionState> = match version {
                    Some(v) => vec![live_version(model_id, v)?],
                    None => model
                        .versions
                        .values()
                        .filter(|v| v.status != "retired")
                        .collect(),
                };
                if targets.is_empty() {
                    return Err(lifecycle(
                        model_id,
                        None,
                        "has no live version (every version is retired)",
                    ));
                }
                let mut events = Vec::new();
                for v in targets {
                    if !retire && v.status == "deprecated" {
                        return Err(lifecycle(
                            model_id,
                            Some(&v.version),
                            "is already deprecated",
                        ));
                    }
                    let status = if retire { "retired" } else { "deprecated" };
                    let mut payload = entry_payload(
                        model_id,
                        &v.version,
                        v.name.as_deref().unwrap_or(model_id),
                        v.owner.as_deref().unwrap_or("unknown"),
                        v.purpose.as_deref().unwrap_or("unknown"),
                        v.risk_tier.as_deref().unwrap_or("medium"),
                        status,
                    );
                    if let Value::Object(map) = &mut payload {
                        map.insert("reason", reason.as_str());
                        if retire {
                            map.insert("approved_by", ctx.actor.as_str());
                        } else {
                            let mut meta = Map::new();
                            meta.insert("deprecation_reason", reason.as_str());
                            map.insert("metadata", Value::Object(meta));
                        }
                    }
                    let t = if retire {
                        "model_registry.retired"
                    } else {
                        "model_registry.deprecated"
                    };
                    events.push(build(t, payload, ids)?);
                }
                Ok(events)
            }
        }
    }
}

/// A `model_registry.*` payload with every field the reference's registry entry requires.
pub fn entry_payload(
    model_id: &str,
    version: &str,
    name: &str,
    owner: &str,
    purpose: &str,
    risk_tier: &str,
    status: &str,
) -> Value {
    let mut map = Map::new();
    map.insert("model_id", model_id);
    map.insert("name", name);
    map.insert("owner", owner);
    map.insert("purpose", purpose);
    map.insert("risk_tier", risk_tier);
    map.insert("status", status);
    map.insert("version", version);
    Value::Object(map)
}

/// The `decision.made` payload that records the approval of a model release. It has every
/// field the reference's decision payload requires.
pub fn approval_payload(model_id: &str, version: &str, change_id: &str, note: &str) -> Value {
    let mut map = Map::new();
    map.insert("agent_id", "spanforge-model-registry");
    map.insert("approval_of", "model_release");
    map.insert("change_id", change_id);
    map.insert("confidence", 1.0);
    map.insert("decision", "approved");
    map.insert("decision_id", format!("approve:{change_id}"));
    map.insert("decision_type", "other");
    map.insert(
        "input_summary",
        format!("release of {model_id} version {version}"),
    );
    map.insert("latency_ms", 0.0);
    map.insert("model_id", model_id);
    map.insert("output_summary", note);
    map.insert("rationale_hash", "");
    map.insert("version", version);
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use spanforge_event::{EntropyError, FixedClock};

    use super::*;

    struct Counter(u8);
    impl Entropy for Counter {
        fn fill(&mut self, buf: &mut [u8]) -> std::result::Result<(), EntropyError> {
            self.0 = self.0.wrapping_add(1);
            buf.fill(self.0);
            Ok(())
        }
    }

    fn ctx(actor: &str) -> ActionContext {
        ActionContext {
            actor: actor.to_owned(),
            org: Some("acme".to_owned()),
            source: Source::parse("spanforge-cli@0.1.0").unwrap(),
        }
    }

    fn ids() -> UlidGenerator<FixedClock, Counter> {
        UlidGenerator::new(FixedClock(1_767_434_401_250_000), Counter(0))
    }

    fn apply_all(reg: &mut ModelRegistry, events: &[Event]) {
        for e in events {
            reg.apply(e);
        }
    }

    fn register(reg: &mut ModelRegistry, ids: &mut UlidGenerator<FixedClock, Counter>) {
        let events = reg
            .plan(
                &ModelAction::Register {
                    model_id: "m".into(),
                    version: "1".into(),
                    name: None,
                    owner: "team".into(),
                    purpose: "answers".into(),
                    risk_tier: "high".into(),
                },
                &ctx("alice"),
                &LifecycleRules::default(),
                ids,
            )
            .unwrap();
        apply_all(reg, &events);
    }

    #[test]
    fn lifecycle_rules_are_enforced() {
        let rules = LifecycleRules::default();
        let mut ids = ids();
        let mut reg = ModelRegistry::default();
        let deploy = ModelAction::Deploy {
            model_id: "m".into(),
            version: "1".into(),
            change_id: None,
            environment: "production".into(),
            doc_uri: None,
        };
        // Unknown model.
        assert!(matches!(
            reg.plan(&deploy, &ctx("bob"), &rules, &mut ids),
            Err(Error::Lifecycle { .. })
        ));
        let retire = ModelAction::Retire {
            model_id: "x".into(),
            version: None,
            reason: "r".into(),
        };
        let err = reg
            .plan(&retire, &ctx("bob"), &rules, &mut ids)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not registered"), "{err}");
        register(&mut reg, &mut ids);
        // Duplicate registration.
        let again = ModelAction::Register {
            model_id: "m".into(),
            version: "1".into(),
            name: None,
            owner: "t".into(),
            purpose: "p".into(),
            risk_tier: "low".into(),
        };
        assert!(reg.plan(&again, &ctx("alice"), &rules, &mut ids).is_err());
        // No approval yet.
        let err = reg
            .plan(&deploy, &ctx("bob"), &rules, &mut ids)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no approval"), "{err}");
        // Self-approval is refused.
        let approve = ModelAction::Approve {
            model_id: "m".into(),
            version: "1".into(),
            change_id: None,
            note: "ok".into(),
        };
        assert!(reg.plan(&approve, &ctx("alice"), &rules, &mut ids).is_err());
        let events = reg.plan(&approve, &ctx("carol"), &rules, &mut ids).unwrap();
        assert_eq!(events[0].event_type().as_str(), "decision.made");
        events[0].check_payload_strict().unwrap();
        apply_all(&mut reg, &events);
        // No evaluation yet, then a failing one, then a passing one.
        let err = reg
            .plan(&deploy, &ctx("bob"), &rules, &mut ids)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no evaluation"), "{err}");
        let eval = |score| ModelAction::Evaluate {
            model_id: "m".into(),
            version: "1".into(),
            metric: "accuracy".into(),
            score,
            threshold: 0.9,
            test_set: "golden".into(),
        };
        let failed = reg.plan(&eval(0.5), &ctx("ci"), &rules, &mut ids).unwrap();
        apply_all(&mut reg, &failed);
        assert!(
            reg.plan(&deploy, &ctx("bob"), &rules, &mut ids)
                .unwrap_err()
                .to_string()
                .contains("failed")
        );
        let passed = reg.plan(&eval(0.95), &ctx("ci"), &rules, &mut ids).unwrap();
        apply_all(&mut reg, &passed);
        let deployed = reg.plan(&deploy, &ctx("bob"), &rules, &mut ids).unwrap();
        assert_eq!(deployed[0].event_type().as_str(), DEPLOYED_TYPE);
        assert_eq!(
            deployed[0].payload().get("author").and_then(Value::as_str),
            Some("alice")
        );
        apply_all(&mut reg, &deployed);
        assert_eq!(reg.model("m").unwrap().status(), "deployed");
        assert!(reg.model("m").unwrap().versions["1"].deployments[0].approved);
        // Relaxed rules allow an unapproved deployment of another change.
        let relaxed = LifecycleRules {
            require_approval: false,
            ..rules
        };
        let other = ModelAction::Deploy {
            model_id: "m".into(),
            version: "1".into(),
            change_id: Some("hotfix".into()),
            environment: "production".into(),
            doc_uri: None,
        };
        assert!(reg.plan(&other, &ctx("bob"), &rules, &mut ids).is_err());
        let hotfix = reg.plan(&other, &ctx("bob"), &relaxed, &mut ids).unwrap();
        apply_all(&mut reg, &hotfix);
        assert!(!reg.model("m").unwrap().versions["1"].deployments[1].approved);
        // Deprecate, then no deploy; retire, then nothing.
        let dep = reg
            .plan(
                &ModelAction::Deprecate {
                    model_id: "m".into(),
                    version: None,
                    reason: "old".into(),
                },
                &ctx("bob"),
                &rules,
                &mut ids,
            )
            .unwrap();
        dep[0].check_payload_strict().unwrap();
        apply_all(&mut reg, &dep);
        assert!(
            reg.plan(&deploy, &ctx("bob"), &rules, &mut ids)
                .unwrap_err()
                .to_string()
                .contains("deprecated")
        );
        let ret = reg
            .plan(
                &ModelAction::Retire {
                    model_id: "m".into(),
                    version: Some("1".into()),
                    reason: "gone".into(),
                },
                &ctx("bob"),
                &rules,
                &mut ids,
            )
            .unwrap();
        ret[0].check_payload_strict().unwrap();
        apply_all(&mut reg, &ret);
        assert_eq!(reg.model("m").unwrap().status(), "retired");
        assert!(
            reg.plan(&retire_all("m"), &ctx("bob"), &rules, &mut ids)
                .is_err()
        );
        assert!(reg.plan(&eval(0.99), &ctx("ci"), &rules, &mut ids).is_err());
    }

    fn retire_all(model: &str) -> ModelAction {
        ModelAction::Retire {
            model_id: model.into(),
            version: None,
            reason: "r".into(),
        }
    }

    #[test]
    fn events_are_valid_reference_types() {
        for t in REGISTRY_TYPES {
            assert!(EventType::parse(t).is_ok(), "{t}");
        }
        let e = EventType::parse(DEPLOYED_TYPE).unwrap();
        assert!(!e.is_registered());
    }

    #[test]
    fn bad_arguments() {
        let reg = ModelRegistry::default();
        let mut ids = ids();
        let bad_tier = ModelAction::Register {
            model_id: "m".into(),
            version: "1".into(),
            name: None,
            owner: "o".into(),
            purpose: "p".into(),
            risk_tier: "extreme".into(),
        };
        assert!(matches!(
            reg.plan(&bad_tier, &ctx("a"), &LifecycleRules::default(), &mut ids),
            Err(Error::Invalid { .. })
        ));
        assert!(
            reg.plan(&bad_tier, &ctx(" "), &LifecycleRules::default(), &mut ids)
                .is_err()
        );
    }
}
