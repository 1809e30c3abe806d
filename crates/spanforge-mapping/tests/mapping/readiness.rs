//! Readiness over the realistic workload: the guide's checklists and questions answered.

use spanforge_catalog::FrameworkId;
use spanforge_mapping::engine::AssessmentRequest;
use spanforge_mapping::readiness::{CATEGORIES, Readiness, readiness, render_text};

use crate::support::*;

#[test]
fn readiness_answers_the_checklists_and_questions() {
    let mut f = shared();
    let req = AssessmentRequest::new(FrameworkId::Soc2, period(), now());
    let Fixture { ledger, keys, .. } = &mut *f;
    let r = readiness(ledger, keys, &rules(), &req).unwrap();
    assert_eq!(r.checklists.len(), CATEGORIES.len());
    assert!(r.checklists.iter().all(|c| !c.items.is_empty()));
    assert_eq!(r.questions.len(), 8);
    assert_eq!(r.common_gaps.len(), 8);
    let item = |id: &str| {
        r.checklists
            .iter()
            .flat_map(|c| &c.items)
            .find(|i| i.id == id)
            .unwrap_or_else(|| panic!("{id} missing"))
    };
    assert_eq!(item("sec-ai-risk-assessment").status, Readiness::Evidenced);
    assert_eq!(
        item("sec-quarterly-access-review").status,
        Readiness::Evidenced
    );
    // Change management is only partly evidenced: one deployment skipped approval.
    let q2 = &r.questions[1];
    assert_eq!(q2.id, "2");
    assert_eq!(q2.status, Readiness::Partial);
    assert!(
        q2.next_steps.iter().any(|s| s.starts_with("SF-CHG-01")),
        "{:?}",
        q2.next_steps
    );
    assert!(!q2.evidence.is_empty());
    // Question 8 (tenant isolation) is evidenced by the weekly isolation checks.
    assert_eq!(r.questions[7].status, Readiness::Evidenced);
    assert!(r.score.0 > 0 && r.score.0 < r.score.1);
    let text = render_text(&r);
    assert!(text.contains("security") && text.contains("The auditor's eight questions"));
}
