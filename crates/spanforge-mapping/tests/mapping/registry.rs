//! The model registry through the ledger: actions become events, the state survives a reopen,
//! and a deployment that skipped approval is an exception in the package.

use spanforge_catalog::FrameworkId;
use spanforge_chain::compat::HmacSecret;
use spanforge_chain::note::NoteSigner;
use spanforge_event::{Entropy, EntropyError, FixedClock, Source, UlidGenerator};
use spanforge_mapping::conclusion::Conclusion;
use spanforge_mapping::engine::AssessmentRequest;
use spanforge_mapping::package::{generate_package, verify_package};
use spanforge_mapping::period::{Day, MICROS_PER_DAY, Period};
use spanforge_mapping::registry::{ActionContext, LifecycleRules, ModelAction, ModelRegistry};
use spanforge_store::{HmacKey, SqliteLedger, StaticKeys, TenantId};

use crate::support::rules;

struct Counter(u64);
impl Entropy for Counter {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
        self.0 += 1;
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (self.0 >> (8 * (i % 8))) as u8;
        }
        Ok(())
    }
}

fn keys(ledger: &SqliteLedger) -> StaticKeys {
    StaticKeys::new()
        .with_default_key(HmacKey::derived(
            HmacSecret::new_native("registry-test-secret-0123456789abcd").unwrap(),
        ))
        .with_checkpoint_signer(NoteSigner::from_seed(&ledger.log_key_name(), &[3; 32]).unwrap())
}

fn ctx(actor: &str) -> ActionContext {
    ActionContext {
        actor: actor.to_owned(),
        org: Some("acme".to_owned()),
        source: Source::parse("spanforge-cli@0.1.0").unwrap(),
    }
}

/// Plans an action against the state in the ledger and appends it, as the CLI does.
fn act(
    path: &std::path::Path,
    action: ModelAction,
    actor: &str,
    rules: &LifecycleRules,
    day: i32,
) -> Result<(), String> {
    let mut ledger = SqliteLedger::open(path).unwrap();
    let keys = keys(&ledger);
    let registry = ModelRegistry::load(&ledger, &TenantId::org("acme").unwrap()).unwrap();
    let micros = Day::parse("2026-02-01").unwrap().plus(day).start_micros() + 36_000_000_000;
    let mut ids = UlidGenerator::new(FixedClock(micros), Counter(u64::try_from(micros).unwrap()));
    let events = registry
        .plan(&action, &ctx(actor), rules, &mut ids)
        .map_err(|e| e.to_string())?;
    for e in &events {
        e.check_payload_strict().unwrap();
    }
    ledger.append_batch(&keys, events).unwrap();
    Ok(())
}

#[test]
fn the_registry_survives_processes_and_feeds_the_package() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let strict = LifecycleRules::default();
    let register = |v: &str| ModelAction::Register {
        model_id: "scorer".into(),
        version: v.into(),
        name: None,
        owner: "risk-team".into(),
        purpose: "credit scoring".into(),
        risk_tier: "high".into(),
    };
    let evaluate = |v: &str, score| ModelAction::Evaluate {
        model_id: "scorer".into(),
        version: v.into(),
        metric: "auc".into(),
        score,
        threshold: 0.8,
        test_set: "holdout-7".into(),
    };
    let deploy = |v: &str| ModelAction::Deploy {
        model_id: "scorer".into(),
        version: v.into(),
        change_id: None,
        environment: "production".into(),
        doc_uri: Some("https://docs.example/scorer".into()),
    };
    act(&path, register("1"), "alice", &strict, 0).unwrap();
    act(&path, evaluate("1", 0.86), "ci", &strict, 1).unwrap();
    // Each step runs in a fresh "process": the state comes back from the ledger.
    let err = act(&path, deploy("1"), "bob", &strict, 2).unwrap_err();
    assert!(err.contains("no approval"), "{err}");
    let err = act(
        &path,
        ModelAction::Approve {
            model_id: "scorer".into(),
            version: "1".into(),
            change_id: None,
            note: "ok".into(),
        },
        "alice",
        &strict,
        2,
    )
    .unwrap_err();
    assert!(err.contains("may not approve"), "{err}");
    act(
        &path,
        ModelAction::Approve {
            model_id: "scorer".into(),
            version: "1".into(),
            change_id: None,
            note: "ok".into(),
        },
        "carol",
        &strict,
        2,
    )
    .unwrap();
    act(&path, deploy("1"), "bob", &strict, 3).unwrap();
    // Version 2 goes out without approval under relaxed rules.
    act(&path, register("2"), "alice", &strict, 10).unwrap();
    act(&path, evaluate("2", 0.9), "ci", &strict, 11).unwrap();
    let relaxed = LifecycleRules {
        require_approval: false,
        ..strict
    };
    act(&path, deploy("2"), "bob", &relaxed, 12).unwrap();
    act(
        &path,
        ModelAction::Retire {
            model_id: "scorer".into(),
            version: Some("1".into()),
            reason: "superseded".into(),
        },
        "carol",
        &strict,
        13,
    )
    .unwrap();
    let err = act(
        &path,
        ModelAction::Retire {
            model_id: "ghost".into(),
            version: None,
            reason: "x".into(),
        },
        "carol",
        &strict,
        14,
    )
    .unwrap_err();
    assert!(err.contains("not registered"), "{err}");

    let mut ledger = SqliteLedger::open(&path).unwrap();
    let state = ModelRegistry::load(&ledger, &TenantId::org("acme").unwrap()).unwrap();
    let model = state.model("scorer").unwrap();
    assert_eq!(model.versions["1"].status, "retired");
    assert_eq!(model.versions["2"].status, "deployed");
    assert!(model.versions["1"].deployments[0].approved);
    assert!(!model.versions["2"].deployments[0].approved);
    // Another tenant sees none of it.
    assert!(
        ModelRegistry::load(&ledger, &TenantId::org("globex").unwrap())
            .unwrap()
            .models
            .is_empty()
    );

    // The package reports the unapproved deployment as a change-management exception.
    let keys = keys(&ledger);
    let signer = NoteSigner::from_seed(&ledger.log_key_name(), &[3; 32]).unwrap();
    let period = Period::parse("2026-02-01", "2026-02-28").unwrap();
    let req = AssessmentRequest::new(
        FrameworkId::Soc2,
        period,
        period.end_micros() + MICROS_PER_DAY,
    )
    .with_model("scorer");
    let out = dir.path().join("pkg");
    let summary =
        generate_package(&mut ledger, &keys, &rules(), &req, &out, &signer, "test").unwrap();
    let chg = summary.assessment.control("SF-CHG-01").unwrap();
    assert_eq!(chg.population, 2);
    assert_eq!(chg.deviating_items, 1);
    assert_ne!(chg.conclusion, Conclusion::Effective);
    assert!(
        chg.deviations.iter().any(|d| d.reason.contains("scorer@2")),
        "{:?}",
        chg.deviations
    );
    let dec = summary.assessment.control("SF-DEC-01").unwrap();
    assert_eq!(dec.population, 1);
    assert!(verify_package(&out, &[signer.verifier()]).unwrap().ok);
}
