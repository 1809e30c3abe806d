//! Tampering with the database file, as an attacker with file access but without the keys would.

use proptest::prelude::*;
use spanforge_store::{LedgerReport, VerifyOptions};

use crate::common::*;

fn verify(t: &TestLedger) -> LedgerReport {
    t.ledger
        .verify(&keys(&t.ledger), &VerifyOptions::new())
        .unwrap()
}

fn setup(n: u64) -> (TestLedger, Vec<String>) {
    let mut t = ledger();
    let evs = events(0, n, Some("acme"));
    t.ledger
        .ingest(&keys(&t.ledger), lines("in.jsonl", &evs))
        .unwrap();
    assert!(verify(&t).valid);
    (t, evs.iter().map(|e| e.event_id().to_string()).collect())
}

fn first_tampered(report: &LedgerReport) -> Option<String> {
    report.tenants.iter().find_map(|t| t.first_tampered.clone())
}

#[test]
fn the_triggers_refuse_updates_and_deletes() {
    let (t, ids) = setup(3);
    let conn = rusqlite::Connection::open(&t.path).unwrap();
    for sql in [
        "UPDATE events SET ts = 0",
        "DELETE FROM events",
        "UPDATE keys SET key_check = 'x'",
        "DELETE FROM keys",
    ] {
        let err = conn.execute(sql, []).unwrap_err().to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(count_rows(&t.path), ids.len() as i64);
}

/// Every envelope field, including those the compatible signature does not cover, is protected:
/// an edit of the stored envelope alone is named.
#[test]
fn an_edit_to_any_envelope_field_is_detected_and_named() {
    let edits: &[(&str, &str, &str)] = &[
        ("timestamp", "T10:00:05.000000Z", "T11:00:05.000000Z"),
        (
            "event_type",
            "llm.trace.span.completed",
            "llm.trace.span.failed",
        ),
        ("org_id", r#""org_id":"acme""#, r#""org_id":"acmf""#),
        ("tags", r#""env":"prod""#, r#""env":"test""#),
        (
            "actor_id",
            r#""actor_id":"user-5""#,
            r#""actor_id":"user-6""#,
        ),
        ("source", "support-bot@3.0.0", "support-bot@3.0.1"),
        ("payload", r#""temperature":0.7"#, r#""temperature":0.1"#),
        (
            "trace_id",
            r#","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#,
            r#","trace_id":"4bf92f3577b34da6a3ce929d0e0e4737"}"#,
        ),
    ];
    for (field, from, to) in edits {
        let (t, ids) = setup(12);
        let victim = &ids[5];
        let conn = attacker(&t.path);
        let original = envelope_of(&conn, victim);
        let edited = original.replacen(from, to, 1);
        assert_ne!(original, edited, "{field}: edit did not apply");
        conn.execute(
            "UPDATE events SET envelope = ?1 WHERE event_id = ?2",
            rusqlite::params![edited.as_bytes(), victim],
        )
        .unwrap();
        let report = verify(&t);
        assert!(!report.valid, "{field}");
        assert_eq!(
            first_tampered(&report).as_ref(),
            Some(victim),
            "{field}: {report:#?}"
        );
        let acme = &report.tenants[0];
        assert_eq!(acme.tampered_count, 1, "{field}: {:#?}", acme.tampered);
        assert!(
            acme.tampered[0]
                .reasons
                .iter()
                .any(|r| r.contains("leaf hash")),
            "{field}"
        );
    }
}

/// With the leaf hash and the tree rebuilt too, the fields outside the HMAC verify internally;
/// the signed checkpoints then catch the rewrite. Fields inside the HMAC still fail on their own.
#[test]
fn a_consistent_rewrite_is_caught_by_the_signed_checkpoint() {
    let (mut t, ids) = setup(12);
    let keys = keys(&t.ledger);
    let cp = t
        .ledger
        .checkpoint(&keys, &org("acme"))
        .unwrap()
        .to_string();
    let conn = attacker(&t.path);
    let victim = &ids[3];
    let edited = envelope_of(&conn, victim).replacen("T10:00:03.000000Z", "T09:00:03.000000Z", 1);
    conn.execute(
        "UPDATE events SET envelope = ?1 WHERE event_id = ?2",
        rusqlite::params![edited.as_bytes(), victim],
    )
    .unwrap();
    rebuild_tree(&conn, Some("acme"));
    // The stored checkpoint (signed, inside the database) no longer matches the rebuilt root.
    let report = verify(&t);
    assert!(!report.valid);
    assert!(
        report.tenants[0]
            .problems
            .iter()
            .any(|p| p.contains("another root than the checkpoint")),
        "{report:#?}"
    );
    // Nor does the external one: a fork.
    let report = t
        .ledger
        .verify(
            &keys,
            &VerifyOptions::new().with_checkpoint_file(&cp).unwrap(),
        )
        .unwrap();
    assert_eq!(
        report.checkpoints[0].status,
        spanforge_store::CheckpointStatus::Forked
    );

    // A payload rewrite with a rebuilt tree is caught by the HMAC alone.
    let (t, ids) = setup(12);
    let conn = attacker(&t.path);
    let edited = envelope_of(&conn, &ids[8]).replacen(r#""n":8"#, r#""n":80"#, 1);
    conn.execute(
        "UPDATE events SET envelope = ?1 WHERE event_id = ?2",
        rusqlite::params![edited.as_bytes(), ids[8]],
    )
    .unwrap();
    rebuild_tree(&conn, Some("acme"));
    let report = verify(&t);
    assert_eq!(first_tampered(&report).as_ref(), Some(&ids[8]));
    assert!(
        report.tenants[0].tampered[0]
            .reasons
            .iter()
            .any(|r| r.contains("checksum")),
        "{report:#?}"
    );
}

#[test]
fn index_columns_must_agree_with_the_envelope() {
    for (column, value) in [
        ("ts", "0"),
        ("model_id", "'gpt-3'"),
        ("event_type", "'decision.made'"),
        ("actor_id", "NULL"),
        ("key_id", "'k9'"),
    ] {
        let (t, ids) = setup(6);
        let conn = attacker(&t.path);
        conn.execute(
            &format!("UPDATE events SET {column} = {value} WHERE event_id = ?1"),
            [&ids[2]],
        )
        .unwrap();
        let report = verify(&t);
        assert!(!report.valid, "{column}");
        assert_eq!(first_tampered(&report).as_ref(), Some(&ids[2]), "{column}");
    }
}

#[test]
fn deleted_inserted_and_swapped_rows_are_detected() {
    // A middle row deleted: sequence gap and broken link, and the head no longer matches.
    let (t, ids) = setup(10);
    let conn = attacker(&t.path);
    conn.execute("DELETE FROM events WHERE event_id = ?1", [&ids[4]])
        .unwrap();
    let report = verify(&t);
    assert!(!report.valid);
    assert_eq!(report.tenants[0].gaps, vec![ids[5].clone()]);
    assert_eq!(report.gaps, vec![ids[5].clone()]);

    // Two envelopes swapped between rows (leaf hashes moved with them): links break.
    let (t, ids) = setup(10);
    let conn = attacker(&t.path);
    let a = envelope_of(&conn, &ids[2]);
    let b = envelope_of(&conn, &ids[3]);
    conn.execute(
        "UPDATE events SET event_id = 'x' WHERE event_id = ?1",
        [&ids[2]],
    )
    .unwrap();
    conn.execute(
        "UPDATE events SET envelope = ?1, event_id = ?2 WHERE event_id = ?3",
        rusqlite::params![a.as_bytes(), ids[2], ids[3]],
    )
    .unwrap();
    conn.execute(
        "UPDATE events SET envelope = ?1, event_id = ?2 WHERE event_id = 'x'",
        rusqlite::params![b.as_bytes(), ids[3]],
    )
    .unwrap();
    rebuild_tree(&conn, Some("acme"));
    let report = verify(&t);
    assert!(!report.valid);
    assert!(report.tenants[0].gap_count >= 2, "{report:#?}");

    // A row appended behind the ledger's back (head not updated).
    let (t, _) = setup(4);
    let conn = attacker(&t.path);
    conn.execute_batch(
        "INSERT INTO events SELECT id + 10, tenant, event_id || 'X', ts, event_type, model_id, actor_id, session_id, key_id, envelope, leaf_hash, nodes FROM events WHERE id = (SELECT max(id) FROM events)",
    )
    .unwrap();
    let report = verify(&t);
    assert!(!report.valid);
    assert!(
        report.tenants[0]
            .problems
            .iter()
            .any(|p| p.contains("events")),
        "{report:#?}"
    );
}

#[test]
fn findings_on_many_pages_are_named_in_chain_order() {
    // Enough events that verification reads, checks and folds them as several pages, with
    // findings on the first and last rows of pages (of 1,024 or 2,048 rows) and of the chain.
    let (t, ids) = setup(4200);
    let conn = attacker(&t.path);
    let edited = [0usize, 1023, 1024, 2047, 2048, 4199];
    for &i in &edited {
        let mut bytes = envelope_of(&conn, &ids[i]).into_bytes();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        conn.execute(
            "UPDATE events SET envelope = ?1 WHERE event_id = ?2",
            rusqlite::params![bytes, ids[i]],
        )
        .unwrap();
    }
    let report = verify(&t);
    assert!(!report.valid);
    let tenant = &report.tenants[0];
    assert_eq!(tenant.events, 4200);
    assert_eq!(tenant.tampered_count, edited.len() as u64);
    let named: Vec<(u64, &str)> = tenant
        .tampered
        .iter()
        .map(|f| (f.seq, f.event_id.as_str()))
        .collect();
    let want: Vec<(u64, &str)> = edited
        .iter()
        .map(|&i| (i as u64, ids[i].as_str()))
        .collect();
    assert_eq!(named, want);
    assert_eq!(first_tampered(&report).as_deref(), Some(ids[0].as_str()));
    assert!(tenant.gaps.is_empty(), "{:?}", tenant.gaps);
    // The ledger-wide summary says the same.
    assert_eq!(report.tampered_count, edited.len() as u64);
    assert_eq!(report.first_tampered.as_deref(), Some(ids[0].as_str()));
    assert_eq!(report.gap_count, 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    /// Append then verify succeeds; flipping any one byte of any stored envelope is detected.
    #[test]
    fn any_byte_flip_is_detected(n in 1u64..20, victim in any::<prop::sample::Index>(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let (t, ids) = setup(n);
        let id = &ids[victim.index(ids.len())];
        let conn = attacker(&t.path);
        let mut bytes = envelope_of(&conn, id).into_bytes();
        let at = pos.index(bytes.len());
        bytes[at] ^= 1 << bit;
        conn.execute("UPDATE events SET envelope = ?1 WHERE event_id = ?2", rusqlite::params![bytes, id]).unwrap();
        let report = verify(&t);
        prop_assert!(!report.valid);
        prop_assert_eq!(report.tenants[0].tampered_count, 1);
    }
}

#[test]
fn the_ledger_summary_adds_up_the_tenants() {
    let mut t = ledger();
    let mut evs = events(0, 5, Some("acme"));
    evs.extend(events(5, 5, Some("globex")));
    t.ledger
        .ingest(&keys(&t.ledger), lines("in.jsonl", &evs))
        .unwrap();
    let ids: Vec<String> = evs.iter().map(|e| e.event_id().to_string()).collect();
    let conn = attacker(&t.path);
    for victim in [&ids[3], &ids[6], &ids[8]] {
        let edited = envelope_of(&conn, victim).replacen("T10:00:0", "T11:00:0", 1);
        conn.execute(
            "UPDATE events SET envelope = ?1 WHERE event_id = ?2",
            rusqlite::params![edited.as_bytes(), victim],
        )
        .unwrap();
    }
    let report = verify(&t);
    assert!(!report.valid);
    let per_tenant: Vec<u64> = report.tenants.iter().map(|t| t.tampered_count).collect();
    assert_eq!(per_tenant.iter().sum::<u64>(), 3, "{per_tenant:?}");
    assert_eq!(report.tampered_count, 3);
    assert_eq!(
        report.first_tampered,
        report.tenants.iter().find_map(|t| t.first_tampered.clone())
    );
    assert!(
        report.first_tampered == Some(ids[3].clone())
            || report.first_tampered == Some(ids[6].clone())
    );
    assert_eq!(report.covered_fields, report.tenants[0].covered_fields);
}
