//! Evidence packages over the realistic 90-day workload: every framework generates and
//! verifies, any changed byte is caught and named, output is reproducible byte for byte, and a
//! tampered ledger stops generation.

use std::fs;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};
use spanforge_catalog::FrameworkId;
use spanforge_mapping::Error;
use spanforge_mapping::conclusion::Conclusion;
use spanforge_mapping::engine::AssessmentRequest;
use spanforge_mapping::framework::NodeStatus;
use spanforge_mapping::package::{PackageSummary, generate_package, verify_package};
use spanforge_mapping::period::Day;
use spanforge_mapping::sampling::{SampleTable, select};
use spanforge_mapping::testing::Workload;

use crate::support::*;

fn generate(f: &mut Fixture, req: &AssessmentRequest, name: &str) -> PackageSummary {
    let out = f.out(name);
    let Fixture {
        ledger,
        keys,
        signer,
        ..
    } = f;
    generate_package(ledger, keys, &rules(), req, &out, signer, "test").unwrap()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

#[test]
fn every_framework_generates_and_verifies() {
    let mut f = shared();
    for fw in FrameworkId::ALL {
        let (dir, assessment) = standard_package(&mut f, fw);
        let dir = &dir;
        let report = verify_package(dir, &[f.verifier()]).unwrap();
        assert!(report.ok, "{fw}: {:?}", report.problems);
        assert!(report.proofs_checked > 0 && report.checkpoints_checked == 2);
        // The layout the issue asks for.
        for file in [
            "manifest.json",
            "manifest.sig",
            "package.json",
            "gaps/gap-report.json",
            "integrity/ledger-verification.json",
            "integrity/checkpoints.txt",
            "integrity/proofs/index.json",
            "oscal/assessment-results.json",
            "report/index.html",
        ] {
            assert!(dir.join(file).is_file(), "{fw}: {file} missing");
        }
        // Every criterion of the framework appears in the gap report with a status.
        let gaps = read_json(&dir.join("gaps/gap-report.json"));
        let criteria = gaps["criteria"].as_array().unwrap();
        assert_eq!(criteria.len(), spanforge_catalog::catalog(fw).len(), "{fw}");
        for c in criteria {
            let status = c["status"].as_str().unwrap();
            if ["gap", "partial", "manual_evidence_required"].contains(&status) {
                assert!(
                    !c["remediation"].as_array().unwrap().is_empty(),
                    "{fw} {}: a criterion needing action has no remediation",
                    c["id"]
                );
                assert!(!c["missing"].as_array().unwrap().is_empty());
            }
        }
        // package.json pins what the package was built from.
        let package = read_json(&dir.join("package.json"));
        assert_eq!(package["framework"]["id"], fw.as_str());
        assert_eq!(
            package["framework"]["content_hash"],
            spanforge_catalog::catalog(fw).content_hash().to_string()
        );
        assert_eq!(package["period"]["from"], START);
        assert_eq!(
            package["ledger"]["checkpoints"].as_array().unwrap().len(),
            2
        );
        assert_eq!(package["tool"]["version"], "test");
        // Every control directory has the five files.
        for c in &assessment.controls {
            for name in [
                "population.jsonl",
                "selection.json",
                "test-results.json",
                "exceptions.jsonl",
                "conclusion.json",
            ] {
                assert!(
                    dir.join("controls").join(&c.id).join(name).is_file(),
                    "{fw} {} {name}",
                    c.id
                );
            }
        }
    }
}

#[test]
fn the_unapproved_deployment_is_an_exception_and_a_gap() {
    let mut f = shared();
    let (dir, a) = standard_package(&mut f, FrameworkId::Soc2);
    let a = &a;
    let chg = a.control("SF-CHG-01").unwrap();
    assert_eq!(chg.deviating_items, 1, "{:?}", chg.deviations);
    let cited = chg
        .deviations
        .iter()
        .find(|d| d.attribute.as_deref() == Some("A1"))
        .unwrap();
    let event = cited.event.as_ref().unwrap();
    assert_eq!(event.tenant, "org/acme");
    assert!(cited.reason.contains("claims-llm@3.1"), "{}", cited.reason);
    // The exception is listed in the file and proved.
    let exceptions = fs::read_to_string(dir.join("controls/SF-CHG-01/exceptions.jsonl")).unwrap();
    assert!(exceptions.contains(&event.event_id));
    let index = read_json(&dir.join("integrity/proofs/index.json"));
    assert!(
        index["proofs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["event_id"] == event.event_id.as_str())
    );
    // Primary change-management evidence is deficient, so CC8.1 is a gap with remediation.
    let cc81 = a.nodes.iter().find(|n| n.id == "CC8.1").unwrap();
    assert_eq!(cc81.status, NodeStatus::Gap);
    assert!(cc81.remediation.iter().any(|r| r.contains("SF-CHG-01")));
    // The report answers question 2 with the last three deployments, the exception flagged.
    let html = fs::read_to_string(dir.join("report/index.html")).unwrap();
    assert!(
        html.contains("change-management records for the last three model deployments")
            || html.contains("id=\"q2\"")
    );
    assert!(html.contains(&event.event_id));
}

#[test]
fn same_ledger_and_arguments_give_a_byte_identical_package() {
    let mut f = shared();
    let (first, _) = standard_package(&mut f, FrameworkId::Iso42001);
    // A second run, at a later "now", must give the same bytes.
    let mut later = AssessmentRequest::new(FrameworkId::Iso42001, period(), now());
    later.now_micros += 86_400_000_000;
    let second = generate(&mut f, &later, "same-again");
    let files = files_under(&first);
    assert_eq!(files, files_under(&second.dir));
    for rel in &files {
        assert!(
            fs::read(first.join(rel)).unwrap() == fs::read(second.dir.join(rel)).unwrap(),
            "{rel} differs between two runs"
        );
    }
}

fn flip(path: &Path, at: usize) -> Vec<u8> {
    let original = fs::read(path).unwrap();
    let mut bytes = original.clone();
    assert!(!bytes.is_empty(), "{} is empty", path.display());
    let i = at.min(bytes.len() - 1);
    bytes[i] ^= 0x01;
    fs::write(path, &bytes).unwrap();
    original
}

#[test]
fn any_changed_byte_fails_verification_naming_the_file() {
    let mut f = shared();
    let (standard, _) = standard_package(&mut f, FrameworkId::Hipaa);
    let dir = f.out("tamper");
    copy_dir(&standard, &dir);
    let verifier = f.verifier();
    drop(f);
    assert!(
        verify_package(&dir, std::slice::from_ref(&verifier))
            .unwrap()
            .ok
    );
    let files: Vec<String> = files_under(&dir);

    // The manifest and its signature, one at a time, at several positions.
    for rel in ["manifest.json", "manifest.sig"] {
        let len = fs::metadata(dir.join(rel)).unwrap().len() as usize;
        for at in [0, len / 3, len / 2, len - 2] {
            let original = flip(&dir.join(rel), at);
            let report = verify_package(&dir, std::slice::from_ref(&verifier)).unwrap();
            assert!(!report.ok, "{rel} byte {at} changed, still verifies");
            assert!(
                report.problems.iter().any(|p| p.file == rel),
                "{rel} byte {at}: {:?}",
                report.problems
            );
            fs::write(dir.join(rel), original).unwrap();
        }
    }
    // Every other (non-empty) file changed at once: each is named.
    let mut originals = Vec::new();
    for rel in files
        .iter()
        .filter(|r| *r != "manifest.json" && *r != "manifest.sig")
    {
        let path = dir.join(rel);
        if fs::metadata(&path).unwrap().len() == 0 {
            continue;
        }
        let len = fs::metadata(&path).unwrap().len() as usize;
        originals.push((rel.clone(), flip(&path, len / 2)));
    }
    let report = verify_package(&dir, std::slice::from_ref(&verifier)).unwrap();
    assert!(!report.ok);
    for (rel, _) in &originals {
        assert!(
            report.problems.iter().any(|p| &p.file == rel),
            "{rel} was changed but not named"
        );
    }
    for (rel, original) in &originals {
        fs::write(dir.join(rel), original).unwrap();
    }
    assert!(
        verify_package(&dir, std::slice::from_ref(&verifier))
            .unwrap()
            .ok
    );
    // And one at a time for a spread of files, including empty listings grown by a byte.
    for rel in files.iter().step_by(17) {
        let path = dir.join(rel);
        let original = fs::read(&path).unwrap();
        let mut changed = original.clone();
        if changed.is_empty() {
            changed.push(b'\n');
        } else {
            changed[0] ^= 0x20;
        }
        fs::write(&path, &changed).unwrap();
        let report = verify_package(&dir, std::slice::from_ref(&verifier)).unwrap();
        assert!(
            report.problems.iter().any(|p| &p.file == rel),
            "{rel}: {:?}",
            report.problems
        );
        fs::write(&path, original).unwrap();
    }
    // Added and removed files are caught too.
    fs::write(dir.join("controls/extra.txt"), b"x").unwrap();
    let report = verify_package(&dir, std::slice::from_ref(&verifier)).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.file == "controls/extra.txt")
    );
    fs::remove_file(dir.join("controls/extra.txt")).unwrap();
    let removed = dir.join("gaps/gap-report.json");
    let original = fs::read(&removed).unwrap();
    fs::remove_file(&removed).unwrap();
    let report = verify_package(&dir, std::slice::from_ref(&verifier)).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.file == "gaps/gap-report.json")
    );
    fs::write(&removed, original).unwrap();
    // Another key cannot vouch for the package.
    let other = spanforge_chain::note::NoteSigner::from_seed("someone/else", &[9; 32]).unwrap();
    let report = verify_package(&dir, &[other.verifier()]).unwrap();
    assert!(!report.ok && report.problems.iter().any(|p| p.file == "manifest.sig"));
    assert!(verify_package(&dir, &[verifier]).unwrap().ok);
}

#[test]
fn a_tampered_ledger_stops_generation() {
    let w = Workload::new(Day::parse(START).unwrap(), 10)
        .with_tenants(&["acme"])
        .with_calls_per_day(3);
    let mut f = fixture(&w);
    let path = f.dir.path().join("ledger.db");
    {
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch("DROP TRIGGER events_append_only_update;")
            .unwrap();
        // Change one byte of one stored envelope (an actor id), leaving everything else alone.
        let (id, envelope): (i64, Vec<u8>) = db
            .query_row(
                "SELECT id, envelope FROM events WHERE event_type = 'dev.spanforge.model.deployed' LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let text = String::from_utf8(envelope)
            .unwrap()
            .replacen("release-bot", "release-bou", 1);
        db.execute(
            "UPDATE events SET envelope = ?1 WHERE id = ?2",
            rusqlite::params![text.into_bytes(), id],
        )
        .unwrap();
    }
    let period = spanforge_mapping::period::Period::new(w.start, w.last_day()).unwrap();
    let req = AssessmentRequest::new(FrameworkId::Soc2, period, now());
    let out = f.out("tampered");
    let Fixture {
        ledger,
        keys,
        signer,
        ..
    } = &mut f;
    let err = generate_package(ledger, keys, &rules(), &req, &out, signer, "test").unwrap_err();
    match &err {
        Error::LedgerIntegrity { summary } => assert!(summary.contains("tampered"), "{summary}"),
        other => panic!("expected an integrity error, got {other}"),
    }
    assert!(err.to_string().contains("no evidence was produced"));
    assert!(!out.exists(), "a package directory was left behind");
}

#[test]
fn an_open_period_and_a_used_directory_are_refused() {
    let mut f = shared();
    let mut req = AssessmentRequest::new(FrameworkId::Soc2, period(), now());
    req.now_micros = period().end_micros();
    let out = f.out("open");
    let Fixture {
        ledger,
        keys,
        signer,
        ..
    } = &mut *f;
    assert!(matches!(
        generate_package(ledger, keys, &rules(), &req, &out, signer, "t"),
        Err(Error::PeriodOpen { .. })
    ));
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("keep.txt"), b"mine").unwrap();
    req.now_micros = now();
    assert!(matches!(
        generate_package(ledger, keys, &rules(), &req, &out, signer, "t"),
        Err(Error::OutputNotEmpty { .. })
    ));
    assert_eq!(fs::read(out.join("keep.txt")).unwrap(), b"mine");
}

#[test]
fn sampling_is_seeded_from_the_population_and_re_derivable() {
    let mut f = shared();
    let req = AssessmentRequest::new(FrameworkId::Soc2, period(), now())
        .with_sampling(SampleTable::default());
    let a = generate(&mut f, &req, "sample");
    let mut sampled_controls = 0;
    for c in &a.assessment.controls {
        let selection = read_json(&a.dir.join("controls").join(&c.id).join("selection.json"));
        if selection["method"] != "sample" {
            continue;
        }
        sampled_controls += 1;
        // An auditor re-derives the sample from the shipped population alone.
        let population =
            fs::read(a.dir.join("controls").join(&c.id).join("population.jsonl")).unwrap();
        let hash: [u8; 32] = Sha256::digest(&population).into();
        assert_eq!(hex::encode(hash), c.population_sha256);
        let lines = population.iter().filter(|b| **b == b'\n').count() as u64;
        let frequency = spanforge_catalog::canonical_control(&c.id)
            .unwrap()
            .frequency;
        let size = SampleTable::default().size(frequency, lines);
        let again = select(&c.id, &hash, lines, size);
        let indices: Vec<u64> = selection["indices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(again.indices().unwrap(), indices.as_slice(), "{}", c.id);
        assert_eq!(selection["items"].as_array().unwrap().len(), indices.len());
    }
    assert!(sampled_controls > 10);
    // The unapproved deployment is found by the sample of SF-CHG-01 (10 deployments: all tested).
    let chg = a.assessment.control("SF-CHG-01").unwrap();
    assert_eq!(chg.deviations_counted, 1);
    assert!(verify_package(&a.dir, &[f.verifier()]).unwrap().ok);
}

#[test]
fn tenant_and_model_filters_scope_the_populations() {
    let mut f = shared();
    let req = AssessmentRequest::new(FrameworkId::Soc2, period(), now())
        .with_org("globex")
        .with_model("claims-llm");
    let s = generate(&mut f, &req, "globex-claims");
    assert_eq!(s.assessment.tenants.len(), 1);
    for c in &s.assessment.controls {
        let text = fs::read_to_string(s.dir.join("controls").join(&c.id).join("population.jsonl"))
            .unwrap();
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["tenant"], "org/globex", "{}: {line}", c.id);
            if let Some(model) = v.get("model") {
                assert_eq!(model, "claims-llm", "{}: {line}", c.id);
            }
        }
    }
    // Globex approved every deployment: no change-management exception.
    assert_eq!(
        s.assessment.control("SF-CHG-01").unwrap().conclusion,
        Conclusion::Effective
    );
    // Deployments of support-bot are not in a claims-llm package.
    assert!(s.assessment.control("SF-CHG-01").unwrap().population < 10);
    assert!(verify_package(&s.dir, &[f.verifier()]).unwrap().ok);
    // An unknown tenant is an error, not an empty package.
    let bad = AssessmentRequest::new(FrameworkId::Soc2, period(), now()).with_org("initech");
    let out = f.out("initech");
    let Fixture {
        ledger,
        keys,
        signer,
        ..
    } = &mut *f;
    assert!(matches!(
        generate_package(ledger, keys, &rules(), &bad, &out, signer, "t"),
        Err(Error::UnknownTenant { .. })
    ));
}

#[test]
fn prompt_text_is_left_out_unless_asked_for() {
    let mut f = shared();
    let (without, _) = standard_package(&mut f, FrameworkId::EuAiAct);
    let base = AssessmentRequest::new(FrameworkId::EuAiAct, period(), now());
    let mut with_text = base.clone();
    with_text.include_text = true;
    let with = generate(&mut f, &with_text, "with-text");
    let pop =
        |dir: &Path| fs::read_to_string(dir.join("controls/SF-LOG-01/population.jsonl")).unwrap();
    assert!(!pop(&without).contains("\"payload\""));
    assert!(!pop(&without).contains("token_usage"));
    assert!(pop(&with.dir).contains("\"payload\":{"));
    assert!(verify_package(&with.dir, &[f.verifier()]).unwrap().ok);
    // With text, proofs carry the event itself.
    let index = read_json(&with.dir.join("integrity/proofs/index.json"));
    let first = index["proofs"][0]["proof"].as_str().unwrap();
    let bundle = fs::read_to_string(with.dir.join("integrity/proofs").join(first)).unwrap();
    assert!(bundle.lines().nth(1).unwrap().starts_with("extra "));
}

/// Controls are fed in parallel groups, one group per share of the pool; the package must not
/// depend on how many threads there are (each control's lines in ledger order, the same
/// hashes, the same bytes).
#[test]
fn the_package_does_not_depend_on_the_number_of_threads() {
    let mut f = shared();
    // The first package of a fixture stores the ledger's first checkpoints, which later
    // verification reports list; start from there.
    standard_package(&mut f, FrameworkId::Soc2);
    let req = AssessmentRequest::new(FrameworkId::Soc2, period(), now());
    let on = |threads: usize, f: &mut Fixture, name: &str| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| generate(f, &req, name))
    };
    let one = on(1, &mut f, "one-thread");
    let four = on(4, &mut f, "four-threads");
    // The workload is large enough to span several read batches and to hand several chunks
    // of lines per control to the sink.
    let read: u64 = one.assessment.tenants.iter().map(|t| t.events_read).sum();
    assert!(read > 3 * 4096, "only {read} events read");
    let largest = one
        .assessment
        .controls
        .iter()
        .map(|c| c.population_bytes)
        .max()
        .unwrap();
    assert!(
        largest > 4 * 65_536,
        "largest population file {largest} bytes"
    );
    let files = files_under(&one.dir);
    assert_eq!(files, files_under(&four.dir));
    for rel in &files {
        assert!(
            fs::read(one.dir.join(rel)).unwrap() == fs::read(four.dir.join(rel)).unwrap(),
            "{rel} differs between one thread and four"
        );
    }
}
