//! Ingest: validation, pre-signed verification, duplicates, atomicity, group commit.

use spanforge_chain::compat::HmacSecret;
use spanforge_store::{
    Error, HmacKey, JsonlLines, KeyId, KeyProvider, StaticKeys, TenantId, VerifyOptions,
};

use crate::common::*;

#[test]
fn ingest_then_verify_intact_across_tenants() {
    let mut t = ledger();
    let keys = keys(&t.ledger);
    let mut all = events(0, 40, Some("acme"));
    all.extend(events(40, 25, None));
    all.extend(events(65, 10, Some("globex")));
    let receipt = t.ledger.ingest(&keys, lines("in.jsonl", &all)).unwrap();
    assert_eq!(receipt.events, 75);
    assert_eq!(receipt.commits, 1);
    assert_eq!(receipt.verified_presigned, 0);
    assert_eq!(receipt.tenants.len(), 3);

    let report = t.ledger.verify(&keys, &VerifyOptions::new()).unwrap();
    assert!(report.valid, "{report:#?}");
    assert_eq!(report.events, 75);
    let sizes: Vec<(TenantId, u64)> = report
        .tenants
        .iter()
        .map(|r| (r.tenant.clone(), r.events))
        .collect();
    assert!(sizes.contains(&(org("acme"), 40)));
    assert!(sizes.contains(&(TenantId::Default, 25)));
    assert!(sizes.contains(&(org("globex"), 10)));
    let acme = report
        .tenants
        .iter()
        .find(|r| r.tenant == org("acme"))
        .unwrap();
    for field in [
        "timestamp",
        "event_type",
        "org_id",
        "tags",
        "source",
        "payload",
        "signature",
    ] {
        assert!(acme.covered_fields.iter().any(|f| f == field), "{field}");
    }

    // Each tenant chain is linked on its own: the first event of every tenant has no prev_id.
    for tenant in [org("acme"), TenantId::Default, org("globex")] {
        let lines: Vec<String> = t
            .ledger
            .export(&tenant, None, None)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let first = spanforge_event::Event::from_json_str(&lines[0]).unwrap();
        assert!(first.prev_id().is_none());
        for pair in lines.windows(2) {
            let a = spanforge_event::Event::from_json_str(&pair[0]).unwrap();
            let b = spanforge_event::Event::from_json_str(&pair[1]).unwrap();
            assert_eq!(b.prev_id(), Some(a.event_id()));
            assert_eq!(a.org_id(), tenant.org_id());
        }
    }

    // Appending more later continues the chains.
    t.ledger
        .ingest(&keys, lines("more.jsonl", &events(100, 5, Some("acme"))))
        .unwrap();
    let report = t.ledger.verify(&keys, &VerifyOptions::new()).unwrap();
    assert!(report.valid, "{report:#?}");
    assert_eq!(report.events, 80);
}

#[test]
fn an_invalid_line_refuses_the_whole_file_and_names_it() {
    let mut t = ledger();
    let keys = keys(&t.ledger);
    t.ledger
        .ingest(&keys, lines("first.jsonl", &events(0, 3, None)))
        .unwrap();
    let before = t.ledger.tenants().unwrap();

    // More than one chunk, with the bad line far into the second.
    let mut texts: Vec<String> = events(10, 5000, None)
        .iter()
        .map(|e| e.to_canonical_json())
        .collect();
    texts[4999] = texts[4999].replace("support-bot@3.0.0", "not a source");
    let err = t
        .ledger
        .ingest(&keys, text_lines("big.jsonl", &texts))
        .unwrap_err();
    assert_refused_at(&err, "big.jsonl:5000");
    assert!(err.to_string().contains("source"), "{err}");
    assert_eq!(count_rows(&t.path), 3);
    assert_eq!(t.ledger.tenants().unwrap(), before);

    // Through the JSONL reader: line numbers count blank lines too, and bad JSON is named.
    let text = format!(
        "{}\n\n{{not json\n",
        events(20, 1, None)[0].to_canonical_json()
    );
    let err = t
        .ledger
        .ingest(&keys, JsonlLines::new("x.jsonl", text.as_bytes()))
        .unwrap_err();
    assert_refused_at(&err, "x.jsonl:3");
    assert_eq!(count_rows(&t.path), 3);
}

#[test]
fn pre_signed_chains_are_verified_then_relinked_and_resigned() {
    let mut t = ledger();
    let keys = keys(&t.ledger);
    t.ledger
        .ingest(&keys, lines("ours.jsonl", &events(0, 5, None)))
        .unwrap();
    let signed = reference_chain(&events(100, 30, None), SECRET);
    let receipt = t.ledger.ingest(&keys, lines("ref.jsonl", &signed)).unwrap();
    assert_eq!(receipt.verified_presigned, 30);
    let exported: Vec<String> = t
        .ledger
        .export(&TenantId::Default, None, None)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(exported.len(), 35);
    // The first reference event is now linked to our head, not to nothing.
    let e5 = spanforge_event::Event::from_json_str(&exported[5]).unwrap();
    assert_eq!(e5.event_id(), signed[0].event_id());
    assert_eq!(
        e5.prev_id().map(ToString::to_string),
        Some(events(4, 1, None)[0].event_id().to_string())
    );
    assert!(t.ledger.verify(&keys, &VerifyOptions::new()).unwrap().valid);

    // A chain that continues one already ingested (its first prev_id names a stored event).
    let more = reference_chain(&events(200, 3, None), SECRET);
    let continued: Vec<_> = more
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let prev = if i == 0 {
                *signed[29].event_id()
            } else {
                *more[i - 1].event_id()
            };
            spanforge_chain::compat::sign(
                e.clone().without_integrity(),
                &HmacSecret::new(SECRET).unwrap(),
                Some(&prev),
            )
        })
        .collect();
    t.ledger
        .ingest(&keys, lines("cont.jsonl", &continued))
        .unwrap();
    assert!(t.ledger.verify(&keys, &VerifyOptions::new()).unwrap().valid);
}

fn assert_refused(
    t: &mut TestLedger,
    keys: &StaticKeys,
    chain: &[spanforge_event::Event],
    line: u64,
    what: &str,
) {
    let before_rows = count_rows(&t.path);
    let before = t.ledger.tenants().unwrap();
    let err = t.ledger.ingest(keys, lines("in.jsonl", chain)).unwrap_err();
    assert!(err.is_integrity_failure(), "{what}: {err}");
    assert_eq!(err.location().map(|l| l.line), Some(line), "{what}: {err}");
    assert!(err.to_string().contains("nothing was written"), "{err}");
    assert_eq!(count_rows(&t.path), before_rows, "{what}");
    assert_eq!(t.ledger.tenants().unwrap(), before, "{what}");
}

#[test]
fn tampered_pre_signed_input_is_refused_whole_with_the_line_named() {
    let mut t = ledger();
    let keys = keys(&t.ledger);
    t.ledger
        .ingest(&keys, lines("ours.jsonl", &events(0, 5, Some("acme"))))
        .unwrap();
    let chain = reference_chain(&events(100, 10, Some("acme")), SECRET);

    // A payload edit: the checksum no longer matches.
    let mut edited = chain.clone();
    let text = edited[3]
        .to_canonical_json()
        .replace(r#""n":103"#, r#""n":999"#);
    edited[3] = spanforge_event::Event::from_json_str(&text).unwrap();
    assert_refused(&mut t, &keys, &edited, 4, "payload edit");

    // An edit with a recomputed checksum: the signature no longer matches.
    let mut forged = chain.clone();
    let recomputed = forged[6].clone().without_integrity();
    let recomputed = spanforge_chain::compat::sign(
        recomputed,
        &HmacSecret::new("an-attacker-key-that-is-not-configured!!").unwrap(),
        chain[5].event_id().into(),
    );
    forged[6] = recomputed;
    assert_refused(&mut t, &keys, &forged, 7, "forged signature");

    // A deleted event: the next one does not link.
    let mut deleted = chain.clone();
    deleted.remove(2);
    assert_refused(&mut t, &keys, &deleted, 3, "deleted event");

    // Two events swapped.
    let mut swapped = chain.clone();
    swapped.swap(4, 5);
    assert_refused(&mut t, &keys, &swapped, 5, "swapped events");

    // A head cut off: the first event names a predecessor the ledger does not have.
    assert_refused(&mut t, &keys, &chain[1..], 1, "head cut");

    // Partially signed.
    let mut partial = chain.clone();
    partial[0] = partial[0]
        .clone()
        .without_integrity()
        .with_prev_id(Some(*chain[0].event_id()));
    assert_refused(&mut t, &keys, &partial, 1, "partially signed");

    // The intact chain is accepted.
    t.ledger.ingest(&keys, lines("in.jsonl", &chain)).unwrap();
    assert!(t.ledger.verify(&keys, &VerifyOptions::new()).unwrap().valid);
}

#[test]
fn duplicate_ids_are_refused_with_the_line_named() {
    let mut t = ledger();
    let keys = keys(&t.ledger);
    t.ledger
        .ingest(&keys, lines("a.jsonl", &events(0, 10, None)))
        .unwrap();

    // Already in the ledger (even for another tenant).
    let mut again = events(50, 5, Some("acme"));
    again.push(events(7, 1, None).remove(0));
    let err = t
        .ledger
        .ingest(&keys, lines("b.jsonl", &again))
        .unwrap_err();
    assert!(matches!(err, Error::DuplicateEventId { .. }), "{err}");
    assert_refused_at(&err, "b.jsonl:6");
    assert_eq!(count_rows(&t.path), 10);

    // Twice in the input.
    let mut twice = events(60, 5, None);
    twice.push(twice[1].clone());
    let err = t
        .ledger
        .ingest(&keys, lines("c.jsonl", &twice))
        .unwrap_err();
    assert_refused_at(&err, "c.jsonl:6");
    assert_eq!(count_rows(&t.path), 10);

    // Twice in the input, in different chunks of one transaction.
    let mut far = events(1000, 4200, None);
    far.push(far[0].clone());
    let err = t.ledger.ingest(&keys, lines("d.jsonl", &far)).unwrap_err();
    assert_refused_at(&err, "d.jsonl:4201");
    assert_eq!(count_rows(&t.path), 10);
}

#[test]
fn errors_across_pipelined_chunks_are_reported_in_input_order() {
    // Ingest reads and plans chunk k+1 while chunk k is sealed and chunk k-1 stored; whichever
    // finishes first, the error reported is the first in the input.
    let mut t = ledger();
    let keys = keys(&t.ledger);
    t.ledger
        .ingest(&keys, lines("first.jsonl", &events(0, 3, None)))
        .unwrap();
    let before = t.ledger.tenants().unwrap();
    let texts: Vec<String> = events(100, 3500, Some("acme"))
        .iter()
        .map(|e| e.to_canonical_json())
        .collect();

    // A duplicate of an event of the chunk being sealed, then an invalid line two chunks on.
    let mut dup_then_bad = texts.clone();
    dup_then_bad[1100] = texts[1000].clone();
    dup_then_bad[3200] = texts[3200].replace("support-bot@3.0.0", "not a source");
    // An invalid line first, then a duplicate of a stored event.
    let mut bad_then_dup = texts.clone();
    bad_then_dup[1500] = texts[1500].replace("support-bot@3.0.0", "not a source");
    bad_then_dup[2600] = events(1, 1, None)[0].to_canonical_json();
    // A duplicate of the first chunk's event in the third chunk.
    let mut dup_far = texts.clone();
    dup_far[2100] = texts[5].clone();

    for (name, input, line, duplicate) in [
        ("dup_then_bad.jsonl", &dup_then_bad, 1101, true),
        ("bad_then_dup.jsonl", &bad_then_dup, 1501, false),
        ("dup_far.jsonl", &dup_far, 2101, true),
    ] {
        for streaming in [false, true] {
            let err = if streaming {
                t.ledger
                    .ingest_streaming(&keys, text_lines(name, input), 100_000, &mut |_| Ok(()))
            } else {
                t.ledger.ingest(&keys, text_lines(name, input))
            }
            .unwrap_err();
            assert_eq!(
                err.location().map(ToString::to_string),
                Some(format!("{name}:{line}")),
                "{err}"
            );
            assert_eq!(
                matches!(err, Error::DuplicateEventId { .. }),
                duplicate,
                "{err}"
            );
            assert_eq!(count_rows(&t.path), 3);
            assert_eq!(t.ledger.tenants().unwrap(), before);
        }
    }

    // Streaming with small commits keeps the commits before the failing one.
    let mut acked = Vec::new();
    let err = t
        .ledger
        .ingest_streaming(&keys, text_lines("s.jsonl", &dup_far), 700, &mut |r| {
            acked.push(r.total);
            Ok(())
        })
        .unwrap_err();
    assert_refused_at(&err, "s.jsonl:2101");
    assert_eq!(acked, vec![700, 1400, 2100]);
    assert_eq!(count_rows(&t.path), 3 + 2100);
    let report = t.ledger.verify(&keys, &VerifyOptions::new()).unwrap();
    assert!(report.valid);
}

#[test]
fn weak_native_keys_are_refused_but_weak_input_keys_verify() {
    let mut t = ledger();
    let weak = HmacKey::new(
        KeyId::new("weak").unwrap(),
        HmacSecret::new("short-secret").unwrap(),
    );
    let keys = StaticKeys::new().with_default_key(weak);
    let err = t
        .ledger
        .ingest(&keys, lines("a.jsonl", &events(0, 1, None)))
        .unwrap_err();
    assert!(
        matches!(err, Error::WeakSigningKey { len: 12, .. }),
        "{err}"
    );
    assert_eq!(count_rows(&t.path), 0);

    // A reference chain signed with a weak key verifies (with the weak key configured for
    // verification only) and is re-signed with the strong native key.
    let keys = StaticKeys::new().with_default_key(key()).with_retired_key(
        None,
        HmacKey::derived(HmacSecret::new("short-secret").unwrap()),
    );
    let chain = reference_chain(&events(0, 4, None), "short-secret");
    let receipt = t.ledger.ingest(&keys, lines("ref.jsonl", &chain)).unwrap();
    assert_eq!(receipt.verified_presigned, 4);
    assert_eq!(receipt.warnings.len(), 1, "{:?}", receipt.warnings);
    assert!(receipt.warnings[0].contains("shorter than 32 bytes"));
    assert!(t.ledger.verify(&keys, &VerifyOptions::new()).unwrap().valid);
}

#[test]
fn a_different_configured_key_is_refused() {
    let mut t = ledger();
    t.ledger
        .ingest(&keys(&t.ledger), lines("a.jsonl", &events(0, 3, None)))
        .unwrap();
    let other = StaticKeys::new().with_default_key(key_b());
    let err = t
        .ledger
        .ingest(&other, lines("b.jsonl", &events(3, 1, None)))
        .unwrap_err();
    assert!(matches!(err, Error::KeyMismatch { .. }), "{err}");
    // Same id, different secret.
    let impostor = StaticKeys::new().with_default_key(HmacKey::new(
        KeyId::new("k1").unwrap(),
        HmacSecret::new(SECRET_B).unwrap(),
    ));
    let err = t
        .ledger
        .ingest(&impostor, lines("b.jsonl", &events(3, 1, None)))
        .unwrap_err();
    assert!(err.to_string().contains("different secret"), "{err}");
    let none = StaticKeys::new();
    let err = t
        .ledger
        .ingest(&none, lines("b.jsonl", &events(3, 1, Some("new"))))
        .unwrap_err();
    assert!(matches!(err, Error::MissingSigningKey { .. }), "{err}");
    assert_eq!(count_rows(&t.path), 3);
}

#[test]
fn environment_keys_follow_the_reference_convention() {
    let mut t = ledger();
    let keys = StaticKeys::from_env(|name| match name {
        "SPANFORGE_SIGNING_KEY" => Some(SECRET.to_owned()),
        "SPANFORGE_KEY_ACME_EU" => Some(SECRET_B.to_owned()),
        _ => None,
    })
    .unwrap();
    let mut all = events(0, 3, Some("acme-eu"));
    all.extend(events(3, 3, Some("globex")));
    t.ledger.ingest(&keys, lines("a.jsonl", &all)).unwrap();
    let listed = t.ledger.keys(None).unwrap();
    let acme = listed.iter().find(|k| k.tenant == org("acme-eu")).unwrap();
    let globex = listed.iter().find(|k| k.tenant == org("globex")).unwrap();
    assert_eq!(
        &acme.record.key_id,
        keys.signing_key(&org("acme-eu")).unwrap().unwrap().id()
    );
    assert_ne!(acme.record.key_id, globex.record.key_id);
    // The key table never holds a secret or its plain fingerprint.
    let dump: String = rusqlite::Connection::open(&t.path)
        .unwrap()
        .query_row(
            "SELECT group_concat(key_id || key_check) FROM keys",
            [],
            |r| r.get(0),
        )
        .unwrap();
    for secret in [SECRET, SECRET_B] {
        assert!(!dump.contains(secret));
        assert!(!dump.contains(&HmacSecret::new(secret).unwrap().fingerprint()));
    }
    assert!(t.ledger.verify(&keys, &VerifyOptions::new()).unwrap().valid);
}

#[test]
fn streaming_ingest_commits_per_batch_and_keeps_earlier_batches_on_error() {
    let mut t = ledger();
    let keys = keys(&t.ledger);
    let mut texts: Vec<String> = events(0, 25, None)
        .iter()
        .map(|e| e.to_canonical_json())
        .collect();
    texts[22] = "{\"broken\":".to_owned();
    let mut acks = Vec::new();
    let err = t
        .ledger
        .ingest_streaming(&keys, text_lines("-", &texts), 10, &mut |b| {
            acks.push((b.events, b.total, b.last_event_id.clone()));
            Ok(())
        })
        .unwrap_err();
    assert_eq!(err.location().map(|l| l.line), Some(23));
    assert_eq!(acks.len(), 2);
    assert_eq!(acks[1].1, 20);
    assert_eq!(
        acks[1].2.as_deref(),
        Some(events(19, 1, None)[0].event_id().as_str())
    );
    assert_eq!(count_rows(&t.path), 20);
    assert!(t.ledger.verify(&keys, &VerifyOptions::new()).unwrap().valid);
}

#[test]
fn append_batch_is_one_durable_transaction() {
    let mut t = ledger();
    let keys = keys(&t.ledger);
    let receipt = t
        .ledger
        .append_batch(&keys, events(0, 100, Some("acme")))
        .unwrap();
    assert_eq!(receipt.events, 100);
    let mut bad = events(100, 10, Some("acme"));
    bad.push(events(5, 1, Some("acme")).remove(0));
    let err = t.ledger.append_batch(&keys, bad).unwrap_err();
    assert_refused_at(&err, "batch:11");
    // A second connection sees exactly the committed batch.
    assert_eq!(count_rows(&t.path), 100);
}

#[test]
fn an_event_too_large_once_signed_is_named_by_its_position_and_nothing_is_written() {
    let mut t = ledger();
    let keys = keys(&t.ledger);
    t.ledger
        .append_batch(&keys, events(0, 10, Some("acme")))
        .unwrap();
    // Just under the size limit unsigned; the integrity members push it over.
    let oversized = |n: u64| {
        let text = event_json(
            n,
            Some("acme"),
            T0 + n as i64 * 1_000_000,
            "llm.trace.span.completed",
            "gpt-4o",
        );
        let pad = spanforge_event::MAX_EVENT_BYTES - 100 - text.len() - r#""a_pad":"","#.len();
        let text = text.replacen(
            r#""duration_ms""#,
            &format!(r#""a_pad":"{}","duration_ms""#, "x".repeat(pad)),
            1,
        );
        spanforge_event::Event::from_json_str(&text).unwrap()
    };
    // Two of them, both past the first chunk: the first in input order is the one named.
    let mut batch = events(10, 600, Some("acme"));
    batch[299] = oversized(5000);
    batch[309] = oversized(5001);
    let err = t.ledger.append_batch(&keys, batch).unwrap_err();
    assert_refused_at(&err, "batch:300");
    assert!(err.to_string().contains("once signed"), "{err}");
    assert_eq!(count_rows(&t.path), 10);
    assert!(t.ledger.verify(&keys, &VerifyOptions::new()).unwrap().valid);
}

#[test]
fn a_signed_chain_may_continue_from_an_event_earlier_in_the_same_input() {
    // The first chunk (4096 lines) is still being stored while the second is planned: the
    // signed event on line 4097 names the unsigned event on line 4096 as its predecessor.
    let mut t = ledger();
    let keys = keys(&t.ledger);
    let unsigned = events(0, 4096, None);
    let last = *unsigned[4095].event_id();
    let key = HmacSecret::new(SECRET).unwrap();
    let mut signed: Vec<spanforge_event::Event> = Vec::new();
    for e in events(5000, 3, None) {
        let prev = signed.last().map_or(last, |p| *p.event_id());
        signed.push(spanforge_chain::compat::sign(e, &key, Some(&prev)));
    }
    let mut all = unsigned;
    all.extend(signed);
    let receipt = t.ledger.ingest(&keys, lines("mixed.jsonl", &all)).unwrap();
    assert_eq!(receipt.verified_presigned, 3);
    assert_eq!(receipt.events, 4099);
    assert!(t.ledger.verify(&keys, &VerifyOptions::new()).unwrap().valid);
}

#[test]
fn verification_while_another_connection_appends_reads_one_snapshot() {
    // Verification reads rows on several connections; each must stop where the verifying
    // snapshot ends, or rows committed meanwhile would read as stored beyond the head.
    let mut t = ledger();
    let k = keys(&t.ledger);
    t.ledger
        .append_batch(&k, events(0, 3000, Some("acme")))
        .unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (reports, written) = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut other = spanforge_store::SqliteLedger::open(&t.path)?;
            let k = keys(&other);
            let mut n = 3000;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                other.append_batch(&k, events(n, 300, Some("acme")))?;
                n += 300;
            }
            Ok::<_, spanforge_store::Error>(n)
        });
        // Nothing here may panic before the writer is told to stop, or the scope would wait
        // for it forever.
        let reports: Vec<_> = (0..5)
            .map(|_| t.ledger.verify(&k, &VerifyOptions::new()))
            .collect();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        (reports, writer.join())
    });
    let written = written.unwrap().unwrap();
    assert!(written > 3000);
    let mut seen = Vec::new();
    for report in reports {
        let report = report.unwrap();
        assert!(report.valid, "{report:?}");
        let tenant = &report.tenants[0];
        assert_eq!(tenant.events, tenant.size, "{tenant:?}");
        seen.push(tenant.events);
    }
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    let report = t.ledger.verify(&k, &VerifyOptions::new()).unwrap();
    assert!(report.valid, "{report:?}");
}
