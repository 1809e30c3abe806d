//! Readiness: the guide's checklists (Security, Availability, Processing Integrity,
//! Confidentiality, Privacy), its eight auditor questions and its eight common gaps, answered
//! from the ledger: which are evidenced, which are not, and what to do next.
//!
//! Every canonical control is evaluated over the period (no package is written and no
//! checkpoint is signed); each guide item is then judged by the controls that answer it.

use serde::Serialize;
use spanforge_catalog::FrameworkId;
use spanforge_catalog::canonical::GuideItemKind;
use spanforge_store::{Backend, KeyProvider, Ledger};

use crate::accumulator::{CitedEvent, NoFiles};
use crate::conclusion::Conclusion;
use crate::engine::{Assessment, AssessmentRequest, ControlResult, ControlScope, assess};
use crate::error::Result;
use crate::framework::NodeStatus;
use crate::rules::RuleSet;

/// How well a guide item is evidenced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    /// Every control answering the item operated in the period.
    Evidenced,
    /// Some did.
    Partial,
    /// None did.
    NotEvidenced,
}

impl Readiness {
    /// A short label.
    pub const fn label(self) -> &'static str {
        match self {
            Readiness::Evidenced => "evidenced",
            Readiness::Partial => "partly evidenced",
            Readiness::NotEvidenced => "not evidenced",
        }
    }
}

/// A control's part in an answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ControlAnswer {
    /// Canonical control id.
    pub control: String,
    /// Title.
    pub title: String,
    /// Conclusion for the period.
    pub conclusion: Conclusion,
    /// Why.
    pub reason: String,
    /// Population size.
    pub population: u64,
}

/// One answered guide item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ItemAnswer {
    /// Item id (checklist id, or the number of a question or gap).
    pub id: String,
    /// The item in words.
    pub text: String,
    /// How well it is evidenced.
    pub status: Readiness,
    /// The controls answering it.
    pub controls: Vec<ControlAnswer>,
    /// Recent evidence (the latest items of the answering controls).
    pub evidence: Vec<CitedEvent>,
    /// What to do next.
    pub next_steps: Vec<String>,
}

/// One trust services category's checklist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CategoryAnswers {
    /// The category (`security`, `availability`, ...).
    pub category: String,
    /// Its items.
    pub items: Vec<ItemAnswer>,
    /// How many are evidenced.
    pub evidenced: usize,
}

/// The readiness report.
#[derive(Clone, Debug, Serialize)]
pub struct ReadinessReport {
    /// The framework whose criteria are summarised.
    pub framework: FrameworkId,
    /// The period (`from`, `to`).
    pub period: (String, String),
    /// Checklists by category, in the guide's order.
    pub checklists: Vec<CategoryAnswers>,
    /// The eight auditor questions.
    pub questions: Vec<ItemAnswer>,
    /// The eight common control gaps (evidenced means the gap is closed).
    pub common_gaps: Vec<ItemAnswer>,
    /// Criteria of the framework per status.
    pub criteria: Vec<(NodeStatus, usize)>,
    /// Items evidenced out of all checklist items and questions.
    pub score: (usize, usize),
}

/// The trust services categories, in the guide's order.
pub const CATEGORIES: [&str; 5] = [
    "security",
    "availability",
    "processing-integrity",
    "confidentiality",
    "privacy",
];

fn answer(id: String, text: String, controls: &[&ControlResult]) -> ItemAnswer {
    let operating = controls
        .iter()
        .filter(|c| c.conclusion.is_operating())
        .count();
    let status = if !controls.is_empty() && operating == controls.len() {
        Readiness::Evidenced
    } else if operating > 0 {
        Readiness::Partial
    } else {
        Readiness::NotEvidenced
    };
    let mut next_steps = Vec::new();
    for c in controls {
        if c.conclusion.is_operating() && c.conclusion != Conclusion::EffectiveWithExceptions {
            continue;
        }
        for step in c.remediation.iter().take(2) {
            next_steps.push(format!("{}: {step}", c.id));
        }
        if c.remediation.is_empty() && !c.conclusion.is_operating() {
            next_steps.push(format!("{}: {} ({})", c.id, c.conclusion.label(), c.reason));
        }
    }
    if controls.is_empty() {
        next_steps
            .push("No canonical control answers this item; evidence it with documents.".to_owned());
    }
    ItemAnswer {
        id,
        text,
        status,
        controls: controls
            .iter()
            .map(|c| ControlAnswer {
                control: c.id.clone(),
                title: c.title.clone(),
                conclusion: c.conclusion,
                reason: c.reason.clone(),
                population: c.population,
            })
            .collect(),
        evidence: controls
            .iter()
            .flat_map(|c| c.recent.iter().cloned())
            .collect(),
        next_steps,
    }
}

/// Builds the readiness report from an assessment of every control (see
/// [`ControlScope::All`]).
pub fn from_assessment(a: &Assessment) -> ReadinessReport {
    let registry = spanforge_catalog::registry();
    let guide = registry.guide();
    let mut checklists = Vec::new();
    for category in CATEGORIES {
        let items: Vec<ItemAnswer> = guide
            .iter()
            .filter(|g| {
                g.kind == GuideItemKind::Checklist && g.category.as_deref() == Some(category)
            })
            .map(|g| {
                let controls: Vec<&ControlResult> = a
                    .controls
                    .iter()
                    .filter(|c| c.checklist.contains(&g.id))
                    .collect();
                answer(g.id.clone(), g.text.clone(), &controls)
            })
            .collect();
        let evidenced = items
            .iter()
            .filter(|i| i.status == Readiness::Evidenced)
            .count();
        checklists.push(CategoryAnswers {
            category: category.to_owned(),
            items,
            evidenced,
        });
    }
    let numbered =
        |kind: GuideItemKind, pick: &dyn Fn(&ControlResult, u8) -> bool| -> Vec<ItemAnswer> {
            let mut items: Vec<_> = guide.iter().filter(|g| g.kind == kind).collect();
            items.sort_by_key(|g| g.id.parse::<u8>().unwrap_or(u8::MAX));
            items
                .into_iter()
                .map(|g| {
                    let n = g.id.parse::<u8>().unwrap_or(0);
                    let controls: Vec<&ControlResult> =
                        a.controls.iter().filter(|c| pick(c, n)).collect();
                    answer(g.id.clone(), g.text.clone(), &controls)
                })
                .collect()
        };
    let gap_controls = |c: &ControlResult, n: u8| {
        spanforge_catalog::canonical_control(&c.id).is_some_and(|k| k.guide.gaps.contains(&n))
    };
    let questions = numbered(GuideItemKind::Question, &|c, n| c.questions.contains(&n));
    let common_gaps = numbered(GuideItemKind::Gap, &gap_controls);
    let mut criteria: Vec<(NodeStatus, usize)> = NodeStatus::ALL
        .iter()
        .map(|s| (*s, a.nodes.iter().filter(|n| n.status == *s).count()))
        .collect();
    criteria.retain(|(_, n)| *n > 0);
    let total = checklists.iter().map(|c| c.items.len()).sum::<usize>() + questions.len();
    let evidenced = checklists.iter().map(|c| c.evidenced).sum::<usize>()
        + questions
            .iter()
            .filter(|q| q.status == Readiness::Evidenced)
            .count();
    ReadinessReport {
        framework: a.framework,
        period: (a.period.from().to_string(), a.period.to().to_string()),
        checklists,
        questions,
        common_gaps,
        criteria,
        score: (evidenced, total),
    }
}

/// Assesses every control over the request's period (unanchored, nothing written) and answers
/// the guide's lists.
///
/// # Errors
///
/// As for [`assess`].
pub fn readiness<B: Backend>(
    ledger: &mut Ledger<B>,
    keys: &dyn KeyProvider,
    rules: &RuleSet,
    req: &AssessmentRequest,
) -> Result<ReadinessReport> {
    let req = req.clone().with_scope(ControlScope::All).unanchored();
    let assessment = assess(ledger, keys, rules, &req, &mut NoFiles)?;
    Ok(from_assessment(&assessment))
}

/// Plain-text rendering of a readiness report.
pub fn render_text(r: &ReadinessReport) -> String {
    let mut out = format!(
        "Readiness for {} over {} to {}: {} of {} checklist items and auditor questions evidenced\n",
        r.framework, r.period.0, r.period.1, r.score.0, r.score.1
    );
    let item = |out: &mut String, i: &ItemAnswer, label: &str| {
        let controls: Vec<String> = i
            .controls
            .iter()
            .map(|c| format!("{} {}", c.control, c.conclusion))
            .collect();
        out.push_str(&format!(
            "  [{}] {label}{}: {}\n",
            i.status.label(),
            i.id,
            i.text
        ));
        if !controls.is_empty() {
            out.push_str(&format!("      controls: {}\n", controls.join(", ")));
        }
        for s in &i.next_steps {
            out.push_str(&format!("      next: {s}\n"));
        }
    };
    for c in &r.checklists {
        out.push_str(&format!(
            "\n{} ({} of {} evidenced)\n",
            c.category,
            c.evidenced,
            c.items.len()
        ));
        for i in &c.items {
            item(&mut out, i, "");
        }
    }
    out.push_str("\nThe auditor's eight questions\n");
    for q in &r.questions {
        item(&mut out, q, "Q");
    }
    out.push_str("\nThe eight common control gaps (evidenced = closed)\n");
    for g in &r.common_gaps {
        item(&mut out, g, "gap ");
    }
    out.push_str("\nCriteria of the framework by status\n");
    for (s, n) in &r.criteria {
        out.push_str(&format!("  {}: {n}\n", s.label()));
    }
    out
}
