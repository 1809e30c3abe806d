//! Every framework's id list equals the shared reference list, in count and as a set.

use std::collections::{BTreeSet, HashMap};

use spanforge_catalog::{FrameworkId, catalog, mappings, model::Facets};

use crate::support::reference_csv;

/// Expected node counts, fixed here so a change to the reference lists is noticed too.
const EXPECTED: [(FrameworkId, usize); 6] = [
    (FrameworkId::Soc2, 61),
    (FrameworkId::Iso42001, 38),
    (FrameworkId::NistAiRmf, 72),
    (FrameworkId::EuAiAct, 17),
    (FrameworkId::Gdpr, 10),
    (FrameworkId::Hipaa, 64),
];

fn csv_for(fw: FrameworkId) -> &'static str {
    match fw {
        FrameworkId::Soc2 => "tsc2017.csv",
        FrameworkId::Iso42001 => "iso42001.csv",
        FrameworkId::NistAiRmf => "nist-ai-rmf.csv",
        FrameworkId::EuAiAct => "eu-ai-act.csv",
        FrameworkId::Gdpr => "gdpr.csv",
        FrameworkId::Hipaa => "hipaa-security.csv",
    }
}

/// The reference rows at the catalog's granularity: article rows for EU law, all rows else.
fn reference_rows(fw: FrameworkId) -> Vec<HashMap<String, String>> {
    let rows = reference_csv(csv_for(fw));
    match fw {
        FrameworkId::EuAiAct | FrameworkId::Gdpr => rows
            .into_iter()
            .filter(|r| r["level"] == "article")
            .collect(),
        _ => rows,
    }
}

#[test]
fn id_lists_match_the_reference_exactly() {
    for (fw, count) in EXPECTED {
        let ours: Vec<&str> = catalog(fw).nodes().iter().map(|n| n.id.as_str()).collect();
        let reference: Vec<String> = reference_rows(fw)
            .into_iter()
            .map(|r| r["id"].clone())
            .collect();
        assert_eq!(ours.len(), count, "{fw}: node count");
        assert_eq!(reference.len(), count, "{fw}: reference row count");
        let ours_set: BTreeSet<&str> = ours.iter().copied().collect();
        let reference_set: BTreeSet<&str> = reference.iter().map(String::as_str).collect();
        assert_eq!(ours_set.len(), count, "{fw}: duplicate ids");
        let missing: Vec<_> = reference_set.difference(&ours_set).collect();
        let extra: Vec<_> = ours_set.difference(&reference_set).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{fw}: missing {missing:?}, extra {extra:?}"
        );
    }
}

#[test]
fn groups_match_the_reference_categories() {
    // SOC 2 series, ISO clauses and NIST categories agree with the reference's category column.
    for r in reference_rows(FrameworkId::Soc2) {
        let series = r["category"].split_whitespace().next().unwrap().to_owned();
        assert_eq!(
            catalog(FrameworkId::Soc2).node(&r["id"]).unwrap().group,
            series,
            "{}",
            r["id"]
        );
    }
    for r in reference_rows(FrameworkId::NistAiRmf) {
        assert_eq!(
            catalog(FrameworkId::NistAiRmf)
                .node(&r["id"])
                .unwrap()
                .group,
            r["category"]
        );
    }
    for r in reference_rows(FrameworkId::Iso42001) {
        let clause = r["category"].split_whitespace().next().unwrap();
        let group = &catalog(FrameworkId::Iso42001).node(&r["id"]).unwrap().group;
        assert!(
            group == clause || group.starts_with(&format!("{clause}.")),
            "{}: {group}",
            r["id"]
        );
    }
    let categories = reference_csv("nist-ai-rmf-categories.csv");
    assert_eq!(categories.len(), 19);
    for c in categories {
        let group = catalog(FrameworkId::NistAiRmf).group(&c["id"]).unwrap();
        assert_eq!(group.parent.as_deref(), Some(c["function"].as_str()));
        assert_eq!(group.statement.as_deref(), Some(c["statement"].as_str()));
        let count: usize = c["subcategory_count"].parse().unwrap();
        assert_eq!(
            catalog(FrameworkId::NistAiRmf).nodes_in(&c["id"]).count(),
            count,
            "{}",
            c["id"]
        );
    }
}

#[test]
fn copyrighted_titles_are_our_own_words() {
    // The reference CSVs hold AICPA paraphrases and ISO's own short names; ours must differ.
    for fw in [FrameworkId::Soc2, FrameworkId::Iso42001] {
        for r in reference_rows(fw) {
            let ours = &catalog(fw).node(&r["id"]).unwrap().title;
            assert_ne!(
                ours.to_lowercase(),
                r["title"].to_lowercase(),
                "{fw} {}: title copied",
                r["id"]
            );
            assert!(
                catalog(fw).node(&r["id"]).unwrap().text.is_none(),
                "{fw}: no text may ship"
            );
        }
    }
}

#[test]
fn public_texts_match_the_reference() {
    for r in reference_rows(FrameworkId::NistAiRmf) {
        // Two PDF-extraction artefacts in the reference are corrected in the catalog.
        let want = r["title"]
            .replace("contextspecific", "context-specific")
            .replace("contextrelevant", "context-relevant");
        assert_eq!(
            catalog(FrameworkId::NistAiRmf)
                .node(&r["id"])
                .unwrap()
                .title,
            want,
            "{}",
            r["id"]
        );
    }
    for r in reference_rows(FrameworkId::Hipaa) {
        let node = catalog(FrameworkId::Hipaa).node(&r["id"]).unwrap();
        assert_eq!(node.title, r["title"], "{}", r["id"]);
        let Facets::Hipaa {
            obligation, kind, ..
        } = &node.facets
        else {
            panic!("HIPAA facets")
        };
        assert_eq!(
            obligation.to_string(),
            r["required_or_addressable"],
            "{}",
            r["id"]
        );
        let want_kind = if r["kind"] == "standard" {
            "Standard"
        } else {
            "ImplementationSpec"
        };
        assert_eq!(format!("{kind:?}"), want_kind, "{}", r["id"]);
    }
    for fw in [FrameworkId::EuAiAct, FrameworkId::Gdpr] {
        for r in reference_rows(fw) {
            let title = &catalog(fw).node(&r["id"]).unwrap().title;
            // Art. 50: the reference carries the pre-OJ title ("users"); the catalog has the OJ one.
            if fw == FrameworkId::EuAiAct && r["id"] == "Art. 50" {
                assert!(title.contains("deployers"), "{title}");
            } else {
                assert_eq!(title, &r["title"], "{fw} {}", r["id"]);
            }
        }
    }
}

/// EU AI Act paragraphs the catalog cites that the reference CSV has no row for, with the reason.
const LOCATORS_OUTSIDE_REFERENCE: [(&str, &str); 1] = [(
    "Art. 19(1)",
    "the reference lists no paragraph rows for Art. 19; 19(1) holds the six-month log duty",
)];

#[test]
fn paragraph_locators_exist_in_the_reference() {
    for fw in [FrameworkId::EuAiAct, FrameworkId::Gdpr] {
        let paragraphs: BTreeSet<String> = reference_csv(csv_for(fw))
            .into_iter()
            .filter(|r| r["level"] == "paragraph")
            .map(|r| r["id"].clone())
            .collect();
        for m in mappings()
            .iter()
            .filter(|m| m.framework == fw && m.locator.is_some())
        {
            let label = m.target_label();
            let excused = LOCATORS_OUTSIDE_REFERENCE
                .iter()
                .any(|(id, _)| *id == label);
            assert!(
                paragraphs.contains(&label) || excused,
                "{fw}: {label} (from {}) is not a paragraph",
                m.control
            );
        }
    }
}
