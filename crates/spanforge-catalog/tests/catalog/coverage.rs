//! The canonical layer covers the guide, every mapping resolves, every framework node is either
//! mapped or deliberately listed as not coverable, and every evidence rule is well formed.

use std::collections::BTreeSet;

use spanforge_catalog::canonical::{Domain, GuideItemKind};
use spanforge_catalog::rules::{EventPattern, check_event_type};
use spanforge_catalog::{FrameworkId, all_frameworks, canonical_controls, registry};

#[test]
fn every_mapping_target_resolves() {
    let reg = registry();
    for m in reg.mappings() {
        assert!(
            reg.control(&m.control).is_some(),
            "{} is not a canonical control",
            m.control
        );
        assert!(
            reg.catalog(m.framework).node(&m.node).is_some(),
            "{}:{} does not exist",
            m.framework,
            m.node
        );
        assert!(
            !m.rationale.trim().is_empty(),
            "{} -> {}: empty rationale",
            m.control,
            m.node
        );
    }
}

#[test]
fn every_node_is_mapped_or_not_coverable_with_a_reason() {
    let reg = registry();
    let mut mapped_total = 0;
    for catalog in all_frameworks() {
        for node in catalog.nodes() {
            let mapped = reg.mappings_to(catalog.id(), &node.id).next().is_some();
            let excused = reg.not_coverable_entry(catalog.id(), &node.id);
            assert!(
                mapped ^ excused.is_some(),
                "{}:{} must be mapped or not coverable, not both or neither",
                catalog.id(),
                node.id
            );
            if let Some(entry) = excused {
                assert!(
                    entry.reason.trim().len() > 20,
                    "{}:{}: give a real reason",
                    catalog.id(),
                    node.id
                );
            }
            mapped_total += usize::from(mapped);
        }
    }
    // Most of each framework must be reachable from telemetry, or the layer is not doing its job.
    assert!(mapped_total > 180, "only {mapped_total} nodes mapped");
    for fw in [
        FrameworkId::Soc2,
        FrameworkId::Iso42001,
        FrameworkId::NistAiRmf,
    ] {
        let c = reg.catalog(fw);
        assert!(
            reg.mapped_nodes(fw).len() * 3 > c.len() * 2,
            "{fw}: less than two thirds mapped"
        );
    }
}

#[test]
fn guide_mandated_nodes_are_mapped() {
    // Ids the guide and the reference name as telemetry-relevant must have evidence paths.
    let reg = registry();
    for (fw, id) in [
        (FrameworkId::Soc2, "CC6.1"),
        (FrameworkId::Soc2, "CC6.6"),
        (FrameworkId::Soc2, "CC7.2"),
        (FrameworkId::Soc2, "CC8.1"),
        (FrameworkId::Soc2, "CC9.2"),
        (FrameworkId::Soc2, "A1.2"),
        (FrameworkId::Iso42001, "A.6.2.8"),
        (FrameworkId::NistAiRmf, "GOVERN 1.6"),
        (FrameworkId::NistAiRmf, "GOVERN 1.7"),
        (FrameworkId::EuAiAct, "Art. 12"),
        (FrameworkId::EuAiAct, "Art. 19"),
        (FrameworkId::EuAiAct, "Art. 73"),
        (FrameworkId::Gdpr, "Art. 33"),
        (FrameworkId::Hipaa, "164.312(b)"),
        (FrameworkId::Hipaa, "164.308(a)(1)(ii)(D)"),
    ] {
        assert!(
            reg.mappings_to(fw, id).next().is_some(),
            "{fw}:{id} has no mapping"
        );
    }
    // Log retention belongs to Art. 19 and Art. 26(6), never to Art. 18 (documentation).
    assert!(
        reg.mappings_to(FrameworkId::EuAiAct, "Art. 18")
            .next()
            .is_none()
    );
    assert!(
        reg.mappings()
            .iter()
            .any(|m| m.control == "SF-RET-01" && m.target_label() == "Art. 26(6)")
    );
}

#[test]
fn the_guide_is_answered() {
    let controls = canonical_controls();
    assert!(
        (35..=50).contains(&controls.len()),
        "about 40 canonical controls, got {}",
        controls.len()
    );
    for domain in [
        Domain::ModelGovernance,
        Domain::PromptAndOutput,
        Domain::TrainingData,
        Domain::IncidentManagement,
    ] {
        let n = controls.iter().filter(|c| c.domain == domain).count();
        assert!(n >= 2, "{domain}: only {n} controls");
    }
    let guide = registry().guide();
    let count = |kind| guide.iter().filter(|g| g.kind == kind).count();
    assert_eq!(count(GuideItemKind::Gap), 8);
    assert_eq!(count(GuideItemKind::Question), 8);
    assert_eq!(count(GuideItemKind::Checklist), 29);
    for item in guide {
        let answered = controls.iter().any(|c| match item.kind {
            GuideItemKind::Gap => c.guide.gaps.iter().any(|g| g.to_string() == item.id),
            GuideItemKind::Question => c.guide.questions.iter().any(|q| q.to_string() == item.id),
            GuideItemKind::Checklist => c.guide.checklist.contains(&item.id),
        });
        assert!(
            answered,
            "guide {:?} {} ({}) is answered by no control",
            item.kind, item.id, item.text
        );
    }
}

#[test]
fn controls_are_complete_and_rules_well_formed() {
    let mut ids = BTreeSet::new();
    for c in canonical_controls() {
        assert!(ids.insert(c.id.clone()), "{} repeated", c.id);
        assert!(!c.attributes.is_empty(), "{}: no test attributes", c.id);
        assert!(
            !c.evidence.is_empty() || c.manual_reason.is_some(),
            "{}: no evidence and no manual reason",
            c.id
        );
        for rule in &c.evidence {
            assert!(!rule.events.is_empty());
            for pattern in &rule.events {
                // Re-check each pattern independently of the loader.
                let text = pattern.to_string();
                assert_eq!(&EventPattern::parse(&text).unwrap(), pattern);
                if let EventPattern::Exact(t) = pattern {
                    check_event_type(t).unwrap_or_else(|e| panic!("{}: {e}", c.id));
                }
                if pattern.is_extension() {
                    assert!(
                        text.starts_with("dev.spanforge."),
                        "{}: extension {text} outside dev.spanforge",
                        c.id
                    );
                }
            }
        }
        assert!(
            registry().mappings_from(&c.id).next().is_some(),
            "{}: maps to nothing",
            c.id
        );
    }
}
