//! The canonical AI-control layer: SpanForge's own controls, each with test attributes,
//! evidence rules and an operating frequency, plus the guide items they answer.
//!
//! Telemetry is evidence for canonical controls, and typed mappings carry that evidence to
//! every framework node a control serves, so events are never mapped straight to framework
//! ids.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::Date;
use crate::rules::{Condition, EventPattern};

/// Version facts of the canonical-control data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ControlsMeta {
    /// Revision of the data; bumped on every reviewed change.
    pub data_version: u32,
    /// Release date of this revision (the OSCAL `last-modified` of the canonical catalog).
    pub release_date: Date,
}

/// The guide's four AI-specific control domains, plus `General` for controls outside them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Domain {
    /// Model inventory, versioning, deployment approval, benchmarks, retirement.
    ModelGovernance,
    /// Prompt-injection detection, output filtering, PII and secret detection, logs.
    PromptAndOutput,
    /// Data-source inventory, quality, bias, provenance and licensing, consent.
    TrainingData,
    /// Incident handling by AI incident type.
    IncidentManagement,
    /// Controls that are not AI-specific but that AI systems still need.
    General,
}

impl Domain {
    /// Every domain, in display order.
    pub const ALL: [Domain; 5] = [
        Domain::ModelGovernance,
        Domain::PromptAndOutput,
        Domain::TrainingData,
        Domain::IncidentManagement,
        Domain::General,
    ];

    /// The kebab-case id used in data files and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Domain::ModelGovernance => "model-governance",
            Domain::PromptAndOutput => "prompt-and-output",
            Domain::TrainingData => "training-data",
            Domain::IncidentManagement => "incident-management",
            Domain::General => "general",
        }
    }

    /// Human title.
    pub const fn title(self) -> &'static str {
        match self {
            Domain::ModelGovernance => "Model governance",
            Domain::PromptAndOutput => "Prompt and output controls",
            Domain::TrainingData => "Training-data controls",
            Domain::IncidentManagement => "AI incident management",
            Domain::General => "General controls",
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How often a control must operate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Frequency {
    /// All the time, on every relevant event stream.
    Continuous,
    /// Each time a triggering event occurs (an alert, a request, an incident).
    PerEvent,
    /// Each time a change is made (a model release, a prompt change, a new dataset).
    PerChange,
    /// Once a day.
    Daily,
    /// Once a week.
    Weekly,
    /// Once a month.
    Monthly,
    /// Once a quarter.
    Quarterly,
    /// Once a year.
    Annual,
}

impl Frequency {
    /// The kebab-case id used in data files and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Frequency::Continuous => "continuous",
            Frequency::PerEvent => "per-event",
            Frequency::PerChange => "per-change",
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
            Frequency::Monthly => "monthly",
            Frequency::Quarterly => "quarterly",
            Frequency::Annual => "annual",
        }
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much of a control's testing telemetry can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Automation {
    /// Every attribute can be tested from events.
    Automated,
    /// Events give the population; some attributes need a person to judge a linked record.
    SemiAutomated,
    /// Evidence is a document or attestation; telemetry at most records that it happened.
    Manual,
}

impl fmt::Display for Automation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Automation::Automated => "automated",
            Automation::SemiAutomated => "semi-automated",
            Automation::Manual => "manual",
        })
    }
}

/// What part a matching event plays in testing a control.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceRole {
    /// Each matching event is one occurrence of the control: the population to test.
    Population,
    /// Joined to population items to test an attribute (an approval, an evaluation result).
    Supporting,
    /// Its occurrence is a deviation to investigate (tamper detected, SLA breached).
    Exception,
    /// Shows the population is complete (signed checkpoints, heartbeats).
    Completeness,
    /// A configuration snapshot captured inside the period.
    Configuration,
    /// Records a human activity and references the document it produced.
    Attestation,
}

impl fmt::Display for EvidenceRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EvidenceRole::Population => "population",
            EvidenceRole::Supporting => "supporting",
            EvidenceRole::Exception => "exception",
            EvidenceRole::Completeness => "completeness",
            EvidenceRole::Configuration => "configuration",
            EvidenceRole::Attestation => "attestation",
        })
    }
}

/// One evidence rule: events of these types that meet every condition are evidence of the
/// control in the given role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EvidenceRule {
    /// Event types or prefixes, checked against the SpanForge grammar.
    pub events: Vec<EventPattern>,
    /// Part the events play.
    pub role: EvidenceRole,
    /// Field conditions, all of which must hold (empty: every event of the types counts).
    pub conditions: Vec<Condition>,
    /// Why the rule is written this way, when not obvious.
    pub note: Option<String>,
}

/// One test attribute: a pass/fail question asked of each population item or of the period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TestAttribute {
    /// Short id, unique within the control (`A1`, `A2`, ...).
    pub id: String,
    /// Short name.
    pub name: String,
    /// How an item is tested and what passes.
    pub test: String,
}

/// Which guide items a control answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GuideRefs {
    /// Numbers (1–8) of the common control gaps the control closes.
    pub gaps: Vec<u8>,
    /// Ids of readiness-checklist items the control satisfies.
    pub checklist: Vec<String>,
    /// Numbers (1–8) of the auditor questions the control's evidence answers.
    pub questions: Vec<u8>,
}

/// A SpanForge canonical control.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CanonicalControl {
    /// Stable id, `SF-<FAMILY>-<NN>`.
    pub id: String,
    /// Short title.
    pub title: String,
    /// What the control achieves.
    pub objective: String,
    /// Guide domain.
    pub domain: Domain,
    /// How often it must operate.
    pub frequency: Frequency,
    /// How far telemetry can test it.
    pub automation: Automation,
    /// Test attributes.
    pub attributes: Vec<TestAttribute>,
    /// Evidence rules (empty only for manual-evidence controls).
    pub evidence: Vec<EvidenceRule>,
    /// Documents auditors also expect for this control.
    pub documents: Vec<String>,
    /// Why the control has no evidence rule, for manual-evidence controls.
    pub manual_reason: Option<String>,
    /// Guide items answered.
    pub guide: GuideRefs,
    /// NCName-safe id used in OSCAL exports (derived; not part of the content hash).
    #[serde(skip)]
    pub oscal_id: String,
}

impl CanonicalControl {
    /// Every event pattern named by the control's rules, in rule order, without repeats.
    pub fn event_patterns(&self) -> Vec<&EventPattern> {
        let mut out: Vec<&EventPattern> = Vec::new();
        for pattern in self.evidence.iter().flat_map(|r| r.events.iter()) {
            if !out.contains(&pattern) {
                out.push(pattern);
            }
        }
        out
    }
}

/// Kinds of guide items.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuideItemKind {
    /// One of the eight common control gaps.
    Gap,
    /// A readiness-checklist item.
    Checklist,
    /// One of the eight auditor questions.
    Question,
}

/// One item of "the guide" (SOC 2 Compliance Roadmap for AI Teams), restated in our words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GuideItem {
    /// Gap, checklist item or question.
    pub kind: GuideItemKind,
    /// `1`–`8` for gaps and questions; a kebab-case id for checklist items.
    pub id: String,
    /// For checklist items, the trust services category it belongs to.
    pub category: Option<String>,
    /// The item in our words.
    pub text: String,
}
