//! Snapshot of the content hashes. A change here means the catalog data changed: bump the
//! edition's `data_version`, review the change, and update the snapshot in the same commit.

use spanforge_catalog::{FrameworkId, catalog, registry, render};

const SNAPSHOT: [(FrameworkId, &str); 6] = [
    (
        FrameworkId::Soc2,
        "sha256:ce97bee781986bfdeedb46646ed8e20405a7dbb9b8dae52005bf6523c7f0cd44",
    ),
    (
        FrameworkId::Iso42001,
        "sha256:3b58f49a56cb31bcbee1bdcb7e5797b261dca3eb69bc36dd8de41796251f5b2a",
    ),
    (
        FrameworkId::NistAiRmf,
        "sha256:f2cb007a73b42c217e4b659e7f1b63de332bd9d564b179a583d9230905270a9f",
    ),
    (
        FrameworkId::EuAiAct,
        "sha256:bbc8a536589b445c21dcf2b687ff27d2cdda1c0bcd05a56da762e1db83248686",
    ),
    (
        FrameworkId::Gdpr,
        "sha256:a5418fb41b5295e2560b8648ac7cb6187eccb1af340409fbf793f3c37ad4257b",
    ),
    (
        FrameworkId::Hipaa,
        "sha256:57bee02344711fcba0d8b50d579bfea574b15389d4a39dc11b3c85c9989d328e",
    ),
];
const CONTROLS: &str = "sha256:f710d09bd8dbe91c9324010c5060cab39cd20c04cd71e6d5d55ccfc302a37326";
const MAPPINGS: &str = "sha256:e7009d558a1284e18d8d493dd7012faee481dca11eff94ff4cda07a09a735a85";

#[test]
fn content_hashes_match_the_snapshot() {
    for (fw, want) in SNAPSHOT {
        assert_eq!(catalog(fw).content_hash().to_string(), want, "{fw}");
    }
    assert_eq!(
        registry().controls_hash().to_string(),
        CONTROLS,
        "canonical controls"
    );
    assert_eq!(registry().mappings_hash().to_string(), MAPPINGS, "mappings");
}

#[test]
fn list_json_reports_counts_and_hashes() {
    let list = render::list_json();
    let entries = list.as_array().unwrap();
    assert_eq!(entries.len(), 6);
    for (entry, (fw, want)) in entries.iter().zip(SNAPSHOT) {
        assert_eq!(entry["id"], fw.as_str());
        assert_eq!(entry["controls"], catalog(fw).len());
        assert_eq!(entry["content_hash"], want);
        assert_eq!(entry["name"], catalog(fw).name());
        assert_eq!(entry["edition"], catalog(fw).edition().edition.as_str());
    }
    assert_eq!(entries[0]["controls"], 61);
    assert_eq!(entries[1]["controls"], 38);
    assert_eq!(entries[2]["controls"], 72);
}
