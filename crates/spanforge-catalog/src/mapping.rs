//! Typed mappings from canonical controls to framework nodes, the deliberate non-coverage
//! inventory, and the crosswalk query built on them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::canonical::CanonicalControl;
use crate::framework::FrameworkId;
use crate::model::{Date, Node};

/// Set-theory relationship of a canonical control (source) to a framework node (target), in
/// the NIST IR 8477 / OSCAL 1.2 mapping vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relationship {
    /// The control and the requirement ask for the same thing.
    Equal,
    /// The control covers part of what the requirement asks.
    Subset,
    /// The control covers all of the requirement and more.
    Superset,
    /// They overlap, and each has parts the other lacks.
    Intersects,
}

impl Relationship {
    /// The OSCAL mapping-collection value (`equal-to`, `subset-of`, `superset-of`,
    /// `intersects-with`).
    pub const fn oscal(self) -> &'static str {
        match self {
            Relationship::Equal => "equal-to",
            Relationship::Subset => "subset-of",
            Relationship::Superset => "superset-of",
            Relationship::Intersects => "intersects-with",
        }
    }

    /// Whether evidence for the control can, on its own, cover the whole requirement
    /// (equal or superset); subset and intersects give partial coverage.
    pub const fn is_full(self) -> bool {
        matches!(self, Relationship::Equal | Relationship::Superset)
    }
}

impl fmt::Display for Relationship {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Relationship::Equal => "equal",
            Relationship::Subset => "subset",
            Relationship::Superset => "superset",
            Relationship::Intersects => "intersects",
        })
    }
}

/// How much weight the control's evidence carries for the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strength {
    /// Primary evidence: an auditor would test the node mainly through this control.
    Strong,
    /// Real evidence for part of the node.
    Partial,
    /// Corroborates other evidence; not enough alone.
    Supporting,
}

impl fmt::Display for Strength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strength::Strong => "strong",
            Strength::Partial => "partial",
            Strength::Supporting => "supporting",
        })
    }
}

/// One reviewed mapping row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mapping {
    /// Canonical control id (source).
    pub control: String,
    /// Framework of the target node.
    pub framework: FrameworkId,
    /// Target node id, exactly as in the framework catalog.
    pub node: String,
    /// Paragraph or point inside the node (EU AI Act, GDPR), e.g. `(1)` or `(3)(a)`.
    pub locator: Option<String>,
    /// Set-theory relationship.
    pub relationship: Relationship,
    /// Evidence weight.
    pub strength: Strength,
    /// Why the control serves the node.
    pub rationale: String,
}

impl Mapping {
    /// The target written with its locator, e.g. `Art. 26(6)`.
    pub fn target_label(&self) -> String {
        match &self.locator {
            Some(loc) => format!("{}{loc}", self.node),
            None => self.node.clone(),
        }
    }
}

/// A framework node that telemetry cannot evidence, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotCoverable {
    /// Framework of the node.
    pub framework: FrameworkId,
    /// Node id.
    pub node: String,
    /// Why (for example: "board oversight: policy evidence, not telemetry").
    pub reason: String,
}

/// What a crosswalk query named.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    /// A canonical control.
    Control(&'a CanonicalControl),
    /// A framework node.
    Node {
        /// The node's framework.
        framework: FrameworkId,
        /// The node.
        node: &'a Node,
    },
}

/// The crosswalk for one canonical control or framework node.
///
/// For a control, `direct` lists every framework node it maps to. For a node, `direct` lists
/// the canonical controls that map to it and `related` lists the nodes of every framework
/// (including its own) that the same controls serve, so one piece of evidence can be traced
/// to each requirement it supports. Related nodes are reached through a control; no
/// relationship between the two framework nodes themselves is implied.
#[derive(Clone, Debug)]
pub struct Crosswalk<'a> {
    /// What was asked about.
    pub subject: Subject<'a>,
    /// Mappings that touch the subject.
    pub direct: Vec<&'a Mapping>,
    /// For a node: the other mappings of the controls in `direct`.
    pub related: Vec<&'a Mapping>,
    /// For a node listed as not coverable by telemetry: the entry with its reason.
    pub not_coverable: Option<&'a NotCoverable>,
}

/// Review state of the mapping set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReviewStatus {
    /// Written by engineers from public sources; not yet signed off by a compliance reviewer.
    Draft,
    /// Signed off by a compliance reviewer.
    Reviewed,
}

impl fmt::Display for ReviewStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReviewStatus::Draft => "draft",
            ReviewStatus::Reviewed => "reviewed",
        })
    }
}

/// How the mapping set was made, as recorded in OSCAL `provenance`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MappingProvenance {
    /// Revision of the mapping data; bumped on every reviewed change.
    pub data_version: u32,
    /// Release date of this revision (the OSCAL `last-modified` of mapping exports).
    pub release_date: Date,
    /// Draft or reviewed.
    pub status: ReviewStatus,
    /// Who or what produced the mappings (OSCAL `method`, e.g. `human`).
    pub method: String,
    /// NIST IR 8477 matching rationale (`syntactic`, `semantic` or `functional`).
    pub matching_rationale: String,
    /// What the mapping set is for.
    pub description: String,
}
