//! `spanforge catalog …`.

use crate::support::run;

#[test]
fn list_json_reports_every_framework_with_its_counts() {
    let r = run(&["catalog", "list", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("JSON array");
    let count = |id: &str| {
        v.as_array()
            .expect("array")
            .iter()
            .find(|f| f["id"] == id)
            .unwrap_or_else(|| panic!("{id} listed"))["controls"]
            .as_u64()
            .expect("count")
    };
    assert_eq!(count("soc2"), 61);
    assert_eq!(count("iso42001"), 38);
    assert_eq!(count("nist-ai-rmf"), 72);
    assert_eq!(count("hipaa"), 64);
    for f in v.as_array().expect("array") {
        let keys: Vec<&str> = f
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        for k in ["id", "name", "edition", "controls", "content_hash"] {
            assert!(keys.contains(&k), "{k} in {f}");
        }
        assert!(
            f["content_hash"]
                .as_str()
                .is_some_and(|h| h.starts_with("sha256:") && h.len() == 71)
        );
    }
}

#[test]
fn reference_spellings_of_framework_ids_are_accepted() {
    for alias in ["iso_42001", "nist_ai_rmf", "eu_ai_act", "SOC 2 Type II"] {
        let r = run(&["catalog", "show", alias]);
        assert_eq!(r.code, 0, "{alias}: {}", r.stderr);
    }
    let r = run(&["catalog", "show", "pci-dss"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown framework"), "{}", r.stderr);
}

#[test]
fn map_shows_the_crosswalk_of_a_criterion_and_of_a_canonical_control() {
    let r = run(&["catalog", "map", "CC8.1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("SF-CHG-01"), "{}", r.stdout);
    let r = run(&["catalog", "map", "SF-CHG-01", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("CC8.1"), "{}", r.stdout);
    let r = run(&["catalog", "map", "XX-NOPE-99"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
}

#[test]
fn export_writes_oscal_documents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("oscal");
    let r = run(&[
        "catalog",
        "export",
        "--oscal",
        "soc2",
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let files: Vec<_> = std::fs::read_dir(&out).expect("dir").flatten().collect();
    assert!(files.len() >= 3, "catalog, profile and mapping collection");
    for f in files {
        let text = std::fs::read_to_string(f.path()).expect("read");
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let root = v
            .as_object()
            .expect("object")
            .keys()
            .next()
            .cloned()
            .unwrap_or_default();
        assert!(
            ["catalog", "profile", "mapping-collection"].contains(&root.as_str()),
            "{root}"
        );
    }
}
