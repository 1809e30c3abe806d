//! Framework node status through the catalog's typed mappings.
//!
//! For each node of the framework: **design coverage** says whether a mapping exists and how
//! much of the node it can cover (equal and superset relationships cover all of it, subset and
//! intersects only part); **operating coverage** says whether the mapped controls operated in
//! the period. Every source of a node is kept (several canonical controls usually serve one
//! requirement). The weakest link decides: a node whose primary (strong) evidence is deficient
//! is a gap even if weaker evidence operated.

use std::fmt;

use serde::Serialize;
use spanforge_catalog::FrameworkId;
use spanforge_catalog::mapping::{Relationship, Strength};

use crate::conclusion::Conclusion;
use crate::engine::ControlResult;

/// How much of a node a kind of evidence can cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CoverageLevel {
    /// All of the node.
    Full,
    /// Part of the node.
    Partial,
    /// None of it.
    None,
}

/// The status of a framework node for the period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// A mapping that covers the whole node rests on controls that operated without deviation.
    Satisfied,
    /// As satisfied, with isolated deviations disclosed.
    SatisfiedWithExceptions,
    /// The controls that operated cover only part of the node; the rest needs other evidence.
    Partial,
    /// The mapped controls had nothing to act on in the period.
    NotOccurred,
    /// No usable evidence: a primary control is deficient, or nothing operated.
    Gap,
    /// Telemetry cannot evidence this node; documents and attestations must.
    ManualEvidenceRequired,
    /// Every mapped control was scoped out.
    NotApplicable,
}

impl NodeStatus {
    /// Every status, in order.
    pub const ALL: [NodeStatus; 7] = [
        NodeStatus::Satisfied,
        NodeStatus::SatisfiedWithExceptions,
        NodeStatus::Partial,
        NodeStatus::NotOccurred,
        NodeStatus::Gap,
        NodeStatus::ManualEvidenceRequired,
        NodeStatus::NotApplicable,
    ];

    /// The snake-case id.
    pub const fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Satisfied => "satisfied",
            NodeStatus::SatisfiedWithExceptions => "satisfied_with_exceptions",
            NodeStatus::Partial => "partial",
            NodeStatus::NotOccurred => "not_occurred",
            NodeStatus::Gap => "gap",
            NodeStatus::ManualEvidenceRequired => "manual_evidence_required",
            NodeStatus::NotApplicable => "not_applicable",
        }
    }

    /// A short human label.
    pub const fn label(self) -> &'static str {
        match self {
            NodeStatus::Satisfied => "Evidenced",
            NodeStatus::SatisfiedWithExceptions => "Evidenced with exceptions",
            NodeStatus::Partial => "Evidenced in part",
            NodeStatus::NotOccurred => "Not occurred",
            NodeStatus::Gap => "Gap",
            NodeStatus::ManualEvidenceRequired => "Manual evidence required",
            NodeStatus::NotApplicable => "Not applicable",
        }
    }

    /// Whether the node needs action (it belongs in the gap report's to-do list).
    pub const fn needs_action(self) -> bool {
        matches!(
            self,
            NodeStatus::Partial | NodeStatus::Gap | NodeStatus::ManualEvidenceRequired
        )
    }
}

impl fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One mapped control of a node, with its conclusion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeControl {
    /// Canonical control id.
    pub control: String,
    /// Paragraph or point inside the node, if the mapping names one.
    pub locator: Option<String>,
    /// Relationship of the control to the node.
    pub relationship: String,
    /// Evidence weight.
    pub strength: String,
    /// The control's conclusion.
    pub conclusion: Conclusion,
}

/// The status of one framework node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeResult {
    /// Node id as the authority writes it.
    pub id: String,
    /// OSCAL id.
    pub oscal_id: String,
    /// Title.
    pub title: String,
    /// Group id.
    pub group: String,
    /// The status.
    pub status: NodeStatus,
    /// Design coverage.
    pub design_coverage: CoverageLevel,
    /// Operating coverage in the period.
    pub operating_coverage: CoverageLevel,
    /// Why, in words.
    pub reason: String,
    /// Mapped controls and their conclusions (every source kept).
    pub controls: Vec<NodeControl>,
    /// What evidence is missing.
    pub missing: Vec<String>,
    /// Concrete next steps.
    pub remediation: Vec<String>,
}

/// The status of every node of `framework`, in catalog order.
pub fn node_results(framework: FrameworkId, controls: &[ControlResult]) -> Vec<NodeResult> {
    let registry = spanforge_catalog::registry();
    let catalog = registry.catalog(framework);
    catalog
        .nodes()
        .iter()
        .map(|node| {
            let maps: Vec<_> = registry.mappings_to(framework, &node.id).collect();
            let mut result = NodeResult {
                id: node.id.clone(),
                oscal_id: node.oscal_id.clone(),
                title: node.title.clone(),
                group: node.group.clone(),
                status: NodeStatus::Gap,
                design_coverage: CoverageLevel::None,
                operating_coverage: CoverageLevel::None,
                reason: String::new(),
                controls: Vec::new(),
                missing: Vec::new(),
                remediation: Vec::new(),
            };
            if maps.is_empty() {
                match registry.not_coverable_entry(framework, &node.id) {
                    Some(entry) => {
                        result.status = NodeStatus::ManualEvidenceRequired;
                        result.reason = format!("telemetry cannot evidence this node: {}", entry.reason);
                        result.missing.push(format!("documentary evidence ({})", entry.reason));
                        result.remediation.push(format!(
                            "Give the auditor documentary evidence for {}: {}. Record each review or approval of it \
                             as an attestation event with the document's SHA-256 so the package can cite it.",
                            node.id, entry.reason
                        ));
                    }
                    None => {
                        result.reason = "no canonical control maps to this node".to_owned();
                        result.missing.push("any evidence".to_owned());
                        result.remediation.push(format!(
                            "Define a control for {} and map it in the catalog, or document why it is out of scope.",
                            node.id
                        ));
                    }
                }
                return result;
            }
            let mut paths = Vec::new();
            for m in &maps {
                let Some(c) = controls.iter().find(|c| c.id == m.control) else {
                    continue;
                };
                result.controls.push(NodeControl {
                    control: m.control.clone(),
                    locator: m.locator.clone(),
                    relationship: m.relationship.to_string(),
                    strength: m.strength.to_string(),
                    conclusion: c.conclusion,
                });
                paths.push((m.relationship, m.strength, c));
            }
            result.design_coverage = if maps.iter().any(|m| m.relationship.is_full()) {
                CoverageLevel::Full
            } else {
                CoverageLevel::Partial
            };
            judge_node(&mut result, &paths);
            result
        })
        .collect()
}

fn judge_node(result: &mut NodeResult, paths: &[(Relationship, Strength, &ControlResult)]) {
    let relevant: Vec<_> = paths
        .iter()
        .filter(|(_, _, c)| c.conclusion != Conclusion::NotApplicable)
        .collect();
    if relevant.is_empty() {
        result.status = NodeStatus::NotApplicable;
        result.reason = "every mapped control is scoped out".to_owned();
        return;
    }
    let strong_deficient: Vec<_> = relevant
        .iter()
        .filter(|(_, s, c)| *s == Strength::Strong && c.conclusion.is_deficient())
        .collect();
    let operating_full = relevant
        .iter()
        .any(|(r, _, c)| r.is_full() && c.conclusion.is_operating());
    let operating_any = relevant.iter().any(|(_, _, c)| c.conclusion.is_operating());
    let exceptions = relevant
        .iter()
        .any(|(_, _, c)| c.conclusion == Conclusion::EffectiveWithExceptions);
    let all_not_occurred = relevant
        .iter()
        .all(|(_, _, c)| c.conclusion == Conclusion::NotOccurred);
    result.operating_coverage = if operating_full && strong_deficient.is_empty() {
        CoverageLevel::Full
    } else if operating_any {
        CoverageLevel::Partial
    } else {
        CoverageLevel::None
    };
    let ids = |items: &[&&(Relationship, Strength, &ControlResult)]| {
        items
            .iter()
            .map(|(_, _, c)| format!("{} ({})", c.id, c.conclusion))
            .collect::<Vec<_>>()
            .join(", ")
    };
    (result.status, result.reason) = if !strong_deficient.is_empty() {
        (
            NodeStatus::Gap,
            format!("primary evidence is deficient: {}", ids(&strong_deficient)),
        )
    } else if operating_full {
        if exceptions {
            (
                NodeStatus::SatisfiedWithExceptions,
                "a control covering the whole node operated, with disclosed exceptions".to_owned(),
            )
        } else {
            (
                NodeStatus::Satisfied,
                "a control covering the whole node operated without deviation".to_owned(),
            )
        }
    } else if operating_any {
        (
            NodeStatus::Partial,
            "the controls that operated cover part of the node (subset or intersecting mappings)"
                .to_owned(),
        )
    } else if all_not_occurred {
        (
            NodeStatus::NotOccurred,
            "nothing the mapped controls act on occurred in the period".to_owned(),
        )
    } else {
        (
            NodeStatus::Gap,
            "no mapped control operated in the period".to_owned(),
        )
    };
    for (rel, strength, c) in &relevant {
        if c.conclusion.is_deficient() || c.conclusion == Conclusion::NotOccurred {
            result.missing.push(format!(
                "{} {} ({} evidence, {}): {} — {}",
                c.id,
                c.title,
                strength,
                rel,
                c.conclusion.label(),
                c.reason
            ));
            for step in &c.remediation {
                let line = format!("{}: {step}", c.id);
                if !result.remediation.contains(&line) {
                    result.remediation.push(line);
                }
            }
        }
    }
    if result.status == NodeStatus::Partial {
        let documents: Vec<&String> = relevant
            .iter()
            .flat_map(|(_, _, c)| c.documents.iter())
            .collect();
        result
            .missing
            .push("evidence for the parts of the node the mapped controls do not cover".to_owned());
        let mut step = format!(
            "Complement the telemetry for {} with documentary evidence of the remaining parts of the requirement",
            result.id
        );
        if !documents.is_empty() {
            let mut names: Vec<&str> = documents.iter().map(|d| d.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            step.push_str(&format!(" (for example: {})", names.join("; ")));
        }
        step.push('.');
        result.remediation.push(step);
    }
}
