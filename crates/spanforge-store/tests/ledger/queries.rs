//! Streaming queries for the mapping layer.

use spanforge_event::{Event, Timestamp};
use spanforge_store::{EventPage, EventRef, PayloadState, Query, StoredEvent, TenantId};

use crate::common::*;

fn run(t: &TestLedger, q: &Query) -> Vec<StoredEvent> {
    t.ledger.query(q).unwrap().map(Result::unwrap).collect()
}

type Row = (u64, i64, String, String, String, PayloadState);

fn paged_row(e: EventRef<'_>) -> Row {
    (
        e.seq,
        e.ts_micros,
        e.event_id.to_owned(),
        e.event_type.to_owned(),
        e.envelope.to_owned(),
        e.payload,
    )
}

fn rows(events: &[StoredEvent]) -> Vec<Row> {
    events.iter().map(|e| paged_row(e.borrowed())).collect()
}

/// The query read through [`spanforge_store::QueryPages`]: one page reused and cleared between
/// reads when `clear`, else every read appended to it.
fn run_pages(t: &TestLedger, q: &Query, clear: bool) -> Vec<Row> {
    let mut pages = t.ledger.query_pages(q).unwrap();
    let mut page = EventPage::new();
    let mut out = Vec::new();
    loop {
        if clear {
            page.clear();
        }
        let before = page.len();
        let n = pages.next_into(&mut page).unwrap();
        assert_eq!(page.len(), before + n);
        if n == 0 {
            break;
        }
        if clear {
            out.extend(page.iter().map(paged_row));
        }
    }
    assert_eq!(pages.next_into(&mut page).unwrap(), 0, "stays exhausted");
    if !clear {
        out.extend(page.iter().map(paged_row));
    }
    out
}

fn ts(n: i64) -> Timestamp {
    Timestamp::from_unix_micros(T0 + n * 1_000_000).unwrap()
}

fn mixed(n: u64, org: Option<&str>) -> Event {
    let kind = [
        "llm.trace.span.completed",
        "llm.eval.score.recorded",
        "decision.made",
    ][(n % 3) as usize];
    let model = if n.is_multiple_of(2) {
        "gpt-4o"
    } else {
        "claude-3"
    };
    Event::from_json_str(&event_json(n, org, T0 + n as i64 * 1_000_000, kind, model)).unwrap()
}

fn setup() -> TestLedger {
    let mut t = ledger();
    let mut all: Vec<Event> = (0..30).map(|n| mixed(n, Some("acme"))).collect();
    all.extend((100..130).map(|n| mixed(n, Some("globex"))));
    // Same timestamps and models in another tenant, to prove isolation.
    all.extend((0..30).map(|n| {
        let text = event_json(
            n + 1000,
            Some("globex"),
            T0 + n as i64 * 1_000_000,
            "llm.trace.span.completed",
            "gpt-4o",
        );
        Event::from_json_str(&text).unwrap()
    }));
    all.extend((200..210).map(|n| mixed(n, None)));
    t.ledger
        .ingest(&keys(&t.ledger), lines("in.jsonl", &all))
        .unwrap();
    t
}

#[test]
fn time_bounds_are_inclusive_and_results_ordered() {
    let t = setup();
    let q = Query {
        from: Some(ts(3)),
        to: Some(ts(7)),
        ..Query::tenant(org("acme"))
    };
    let got = run(&t, &q);
    let ns: Vec<i64> = got.iter().map(|e| (e.ts_micros - T0) / 1_000_000).collect();
    assert_eq!(ns, vec![3, 4, 5, 6, 7]);
    assert!(got.iter().all(|e| e.tenant == org("acme")));
    assert_eq!(got[0].event().unwrap().timestamp(), &ts(3));
}

#[test]
fn prefix_and_model_filters() {
    let t = setup();
    let llm = run(
        &t,
        &Query {
            event_type_prefix: Some("llm.".into()),
            ..Query::tenant(org("acme"))
        },
    );
    assert_eq!(llm.len(), 20);
    assert!(llm.iter().all(|e| e.event_type.starts_with("llm.")));
    let eval = run(
        &t,
        &Query {
            event_type_prefix: Some("llm.eval.".into()),
            ..Query::tenant(org("acme"))
        },
    );
    assert_eq!(eval.len(), 10);
    // A prefix is literal: no wildcard.
    assert!(
        run(
            &t,
            &Query {
                event_type_prefix: Some("llm%".into()),
                ..Query::tenant(org("acme"))
            }
        )
        .is_empty()
    );
    let claude = run(
        &t,
        &Query {
            model_id: Some("claude-3".into()),
            ..Query::tenant(org("acme"))
        },
    );
    assert_eq!(claude.len(), 15);
    assert!(
        claude
            .iter()
            .all(|e| e.model_id.as_deref() == Some("claude-3"))
    );
    let both = Query {
        model_id: Some("gpt-4o".into()),
        event_type_prefix: Some("decision".into()),
        from: Some(ts(0)),
        to: Some(ts(29)),
        ..Query::tenant(org("acme"))
    };
    let got = run(&t, &both);
    assert_eq!(got.len(), 5); // n % 6 == 2
    assert!(
        got.iter()
            .all(|e| e.event_type == "decision.made" && e.model_id.as_deref() == Some("gpt-4o"))
    );
}

#[test]
fn a_query_never_returns_another_tenants_events() {
    let t = setup();
    for tenant in [org("acme"), org("globex"), TenantId::Default] {
        let all = run(&t, &Query::tenant(tenant.clone()));
        assert!(!all.is_empty());
        for e in &all {
            assert_eq!(e.tenant, tenant);
            assert_eq!(e.event().unwrap().org_id(), tenant.org_id());
        }
    }
    let acme_gpt = run(
        &t,
        &Query {
            model_id: Some("gpt-4o".into()),
            to: Some(ts(29)),
            ..Query::tenant(org("acme"))
        },
    );
    assert_eq!(acme_gpt.len(), 15);
    assert!(run(&t, &Query::tenant(org("nobody"))).is_empty());
    assert!(run(&t, &Query::tenant(org("acme "))).is_empty());
}

#[test]
fn large_results_stream_in_pages_in_time_order() {
    let mut t = ledger();
    // 5000 events, four per timestamp, ingested in shuffled time order.
    let mut all: Vec<Event> = (0..5000u64)
        .map(|n| {
            let second = ((n * 7919) % 1250) as i64;
            Event::from_json_str(&event_json(
                n,
                Some("acme"),
                T0 + second * 1_000_000,
                "llm.trace.span.completed",
                "gpt-4o",
            ))
            .unwrap()
        })
        .collect();
    all.reverse();
    t.ledger
        .ingest(&keys(&t.ledger), lines("in.jsonl", &all))
        .unwrap();
    let got = run(&t, &Query::tenant(org("acme")));
    assert_eq!(got.len(), 5000);
    for pair in got.windows(2) {
        assert!((pair[0].ts_micros, pair[0].seq) < (pair[1].ts_micros, pair[1].seq));
    }
    let model = run(
        &t,
        &Query {
            model_id: Some("gpt-4o".into()),
            ..Query::tenant(org("acme"))
        },
    );
    assert_eq!(model.len(), 5000);
    let window = run(
        &t,
        &Query {
            from: Some(ts(100)),
            to: Some(ts(199)),
            ..Query::tenant(org("acme"))
        },
    );
    assert_eq!(window.len(), 400);
}

#[test]
fn a_time_limited_export_says_it_is_partial() {
    let t = setup();
    let whole = t.ledger.export(&org("acme"), None, None).unwrap();
    assert!(whole.notice().is_none());
    assert_eq!(whole.count(), 30);
    let part = t
        .ledger
        .export(&org("acme"), Some(ts(10)), Some(ts(12)))
        .unwrap();
    assert!(part.notice().unwrap().contains("gap"));
    let lines: Vec<String> = part.map(Result::unwrap).collect();
    assert_eq!(lines.len(), 3);
    assert!(Event::from_json_str(&lines[0]).unwrap().prev_id().is_some());
}

#[test]
fn paged_reads_return_what_the_query_returns() {
    let mut t = ledger();
    // More events than one page holds, ingested out of time order, in two tenants.
    let all: Vec<Event> = (0..5000u64)
        .map(|n| {
            let second = ((n * 7919) % 1250) as i64;
            let org = if n % 5 == 0 { "globex" } else { "acme" };
            let kind = ["llm.trace.span.completed", "decision.made"][(n % 2) as usize];
            let model = if n % 3 == 0 { "claude-3" } else { "gpt-4o" };
            Event::from_json_str(&event_json(
                n,
                Some(org),
                T0 + second * 1_000_000,
                kind,
                model,
            ))
            .unwrap()
        })
        .collect();
    t.ledger
        .ingest(&keys(&t.ledger), lines("in.jsonl", &all))
        .unwrap();
    let acme = Query::tenant(org("acme"));
    let queries = [
        acme.clone(),
        Query::tenant(org("globex")),
        Query::tenant(org("nobody")),
        Query {
            from: Some(ts(100)),
            to: Some(ts(899)),
            ..acme.clone()
        },
        Query {
            model_id: Some("claude-3".into()),
            ..acme.clone()
        },
        Query {
            event_type_prefix: Some("llm.".into()),
            ..acme.clone()
        },
        Query {
            before_seq: Some(2500),
            ..acme.clone()
        },
        Query {
            before_seq: Some(0),
            ..acme.clone()
        },
    ];
    // One reader restarted for every query, its buffers kept, reads what a new one reads.
    let mut reused = t.ledger.query_pages(&queries[0]).unwrap();
    for q in &queries {
        let want = rows(&run(&t, q));
        assert_eq!(run_pages(&t, q, true), want, "{q:?}");
        assert_eq!(run_pages(&t, q, false), want, "{q:?}");
        reused.restart(q).unwrap();
        let mut page = EventPage::new();
        while reused.next_into(&mut page).unwrap() > 0 {}
        assert_eq!(
            page.iter().map(paged_row).collect::<Vec<_>>(),
            want,
            "{q:?}"
        );
    }
    let all_acme = run(&t, &acme);
    assert_eq!(all_acme.len(), 4000);
    let bounded = run(
        &t,
        &Query {
            before_seq: Some(2500),
            ..acme.clone()
        },
    );
    assert_eq!(bounded.len(), 2500);
    assert!(bounded.iter().all(|e| e.seq < 2500));
    assert!(
        bounded
            .windows(2)
            .all(|p| (p[0].ts_micros, p[0].seq) < (p[1].ts_micros, p[1].seq))
    );
}
