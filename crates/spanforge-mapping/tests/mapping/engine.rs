//! The engine over small hand-built ledgers: every conclusion of the lattice through the real
//! pipeline, period coverage by frequency, the model filter on odd payload shapes, and the
//! tenant filter.

use spanforge_catalog::FrameworkId;
use spanforge_chain::compat::HmacSecret;
use spanforge_chain::note::NoteSigner;
use spanforge_event::json::{self, Value};
use spanforge_event::{Event, EventBuilder, EventId, EventType, Source, Timestamp};
use spanforge_mapping::accumulator::NoFiles;
use spanforge_mapping::conclusion::Conclusion;
use spanforge_mapping::coverage::CoverageResult;
use spanforge_mapping::engine::{Assessment, AssessmentRequest, ControlScope, assess};
use spanforge_mapping::period::{Day, MICROS_PER_DAY, Period};
use spanforge_store::{HmacKey, SqliteLedger, StaticKeys};

use crate::support::rules;

const JAN: &str = "2026-01-01";

/// Builds events with increasing ids.
struct Events {
    n: u128,
    out: Vec<Event>,
}

impl Events {
    fn new() -> Self {
        Self {
            n: 0,
            out: Vec::new(),
        }
    }

    /// An event on `day` (offset from January 1st, may be negative) at `second`.
    fn add(
        &mut self,
        org: &str,
        day: i32,
        second: i64,
        event_type: &str,
        payload: &str,
        actor: Option<&str>,
    ) {
        self.n += 1;
        let micros = Day::parse(JAN).unwrap().plus(day).start_micros()
            + second * 1_000_000
            + (self.n as i64 % 1000);
        let id = EventId::from_parts(u64::try_from(micros / 1000).unwrap(), self.n).unwrap();
        let mut b = EventBuilder::new(
            EventType::parse(event_type).unwrap(),
            Source::parse("test-app@1.0.0").unwrap(),
            json::parse(payload).unwrap(),
        )
        .event_id(id)
        .timestamp(Timestamp::from_unix_micros(micros).unwrap())
        .org_id(org);
        if let Some(a) = actor {
            b = b.actor_id(a);
        }
        self.out.push(b.build_exact().unwrap());
    }
}

fn ledger(events: Vec<Event>) -> (tempfile::TempDir, SqliteLedger, StaticKeys) {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = SqliteLedger::open(dir.path().join("l.db")).unwrap();
    let keys = StaticKeys::new()
        .with_default_key(HmacKey::derived(
            HmacSecret::new_native("engine-test-secret-0123456789abcdef").unwrap(),
        ))
        .with_checkpoint_signer(NoteSigner::from_seed(&ledger.log_key_name(), &[5; 32]).unwrap());
    let mut events = events;
    events.sort_by_key(|e| e.timestamp().unix_micros());
    ledger.append_batch(&keys, events).unwrap();
    (dir, ledger, keys)
}

fn january() -> Period {
    Period::parse(JAN, "2026-01-31").unwrap()
}

fn run(ledger: &mut SqliteLedger, keys: &StaticKeys, req: &AssessmentRequest) -> Assessment {
    assess(ledger, keys, &rules(), req, &mut NoFiles).unwrap()
}

fn request() -> AssessmentRequest {
    AssessmentRequest::new(
        FrameworkId::Soc2,
        january(),
        january().end_micros() + MICROS_PER_DAY,
    )
    .with_scope(ControlScope::All)
    .unanchored()
}

#[test]
fn every_conclusion_is_reached_through_the_engine() {
    let mut e = Events::new();
    for day in 0..31 {
        // Effective: a daily backup every day.
        e.add(
            "acme",
            day,
            3600,
            "dev.spanforge.backup.completed",
            r#"{"status":"ok"}"#,
            None,
        );
        // Insufficient evidence: chain verification stops after day 20.
        if day <= 20 {
            e.add(
                "acme",
                day,
                7200,
                "audit.chain_verified",
                r#"{"result":"pass"}"#,
                None,
            );
        }
    }
    // Effective with exceptions: 20 alerts, one never acknowledged (1 in 20 = 5%).
    for i in 0..20 {
        let id = format!("al-{i}");
        e.add(
            "acme",
            i,
            36_000,
            "dev.spanforge.alert.raised",
            &format!(r#"{{"alert_id":"{id}","severity":"high"}}"#),
            None,
        );
        if i != 7 {
            e.add(
                "acme",
                i,
                36_600,
                "dev.spanforge.alert.acknowledged",
                &format!(r#"{{"alert_id":"{id}"}}"#),
                Some("oncall"),
            );
        }
        e.add(
            "acme",
            i,
            40_000,
            "dev.spanforge.alert.resolved",
            &format!(r#"{{"alert_id":"{id}","disposition":"fixed"}}"#),
            Some("oncall"),
        );
    }
    // Ineffective: two prompt changes, neither approved.
    for day in [3, 9] {
        e.add(
            "acme",
            day,
            100,
            "llm.prompt.version.changed",
            r#"{"old_version":"v1","new_version":"v2"}"#,
            Some("dev"),
        );
    }
    // Stale: the last risk assessment was 370 days before the period.
    e.add(
        "acme",
        -370,
        100,
        "dev.spanforge.risk.assessed",
        r#"{"approved_by":"cto","document_sha256":"ab"}"#,
        Some("risk"),
    );
    let (_d, mut ledger, keys) = ledger(e.out);
    let req = request().with_not_applicable("SF-TRN-01", "no user-facing surface");
    let a = run(&mut ledger, &keys, &req);
    let got = |id: &str| a.control(id).unwrap().conclusion;
    assert_eq!(got("SF-BCP-02"), Conclusion::Effective);
    assert_eq!(got("SF-MON-02"), Conclusion::EffectiveWithExceptions);
    assert_eq!(got("SF-CHG-03"), Conclusion::Ineffective);
    assert_eq!(got("SF-RET-02"), Conclusion::NotOccurred);
    assert_eq!(got("SF-LOG-02"), Conclusion::InsufficientEvidence);
    assert_eq!(got("SF-GOV-01"), Conclusion::Stale);
    assert_eq!(got("SF-GOV-03"), Conclusion::ManualEvidencePending);
    assert_eq!(got("SF-TRN-01"), Conclusion::NotApplicable);
    // The late acknowledgement is named, and the coverage gap is dated.
    let mon = a.control("SF-MON-02").unwrap();
    assert_eq!(mon.deviating_items, 1);
    assert!(
        mon.deviations[0].reason.contains("acknowledged"),
        "{}",
        mon.deviations[0].reason
    );
    match &a.control("SF-LOG-02").unwrap().coverage {
        CoverageResult::Gaps {
            missing_days, gaps, ..
        } => {
            assert_eq!(*missing_days, 10);
            assert_eq!(gaps[0].from, "2026-01-22");
        }
        other => panic!("{other:?}"),
    }
    // Remediation is derived from the control's own data.
    let log2 = a.control("SF-LOG-02").unwrap();
    assert!(
        log2.remediation
            .iter()
            .any(|r| r.contains("`audit.chain_verified`")),
        "{:?}",
        log2.remediation
    );
    let gov3 = a.control("SF-GOV-03").unwrap();
    assert!(
        gov3.remediation
            .iter()
            .any(|r| r.contains("dev.spanforge.policy.reviewed")),
        "{:?}",
        gov3.remediation
    );
}

#[test]
fn coverage_follows_the_frequency() {
    let mut e = Events::new();
    // Weekly isolation checks for acme, fortnightly for globex.
    for day in (0..31).step_by(7) {
        e.add(
            "acme",
            day,
            100,
            "dev.spanforge.tenant.isolation_verified",
            r#"{"result":"pass"}"#,
            None,
        );
    }
    for day in (0..31).step_by(14) {
        e.add(
            "globex",
            day,
            100,
            "dev.spanforge.tenant.isolation_verified",
            r#"{"result":"pass"}"#,
            None,
        );
    }
    // A quarterly access review once in the period is enough for a month-long period.
    e.add(
        "acme",
        12,
        100,
        "dev.spanforge.access.reviewed",
        r#"{"asset_class":"models"}"#,
        Some("lead"),
    );
    // A monthly evaluation done 40 days before the period does not cover it.
    e.add(
        "acme",
        -40,
        100,
        "llm.eval.score.recorded",
        r#"{"metric":"acc","model_version":"1","score":0.9,"threshold":0.8}"#,
        None,
    );
    let (_d, mut ledger, keys) = ledger(e.out);
    let acme = run(&mut ledger, &keys, &request().with_org("acme"));
    assert!(acme.control("SF-ISO-01").unwrap().coverage.is_ok());
    assert_eq!(
        acme.control("SF-ISO-01").unwrap().conclusion,
        Conclusion::Effective
    );
    assert_eq!(
        acme.control("SF-ACC-01").unwrap().conclusion,
        Conclusion::Effective
    );
    assert_eq!(
        acme.control("SF-EVL-01").unwrap().conclusion,
        Conclusion::Stale
    );
    let globex = run(&mut ledger, &keys, &request().with_org("globex"));
    let iso = globex.control("SF-ISO-01").unwrap();
    assert!(
        matches!(iso.coverage, CoverageResult::Gaps { .. }),
        "{:?}",
        iso.coverage
    );
    assert_eq!(iso.conclusion, Conclusion::InsufficientEvidence);
    // The tenant filter: globex's assessment saw only globex's events.
    assert_eq!(iso.population, 3);
    assert_eq!(globex.control("SF-ACC-01").unwrap().population, 0);
}

#[test]
fn the_model_filter_survives_every_payload_shape() {
    let mut e = Events::new();
    for (i, payload) in [
        r#"{"model_id":"m1"}"#,
        r#"{"model":"m1"}"#,
        r#"{"model":{"name":"M1"}}"#,
        r#"{"model_id":null}"#,
        r#"{"p99_ms":10}"#,
        r#"{"model":5}"#,
        r#"{"model":[1,2]}"#,
        r#"{"model":{"name":7}}"#,
        r#"{"model":{}}"#,
        r#"{"model_id":"other"}"#,
        r#"{"model":true}"#,
    ]
    .iter()
    .enumerate()
    {
        e.add("shapes", 2, i as i64, "latency.sample", payload, None);
    }
    let (_d, mut ledger, keys) = ledger(e.out);
    let filtered = run(&mut ledger, &keys, &request().with_model("m1"));
    // Three name m1 (any spelling of the three fields), two name no model at all.
    assert_eq!(filtered.control("SF-MON-03").unwrap().population, 5);
    let all = run(&mut ledger, &keys, &request());
    assert_eq!(all.control("SF-MON-03").unwrap().population, 11);
    let other = run(&mut ledger, &keys, &request().with_model("other"));
    assert_eq!(other.control("SF-MON-03").unwrap().population, 3);
}

#[test]
fn values_of_any_json_type_are_read_without_panicking() {
    // Conditions and joins meet strings, numbers, objects and nulls where they expect others.
    let mut e = Events::new();
    for (i, p) in [
        r#"{"alert_id":{"nested":1},"severity":5}"#,
        r#"{"alert_id":null,"severity":null}"#,
        r#"{"alert_id":12,"severity":"low"}"#,
        r#"{"alert_id":[1],"severity":[]}"#,
    ]
    .iter()
    .enumerate()
    {
        e.add("odd", 1, i as i64, "dev.spanforge.alert.raised", p, None);
    }
    e.add(
        "odd",
        1,
        100,
        "dev.spanforge.alert.acknowledged",
        r#"{"alert_id":12}"#,
        None,
    );
    let (_d, mut ledger, keys) = ledger(e.out);
    let a = run(&mut ledger, &keys, &request());
    let mon = a.control("SF-MON-02").unwrap();
    assert_eq!(mon.population, 4);
    // Only the numeric id 12 could be joined and acknowledged.
    let a1 = mon.attributes.iter().find(|x| x.id == "A1").unwrap();
    assert_eq!((a1.tested, a1.failed), (4, 3));
    let _ = Value::Null;
}
