//! Checkpoints kept outside the database, and proofs for auditors.

use spanforge_chain::note::{NoteSigner, NoteVerifier};
use spanforge_store::{
    CheckpointStatus, Error, ExportCheck, ExportReport, KeyProvider, StaticKeys, TenantId,
    VerifyOptions, format_checkpoints, split_checkpoints, verify_event_proof,
};

use crate::common::*;

#[test]
fn truncation_passes_internally_but_fails_against_a_saved_checkpoint() {
    let mut t = ledger();
    let keys = keys(&t.ledger);
    let evs = events(0, 20, Some("acme"));
    t.ledger.ingest(&keys, lines("in.jsonl", &evs)).unwrap();
    let saved = t
        .ledger
        .checkpoint(&keys, &org("acme"))
        .unwrap()
        .to_string();
    assert!(
        saved.starts_with(&format!(
            "spanforge/{}/org/acme\n20\n",
            t.ledger.ledger_id()
        )),
        "{saved}"
    );

    // The attacker cuts the last five events and rewinds the head and the stored checkpoints.
    let conn = attacker(&t.path);
    conn.execute("DELETE FROM events WHERE ts > ?1", [T0 + 14_000_000])
        .unwrap();
    conn.execute("DELETE FROM checkpoints", []).unwrap();
    rebuild_tree(&conn, Some("acme"));
    let internal = t.ledger.verify(&keys, &VerifyOptions::new()).unwrap();
    assert!(
        internal.valid,
        "a consistent truncation cannot be seen from inside: {internal:#?}"
    );
    assert_eq!(internal.events, 15);

    let report = t
        .ledger
        .verify(
            &keys,
            &VerifyOptions::new().with_checkpoint_file(&saved).unwrap(),
        )
        .unwrap();
    assert!(!report.valid);
    assert_eq!(report.checkpoints[0].status, CheckpointStatus::Truncated);
    assert!(
        report.checkpoints[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("20"),
        "{report:#?}"
    );

    // Deleting the whole tenant is truncation too.
    conn.execute("DELETE FROM events", []).unwrap();
    conn.execute("DELETE FROM keys", []).unwrap();
    conn.execute("DELETE FROM tenants", []).unwrap();
    let report = t
        .ledger
        .verify(
            &keys,
            &VerifyOptions::new().with_checkpoint_file(&saved).unwrap(),
        )
        .unwrap();
    assert!(!report.valid);
    assert_eq!(report.checkpoints[0].status, CheckpointStatus::Truncated);
}

#[test]
fn truncation_with_the_stored_checkpoints_left_in_place_is_detected_without_a_file() {
    let mut t = ledger();
    let keys = keys(&t.ledger);
    t.ledger
        .ingest(&keys, lines("in.jsonl", &events(0, 9, None)))
        .unwrap();
    t.ledger.checkpoint(&keys, &TenantId::Default).unwrap();
    let conn = attacker(&t.path);
    conn.execute("DELETE FROM events WHERE ts > ?1", [T0 + 5_000_000])
        .unwrap();
    rebuild_tree(&conn, None);
    let report = t.ledger.verify(&keys, &VerifyOptions::new()).unwrap();
    assert!(!report.valid);
    assert!(
        report.tenants[0]
            .problems
            .iter()
            .any(|p| p.contains("truncated")),
        "{report:#?}"
    );
}

#[test]
fn growth_after_a_checkpoint_is_consistent_and_a_fork_is_not() {
    let mut t = ledger();
    let keys = keys(&t.ledger);
    t.ledger
        .ingest(&keys, lines("a.jsonl", &events(0, 13, Some("acme"))))
        .unwrap();
    t.ledger
        .ingest(&keys, lines("b.jsonl", &events(13, 4, None)))
        .unwrap();
    let old = t.ledger.checkpoint_all(&keys).unwrap();
    assert_eq!(old.len(), 2);
    let file = format_checkpoints(&old);
    assert_eq!(split_checkpoints(&file).unwrap().len(), 2);
    t.ledger
        .ingest(&keys, lines("c.jsonl", &events(100, 30, Some("acme"))))
        .unwrap();
    let report = t
        .ledger
        .verify(
            &keys,
            &VerifyOptions::new().with_checkpoint_file(&file).unwrap(),
        )
        .unwrap();
    assert!(report.valid, "{report:#?}");
    assert!(
        report
            .checkpoints
            .iter()
            .all(|c| c.status == CheckpointStatus::Consistent)
    );

    // A rewrite of an early event outside the HMAC, with the tree rebuilt, forks history.
    let conn = attacker(&t.path);
    conn.execute("DELETE FROM checkpoints", []).unwrap();
    let id = events(2, 1, Some("acme"))[0].event_id().to_string();
    let edited = envelope_of(&conn, &id).replacen(r#""env":"prod""#, r#""env":"dev""#, 1);
    conn.execute(
        "UPDATE events SET envelope = ?1 WHERE event_id = ?2",
        rusqlite::params![edited.as_bytes(), id],
    )
    .unwrap();
    rebuild_tree(&conn, Some("acme"));
    assert!(
        t.ledger.verify(&keys, &VerifyOptions::new()).unwrap().valid,
        "invisible from inside"
    );
    let report = t
        .ledger
        .verify(
            &keys,
            &VerifyOptions::new().with_checkpoint_file(&file).unwrap(),
        )
        .unwrap();
    assert!(!report.valid);
    let acme = report
        .checkpoints
        .iter()
        .find(|c| c.tenant == Some(org("acme")))
        .unwrap();
    assert_eq!(acme.status, CheckpointStatus::Forked, "{report:#?}");
    let default = report
        .checkpoints
        .iter()
        .find(|c| c.tenant == Some(TenantId::Default))
        .unwrap();
    assert_eq!(default.status, CheckpointStatus::Consistent);

    // And the ledger refuses to sign a checkpoint that contradicts one it signed before.
    let mut t2 = ledger();
    t2.ledger
        .ingest(&keys2(&t2), lines("a.jsonl", &events(0, 6, None)))
        .unwrap();
    t2.ledger
        .checkpoint(&keys2(&t2), &TenantId::Default)
        .unwrap();
    let conn = attacker(&t2.path);
    let id = events(1, 1, None)[0].event_id().to_string();
    let edited = envelope_of(&conn, &id).replacen("support-bot@3.0.0", "support-bot@3.0.9", 1);
    conn.execute(
        "UPDATE events SET envelope = ?1 WHERE event_id = ?2",
        rusqlite::params![edited.as_bytes(), id],
    )
    .unwrap();
    rebuild_tree(&conn, None);
    t2.ledger
        .ingest(&keys2(&t2), lines("b.jsonl", &events(6, 3, None)))
        .unwrap();
    let err = t2
        .ledger
        .checkpoint(&keys2(&t2), &TenantId::Default)
        .unwrap_err();
    assert!(matches!(err, Error::TreeState { .. }), "{err}");
    assert!(err.to_string().contains("refusing to sign"), "{err}");
}

fn keys2(t: &TestLedger) -> StaticKeys {
    keys(&t.ledger)
}

#[test]
fn checkpoints_of_other_ledgers_or_keys_are_not_trusted() {
    let mut a = ledger();
    let mut b = ledger();
    let keys_a = keys(&a.ledger);
    a.ledger
        .ingest(&keys_a, lines("a.jsonl", &events(0, 3, None)))
        .unwrap();
    b.ledger
        .ingest(&keys(&b.ledger), lines("a.jsonl", &events(0, 3, None)))
        .unwrap();

    // Signed by a key we trust, but for another ledger.
    let foreign = StaticKeys::new()
        .with_default_key(key())
        .with_checkpoint_signer(log_signer(&a.ledger));
    let other_ledger_cp = b
        .ledger
        .checkpoint(&foreign, &TenantId::Default)
        .unwrap()
        .to_string();
    let report = a
        .ledger
        .verify(
            &keys_a,
            &VerifyOptions::new()
                .with_checkpoint_file(&other_ledger_cp)
                .unwrap(),
        )
        .unwrap();
    assert_eq!(report.checkpoints[0].status, CheckpointStatus::OtherLedger);
    assert!(!report.valid);

    // Our origin, but signed by a key we do not trust.
    let rogue = StaticKeys::new()
        .with_default_key(key())
        .with_checkpoint_signer(NoteSigner::from_seed(&a.ledger.log_key_name(), &[9; 32]).unwrap());
    let mut c = ledger();
    c.ledger
        .ingest(&rogue, lines("a.jsonl", &events(0, 3, None)))
        .unwrap();
    let forged = c
        .ledger
        .checkpoint(&rogue, &TenantId::Default)
        .unwrap()
        .to_string();
    let report = a
        .ledger
        .verify(
            &keys_a,
            &VerifyOptions::new().with_checkpoint_file(&forged).unwrap(),
        )
        .unwrap();
    assert_eq!(report.checkpoints[0].status, CheckpointStatus::BadSignature);
    assert!(!report.valid);

    assert!(VerifyOptions::new().with_checkpoint_file("").is_err());
    assert!(
        VerifyOptions::new()
            .with_checkpoint_file("origin\n1\nAAAA\n")
            .is_err()
    );
}

#[test]
fn an_event_is_proven_to_an_auditor_with_only_the_public_key() {
    let mut t = ledger();
    let keys = keys(&t.ledger);
    t.ledger
        .ingest(&keys, lines("a.jsonl", &events(0, 37, Some("acme"))))
        .unwrap();
    let target = events(21, 1, Some("acme"))[0].event_id().to_string();
    let proof = t.ledger.prove(&keys, &target).unwrap();
    assert_eq!(proof.index, 21);
    let text = proof.to_text();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "), "{text}");
    let public = log_signer(&t.ledger).verifier();
    let verified = verify_event_proof(text.as_bytes(), &public, None).unwrap();
    assert_eq!(verified.event.event_id().as_str(), target);
    assert_eq!(verified.tenant, Some(org("acme")));
    assert_eq!(verified.checkpoint.size(), 37);

    // The auditor's own copy of the line must be the proven one.
    let line = t.ledger.get(&target).unwrap().unwrap().envelope;
    verify_event_proof(text.as_bytes(), &public, Some(line.as_bytes())).unwrap();
    let other = t
        .ledger
        .get(events(22, 1, Some("acme"))[0].event_id().as_str())
        .unwrap()
        .unwrap()
        .envelope;
    assert!(verify_event_proof(text.as_bytes(), &public, Some(other.as_bytes())).is_err());

    // A later event is proven against a newer checkpoint, signed on demand; older proofs stay valid.
    t.ledger
        .ingest(&keys, lines("b.jsonl", &events(100, 5, Some("acme"))))
        .unwrap();
    let late = events(102, 1, Some("acme"))[0].event_id().to_string();
    let late_proof = t.ledger.prove(&keys, &late).unwrap();
    assert_eq!(
        verify_event_proof(late_proof.to_text().as_bytes(), &public, None)
            .unwrap()
            .checkpoint
            .size(),
        42
    );
    let reproven = t.ledger.prove(&keys, &target).unwrap();
    assert_eq!(
        verify_event_proof(reproven.to_text().as_bytes(), &public, None)
            .unwrap()
            .checkpoint
            .size(),
        42
    );
    assert_eq!(
        verify_event_proof(text.as_bytes(), &public, None)
            .unwrap()
            .checkpoint
            .size(),
        37
    );

    // Tampered bundles and the wrong key fail.
    let wrong = NoteSigner::from_seed(&t.ledger.log_key_name(), &[1; 32])
        .unwrap()
        .verifier();
    assert!(verify_event_proof(text.as_bytes(), &wrong, None).is_err());
    let mut lines_: Vec<String> = text.lines().map(str::to_owned).collect();
    lines_.swap(3, 4);
    let reordered = lines_.join("\n") + "\n";
    assert!(verify_event_proof(reordered.as_bytes(), &public, None).is_err());
    assert!(matches!(
        t.ledger.prove(&keys, "01KE1MSH48NF6G0000000000ZZ"),
        Err(Error::EventNotFound { .. })
    ));
}

/// An export checked against signed checkpoint notes with the public key.
/// Each line's tenant is the one its event names; edited lines that no longer parse keep the
/// tenant of the event they were made from (the check itself reads only bytes).
fn check_export(lines: &[String], notes: &str, verifiers: &[NoteVerifier]) -> ExportReport {
    let mut check = ExportCheck::new(&split_checkpoints(notes).unwrap(), verifiers);
    for line in lines {
        let tenant = match spanforge_event::Event::from_json_str(line) {
            Ok(event) => TenantId::of_event(&event),
            Err(_) => org("acme"),
        };
        check.push(line.as_bytes(), &tenant);
    }
    check.finish(true)
}

/// `line` with the value of its top-level member `field` changed by one character: the first
/// ASCII letter or digit of the value (inside a string, a number or a nested key) moves on by
/// one, so the line stays JSON.
fn edit_member(line: &str, field: &str) -> String {
    let at = line
        .find(&format!("\"{field}\":"))
        .unwrap_or_else(|| panic!("{field} not in {line}"))
        + field.len()
        + 3;
    let mut bytes = line.as_bytes().to_vec();
    let i = (at..bytes.len())
        .find(|&i| bytes[i].is_ascii_alphanumeric())
        .unwrap();
    bytes[i] = match bytes[i] {
        b'9' => b'0',
        b'z' => b'a',
        b'Z' => b'A',
        b => b + 1,
    };
    String::from_utf8(bytes).unwrap()
}

#[test]
fn an_export_checked_against_a_saved_checkpoint_catches_any_edited_field_and_a_cut_end() {
    let mut t = ledger();
    let keys = keys(&t.ledger);
    let verifiers = keys.checkpoint_verifiers();
    t.ledger
        .ingest(&keys, lines("in.jsonl", &events(0, 6, Some("acme"))))
        .unwrap();
    let saved = t
        .ledger
        .checkpoint(&keys, &org("acme"))
        .unwrap()
        .to_string();
    let export = export_lines(&t.ledger, &org("acme"));
    assert_eq!(export.len(), 6);
    let mut plain = t.ledger.export(&org("acme"), None, None).unwrap();
    assert_eq!((plain.by_ref().count(), plain.decrypted()), (6, 0));

    let intact = check_export(&export, &saved, &verifiers);
    assert!(intact.valid, "{intact:#?}");
    assert_eq!(intact.checkpoints[0].status, CheckpointStatus::Consistent);
    assert_eq!((intact.events, intact.covered()), (6, 6));

    // Every member of every event, the ones the compatible signature leaves out included.
    for (i, line) in export.iter().enumerate() {
        let members: Vec<String> =
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line)
                .unwrap()
                .keys()
                .cloned()
                .collect();
        assert!(members.len() >= 12, "{line}");
        for field in &members {
            let mut edited = export.clone();
            edited[i] = edit_member(line, field);
            assert_ne!(edited[i], *line);
            let report = check_export(&edited, &saved, &verifiers);
            assert!(!report.valid, "event {i}, {field}");
            if i == 0 && field == "org_id" {
                // The export now starts with another tenant's event: the checkpoint is not
                // compared, and the second line is named as belonging to another tenant.
                assert!(report.problems[0].contains("line 2"), "{report:#?}");
            } else {
                assert_eq!(
                    report.checkpoints[0].status,
                    CheckpointStatus::Forked,
                    "event {i}, {field}"
                );
            }
        }
    }

    // Events cut off the end, and two events swapped.
    for keep in 1..export.len() {
        let report = check_export(&export[..keep], &saved, &verifiers);
        assert!(!report.valid);
        assert_eq!(report.checkpoints[0].status, CheckpointStatus::Truncated);
    }
    let mut swapped = export.clone();
    swapped.swap(2, 3);
    assert_eq!(
        check_export(&swapped, &saved, &verifiers).checkpoints[0].status,
        CheckpointStatus::Forked
    );

    // Events appended after the checkpoint extend it; the checkpoint covers the first six.
    t.ledger
        .ingest(&keys, lines("more.jsonl", &events(6, 3, Some("acme"))))
        .unwrap();
    let longer = export_lines(&t.ledger, &org("acme"));
    let report = check_export(&longer, &saved, &verifiers);
    assert!(report.valid, "{report:#?}");
    assert_eq!((report.events, report.covered()), (9, 6));
    // Without the signatures checked, the three events no checkpoint covers are not verified.
    let mut unsigned = ExportCheck::new(&split_checkpoints(&saved).unwrap(), &verifiers);
    for line in &longer {
        unsigned.push(line.as_bytes(), &org("acme"));
    }
    let report = unsigned.finish(false);
    assert!(!report.valid);
    assert!(
        report.problems[0].starts_with("3 events after the first 6"),
        "{report:#?}"
    );
    assert_eq!(report.checkpoints[0].status, CheckpointStatus::Consistent);
}

#[test]
fn an_export_is_not_trusted_to_a_checkpoint_of_another_tenant_or_key() {
    let mut t = ledger();
    let keys = keys(&t.ledger);
    let mut evs = events(0, 4, Some("acme"));
    evs.extend(events(4, 2, Some("globex")));
    t.ledger.ingest(&keys, lines("in.jsonl", &evs)).unwrap();
    let globex = t
        .ledger
        .checkpoint(&keys, &org("globex"))
        .unwrap()
        .to_string();
    let both = format_checkpoints(&t.ledger.checkpoint_all(&keys).unwrap());
    let export = export_lines(&t.ledger, &org("acme"));

    // Only another tenant's checkpoint: nothing covers the export.
    let report = check_export(&export, &globex, &keys.checkpoint_verifiers());
    assert!(!report.valid);
    assert_eq!(report.checkpoints[0].status, CheckpointStatus::NotChecked);
    assert!(report.problems[0].contains("acme"), "{report:#?}");

    // Both tenants' checkpoints: the export's is compared, the other left unchecked.
    let report = check_export(&export, &both, &keys.checkpoint_verifiers());
    assert!(report.valid, "{report:#?}");
    let statuses: Vec<CheckpointStatus> = report.checkpoints.iter().map(|c| c.status).collect();
    assert!(statuses.contains(&CheckpointStatus::Consistent));
    assert!(statuses.contains(&CheckpointStatus::NotChecked));

    // Another key's public key: the signature does not verify, and nothing is trusted.
    let stranger = NoteSigner::from_seed(&t.ledger.log_key_name(), &[5; 32])
        .unwrap()
        .verifier();
    let report = check_export(&export, &both, &[stranger]);
    assert!(!report.valid);
    assert!(
        report
            .checkpoints
            .iter()
            .all(|c| c.status == CheckpointStatus::BadSignature)
    );

    // Events of two tenants in one file are named.
    let mut mixed = export.clone();
    mixed.extend(export_lines(&t.ledger, &org("globex")));
    let report = check_export(&mixed, &both, &keys.checkpoint_verifiers());
    assert!(!report.valid);
    assert!(report.problems[0].contains("line 5"), "{report:#?}");
}
