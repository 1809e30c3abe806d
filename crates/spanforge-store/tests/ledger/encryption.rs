//! Payload encryption at rest, crypto-shredding erasure and key-encryption-key rotation, against
//! real SQLite files and a real local KMS keyring.

use std::path::Path;
use std::sync::Arc;

use spanforge_chain::compat::{self, EventCheck, HmacSecret};
use spanforge_crypto::LocalKms;
use spanforge_event::{Event, Timestamp, UlidGenerator};
use spanforge_store::{
    BlockingKms, Error, EventPage, PayloadState, Query, SqliteLedger, TenantId, VerifyOptions,
};

use crate::common::{SECRET, T0, attacker, event_id, keys, text_lines};

/// The data-key service the CLI uses, over the local KMS's `payload` key.
fn service(kms: Arc<LocalKms>) -> Arc<BlockingKms> {
    let kek = kms.primary("payload").unwrap();
    Arc::new(BlockingKms::new(kms, kek).unwrap())
}

struct Setup {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    kms: Arc<LocalKms>,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let kms = Arc::new(LocalKms::create(dir.path().join("kms.keyring"), "payload").unwrap());
    Setup {
        _dir: dir,
        path,
        kms,
    }
}

impl Setup {
    fn open(&self) -> SqliteLedger {
        SqliteLedger::open(&self.path)
            .unwrap()
            .with_data_keys(service(self.kms.clone()))
    }
}

/// Event `n`: actor `user-{n % 4}`, session `sess-{n % 3}`, a payload with a prompt that is
/// unique to the event and names the actor, and `subject_id` on every fifth event.
fn event_text(n: u64, org: &str) -> String {
    let ts = T0 + n as i64 * 1_000_000;
    let subject = if n.is_multiple_of(5) {
        format!(r#","subject_id":"patient-{}""#, n % 2)
    } else {
        String::new()
    };
    format!(
        concat!(
            r#"{{"actor_id":"user-{a}","event_id":"{id}","event_type":"llm.trace.span.completed","org_id":"{org}","#,
            r#""payload":{{"model":{{"name":"gpt-4o","system":"openai"}},"prompt":"SECRET-PROMPT-{n:04}-of-user-{a}","#,
            r#""span_name":"chat","status":"ok"{subject}}},"schema_version":"2.0","session_id":"sess-{s}","#,
            r#""source":"support-bot@3.0.0","timestamp":"{ts}"}}"#
        ),
        a = n % 4,
        id = event_id(n, ts),
        org = org,
        n = n,
        subject = subject,
        s = n % 3,
        ts = Timestamp::from_unix_micros(ts).unwrap().as_str(),
    )
}

fn texts(range: std::ops::Range<u64>, org: &str) -> Vec<String> {
    range.map(|n| event_text(n, org)).collect()
}

/// Every byte of the database and its WAL.
fn db_bytes(path: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    let wal = path.with_extension("db-wal");
    if let Ok(w) = std::fs::read(wal) {
        bytes.extend_from_slice(&w);
    }
    bytes
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn export_all(ledger: &SqliteLedger, org: &str) -> Vec<String> {
    crate::common::export_lines(ledger, &TenantId::org(org).unwrap())
}

#[test]
fn encrypted_payloads_are_unreadable_on_disk_and_round_trip_through_reads_and_exports() {
    let s = setup();
    let mut ledger = s.open();
    ledger.encrypt_payloads();
    let k = keys(&ledger);
    let input = texts(0..40, "acme");
    ledger.ingest(&k, text_lines("enc.jsonl", &input)).unwrap();
    assert!(ledger.is_encrypted().unwrap());

    // On disk: no prompt, no actor-bound payload text, no payload field name even.
    let disk = db_bytes(&s.path);
    for n in 0..40 {
        assert!(!contains(&disk, format!("SECRET-PROMPT-{n:04}").as_bytes()));
    }
    assert!(!contains(&disk, b"span_name"));
    assert!(!contains(&disk, b"patient-"));

    // The export decrypts: each line is the signed plaintext event, which the reference's
    // check accepts, with exactly the payload that went in.
    let lines = export_all(&ledger, "acme");
    assert_eq!(lines.len(), 40);
    let secret = HmacSecret::new(SECRET).unwrap();
    for (line, original) in lines.iter().zip(&input) {
        let exported = Event::from_json_str(line).unwrap();
        let original = Event::from_json_str(original).unwrap();
        assert_eq!(exported.payload(), original.payload());
        assert_eq!(compat::check_event(&exported, &secret), EventCheck::Valid);
    }
    let ring = compat::Keyring::new(secret.clone());
    let mut chain = compat::ChainVerifier::new(&ring, Some("acme"));
    for line in &lines {
        assert_eq!(
            chain.push(&Event::from_json_str(line).unwrap()),
            EventCheck::Valid
        );
    }
    let report = chain.finish();
    assert!(report.valid, "{report:?}");

    // Queries decrypt too.
    let found: Vec<_> = ledger
        .query(&Query::tenant(TenantId::org("acme").unwrap()))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(found.iter().all(|e| e.payload == PayloadState::Decrypted));
    assert!(found[7].event().unwrap().payload_field("prompt").is_some());
    // So do paged reads, to the same bytes.
    let mut pages = ledger
        .query_pages(&Query::tenant(TenantId::org("acme").unwrap()))
        .unwrap();
    let mut page = EventPage::new();
    while pages.next_into(&mut page).unwrap() > 0 {}
    assert_eq!(page.len(), found.len());
    for (paged, stored) in page.iter().zip(&found) {
        assert_eq!(paged.envelope, stored.envelope);
        assert_eq!(paged.payload, PayloadState::Decrypted);
        assert_eq!(paged.seq, stored.seq);
    }

    // Verification needs no KMS: a ledger opened without one verifies.
    let plain = SqliteLedger::open(&s.path).unwrap();
    let report = plain.verify(&k, &VerifyOptions::new()).unwrap();
    assert!(report.valid, "{report:#?}");
    assert_eq!(report.tenants[0].encrypted_count, 40);
    assert_eq!(report.tenants[0].erased_count, 0);
    // ...but reading payloads without it is refused, not answered with ciphertext.
    let err = plain
        .export(&TenantId::org("acme").unwrap(), None, None)
        .unwrap()
        .next()
        .unwrap();
    assert!(matches!(err, Err(Error::Encryption { .. })), "{err:?}");
    // And writing to an encrypted ledger without the KMS is refused, leaving it unchanged.
    let mut plain = plain;
    let err = plain
        .ingest(&k, text_lines("more.jsonl", &texts(40..41, "acme")))
        .unwrap_err();
    assert!(matches!(err, Error::Encryption { .. }), "{err}");
    assert_eq!(plain.tenants().unwrap()[0].size, 40);
}

#[test]
fn one_data_key_per_subject_scope_is_reused_across_batches() {
    let s = setup();
    let mut ledger = s.open();
    ledger.encrypt_payloads();
    let k = keys(&ledger);
    // Scopes repeat every 60 events (actor n%4, session n%3, payload subject on n%5 == 0).
    ledger
        .ingest(&k, text_lines("a", &texts(0..60, "acme")))
        .unwrap();
    let count = |path: &Path| -> i64 {
        rusqlite::Connection::open(path)
            .unwrap()
            .query_row("SELECT count(*) FROM data_keys", [], |r| r.get(0))
            .unwrap()
    };
    let first = count(&s.path);
    // actor (4) x session (3) combinations that occur, plus subject-bearing scopes.
    assert!(first >= 12, "{first}");
    // The same scopes again: no new keys; a new ledger handle unwraps the stored ones.
    let mut again = s.open();
    again
        .ingest(&k, text_lines("b", &texts(60..120, "acme")))
        .unwrap();
    assert_eq!(count(&s.path), first);
    // No subject id is stored in the key table, only keyed hashes.
    let conn = rusqlite::Connection::open(&s.path).unwrap();
    let hashes: Vec<(Option<String>, Option<String>, Option<String>)> = conn
        .prepare("SELECT actor_hash, session_hash, subject_hash FROM data_keys")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (a, sess, subj) in hashes {
        for h in [a, sess].into_iter().flatten().chain(subj) {
            assert_eq!(h.len(), 64);
            assert!(h.bytes().all(|b| b.is_ascii_hexdigit()), "{h}");
        }
    }
}

#[test]
fn erasure_shreds_a_subject_everywhere_and_the_ledger_still_verifies() {
    let s = setup();
    let mut ledger = s.open();
    ledger.encrypt_payloads();
    let k = keys(&ledger);
    ledger
        .ingest(&k, text_lines("a", &texts(0..40, "acme")))
        .unwrap();
    ledger
        .ingest(&k, text_lines("b", &texts(100..120, "globex")))
        .unwrap();
    let wrapped_before: Vec<Vec<u8>> = {
        let conn = rusqlite::Connection::open(&s.path).unwrap();
        let mut stmt = conn
            .prepare("SELECT wrapped FROM data_keys WHERE key_id IN (SELECT key_id FROM data_keys)")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };

    let mut ids = UlidGenerator::system();
    let receipt = ledger
        .erase_subject(
            &k,
            "user-1",
            "dpo@example.com",
            "GDPR Art. 17 request 42",
            &mut ids,
        )
        .unwrap();
    assert_eq!(receipt.erasures.len(), 2, "both tenants held user-1's data");
    assert!(receipt.destroyed_keys >= 2);
    assert_eq!(receipt.subject_hash.len(), 64);

    // The erased events' payload text is nowhere: not in the database, not in the WAL, not
    // in any export. Every other payload still decrypts.
    let disk = db_bytes(&s.path);
    let erased: Vec<u64> = (0..40).chain(100..120).filter(|n| n % 4 == 1).collect();
    for n in &erased {
        assert!(!contains(&disk, format!("SECRET-PROMPT-{n:04}").as_bytes()));
    }
    for e in &receipt.erasures {
        let record = ledger.get(&e.erasure_event_id).unwrap().unwrap();
        assert!(
            !record.envelope.contains("user-1"),
            "the erasure record names the subject by keyed hash only"
        );
        assert!(record.envelope.contains(&receipt.subject_hash));
    }
    let destroyed: Vec<&String> = receipt
        .erasures
        .iter()
        .flat_map(|e| &e.data_key_ids)
        .collect();
    let conn = rusqlite::Connection::open(&s.path).unwrap();
    let remaining: Vec<Vec<u8>> = conn
        .prepare("SELECT wrapped FROM data_keys")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(remaining.len(), wrapped_before.len() - destroyed.len());
    for w in wrapped_before.iter().filter(|w| !remaining.contains(w)) {
        assert!(
            !contains(&disk, w),
            "a destroyed wrapped key survives on disk"
        );
    }

    for org in ["acme", "globex"] {
        let lines = export_all(&ledger, org);
        for line in &lines {
            let event = Event::from_json_str(line).unwrap();
            let actor = event.actor_id().unwrap_or_default().to_owned();
            let text = line.as_str();
            if actor == "user-1" {
                assert!(!text.contains("SECRET-PROMPT"));
                assert!(event.payload_field("ciphertext").is_some());
            } else if event.event_type().as_str() != spanforge_store::encryption::ERASURE_EVENT_TYPE
            {
                assert!(text.contains("SECRET-PROMPT"), "{text}");
            }
        }
    }
    let got = ledger
        .get(event_id(1, T0 + 1_000_000).as_str())
        .unwrap()
        .unwrap();
    assert_eq!(got.payload, PayloadState::Erased);
    let kept = ledger
        .get(event_id(2, T0 + 2_000_000).as_str())
        .unwrap()
        .unwrap();
    assert_eq!(kept.payload, PayloadState::Decrypted);
    // Paged reads see the same states and bytes as queries.
    for org in ["acme", "globex"] {
        let q = Query::tenant(TenantId::org(org).unwrap());
        let found: Vec<_> = ledger.query(&q).unwrap().collect::<Result<_, _>>().unwrap();
        let mut pages = ledger.query_pages(&q).unwrap();
        let mut page = EventPage::new();
        while pages.next_into(&mut page).unwrap() > 0 {}
        assert_eq!(page.len(), found.len());
        assert!(found.iter().any(|e| e.payload == PayloadState::Erased));
        for (paged, stored) in page.iter().zip(&found) {
            assert_eq!(
                (paged.seq, paged.envelope, paged.payload),
                (stored.seq, stored.envelope.as_str(), stored.payload)
            );
        }
    }

    // Verification passes and reports the erased events as erased, not tampered.
    let report = ledger.verify(&k, &VerifyOptions::new()).unwrap();
    assert!(report.valid, "{report:#?}");
    let erased_total: u64 = report.tenants.iter().map(|t| t.erased_count).sum();
    assert_eq!(erased_total, erased.len() as u64);
    for t in &report.tenants {
        assert_eq!(t.tampered_count, 0);
        assert_eq!(t.erasure_events.len(), 1);
    }

    // Erasing again finds nothing left to destroy.
    let again = ledger
        .erase_subject(&k, "user-1", "dpo", "repeat", &mut ids)
        .unwrap();
    assert_eq!(again.destroyed_keys, 0);
}

#[test]
fn a_subject_named_in_the_payload_or_as_session_is_erased_too() {
    let s = setup();
    let mut ledger = s.open();
    ledger.encrypt_payloads();
    let k = keys(&ledger);
    ledger
        .ingest(&k, text_lines("a", &texts(0..30, "acme")))
        .unwrap();
    let mut ids = UlidGenerator::system();
    ledger
        .erase_subject(&k, "patient-0", "dpo", "r", &mut ids)
        .unwrap();
    ledger
        .erase_subject(&k, "sess-2", "dpo", "r", &mut ids)
        .unwrap();
    let lines = export_all(&ledger, "acme");
    let disk = db_bytes(&s.path);
    for n in 0..30u64 {
        let gone = (n.is_multiple_of(5) && n.is_multiple_of(2)) || n % 3 == 2;
        let marker = format!("SECRET-PROMPT-{n:04}");
        assert!(!contains(&disk, marker.as_bytes()));
        let exported = lines.iter().any(|l| l.contains(&marker));
        assert_eq!(exported, !gone, "event {n}");
    }
    assert!(ledger.verify(&k, &VerifyOptions::new()).unwrap().valid);
}

#[test]
fn a_data_key_deleted_without_an_erasure_record_is_tampering() {
    let s = setup();
    let mut ledger = s.open();
    ledger.encrypt_payloads();
    let k = keys(&ledger);
    ledger
        .ingest(&k, text_lines("a", &texts(0..12, "acme")))
        .unwrap();
    drop(ledger);
    let conn = attacker(&s.path);
    conn.execute(
        "DELETE FROM data_keys WHERE key_id = (SELECT min(key_id) FROM data_keys)",
        [],
    )
    .unwrap();
    let ledger = s.open();
    let report = ledger.verify(&k, &VerifyOptions::new()).unwrap();
    assert!(!report.valid);
    let t = &report.tenants[0];
    assert!(t.tampered_count >= 1);
    assert!(
        t.tampered[0].reasons[0].contains("no erasure records its destruction"),
        "{:?}",
        t.tampered
    );
    assert_eq!(t.erased_count, 0);
    let read: Vec<_> = export_all_results(&ledger, "acme");
    assert!(
        read.iter()
            .any(|r| matches!(r, Err(Error::Decryption { .. })))
    );
}

fn export_all_results(ledger: &SqliteLedger, org: &str) -> Vec<spanforge_store::Result<String>> {
    ledger
        .export(&TenantId::org(org).unwrap(), None, None)
        .unwrap()
        .collect()
}

#[test]
fn ciphertext_edits_and_swaps_are_detected_by_verify_and_refused_by_readers() {
    let s = setup();
    let mut ledger = s.open();
    ledger.encrypt_payloads();
    let k = keys(&ledger);
    ledger
        .ingest(&k, text_lines("a", &texts(0..8, "acme")))
        .unwrap();
    drop(ledger);
    let conn = attacker(&s.path);
    let id3 = event_id(3, T0 + 3_000_000).to_string();
    let id5 = event_id(5, T0 + 5_000_000).to_string();
    let env3 = crate::common::envelope_of(&conn, &id3);
    let env5 = crate::common::envelope_of(&conn, &id5);
    let payload = |env: &str| -> String {
        let e = Event::from_json_str(env).unwrap();
        let mut out = Vec::new();
        spanforge_event::json::write_canonical(e.payload(), &mut out);
        String::from_utf8(out).unwrap()
    };
    // Event 3 gets event 5's encrypted payload (a swap that keeps JSON and base64 valid).
    let swapped = env3.replace(&payload(&env3), &payload(&env5));
    conn.execute(
        "UPDATE events SET envelope = ?1 WHERE event_id = ?2",
        rusqlite::params![swapped.as_bytes(), id3],
    )
    .unwrap();
    let ledger = s.open();
    let report = ledger.verify(&k, &VerifyOptions::new()).unwrap();
    assert!(!report.valid);
    let reasons = &report.tenants[0].tampered[0].reasons;
    assert!(
        reasons.iter().any(|r| r.contains("leaf hash")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("sealed for another event")),
        "{reasons:?}"
    );
    let err = ledger.get(&id3).unwrap_err();
    assert!(matches!(err, Error::Decryption { .. }), "{err}");
    // The untouched neighbour still reads.
    assert_eq!(
        ledger.get(&id5).unwrap().unwrap().payload,
        PayloadState::Decrypted
    );
}

#[test]
fn kek_rotation_rewraps_every_key_without_touching_payloads_and_the_old_kek_can_go() {
    let s = setup();
    let mut ledger = s.open();
    ledger.encrypt_payloads();
    let k = keys(&ledger);
    ledger
        .ingest(&k, text_lines("a", &texts(0..20, "acme")))
        .unwrap();
    let before_envelopes: Vec<Vec<u8>> = envelopes(&s.path);
    let before_keks = ledger.keks_in_use().unwrap();
    assert_eq!(
        before_keks.keys().collect::<Vec<_>>(),
        vec!["local:payload/v1"]
    );

    let new = s.kms.rotate_kek("payload").unwrap();
    assert_eq!(new.key_id(), "local:payload/v2");
    let mut rotated = SqliteLedger::open(&s.path)
        .unwrap()
        .with_data_keys(service(s.kms.clone()));
    let receipt = rotated.rewrap_data_keys().unwrap();
    assert_eq!(receipt.already_current, 0);
    assert_eq!(
        receipt.rewrapped,
        before_keks.values().sum::<u64>(),
        "every data key and the subject-hash key"
    );
    let after = rotated.keks_in_use().unwrap();
    assert_eq!(after.keys().collect::<Vec<_>>(), vec!["local:payload/v2"]);
    assert_eq!(
        envelopes(&s.path),
        before_envelopes,
        "no payload was re-encrypted"
    );

    // Retire v1: everything still decrypts, and erasure still works (subject key re-wrapped).
    s.kms.retire("payload", 1).unwrap();
    let reopened_kms = Arc::new(LocalKms::open(s.kms.path()).unwrap());
    assert_eq!(reopened_kms.versions("payload").unwrap(), vec![2]);
    let mut fresh = SqliteLedger::open(&s.path)
        .unwrap()
        .with_data_keys(service(reopened_kms));
    let lines = export_all(&fresh, "acme");
    assert!(lines.iter().all(|l| l.contains("SECRET-PROMPT")));
    let mut ids = UlidGenerator::system();
    let erased = fresh
        .erase_subject(&k, "user-2", "dpo", "r", &mut ids)
        .unwrap();
    assert!(erased.destroyed_keys > 0);
    assert!(fresh.verify(&k, &VerifyOptions::new()).unwrap().valid);
    // A second rotation run finds nothing to do.
    assert_eq!(fresh.rewrap_data_keys().unwrap().rewrapped, 0);
}

fn envelopes(path: &Path) -> Vec<Vec<u8>> {
    rusqlite::Connection::open(path)
        .unwrap()
        .prepare("SELECT envelope FROM events ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_refused_encrypted_batch_writes_no_keys_and_no_setting() {
    let s = setup();
    let mut ledger = s.open();
    ledger.encrypt_payloads();
    let k = keys(&ledger);
    let mut input = texts(0..10, "acme");
    input[6] = "{not json".to_owned();
    let err = ledger
        .ingest(&k, text_lines("bad.jsonl", &input))
        .unwrap_err();
    assert_eq!(err.location().unwrap().line, 7);
    assert!(!ledger.is_encrypted().unwrap());
    let conn = rusqlite::Connection::open(&s.path).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM data_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn a_writer_with_a_warm_cache_never_encrypts_under_a_key_erased_elsewhere() {
    let s = setup();
    let mut writer = s.open();
    writer.encrypt_payloads();
    let k = keys(&writer);
    writer
        .ingest(&k, text_lines("a", &texts(0..12, "acme")))
        .unwrap();
    // Another handle (as another process would) erases user-1 while `writer` keeps its cache.
    let mut other = s.open();
    let mut ids = UlidGenerator::system();
    other
        .erase_subject(&k, "user-1", "dpo", "r", &mut ids)
        .unwrap();
    // The writer's next events of user-1 go under a new key and stay readable.
    writer
        .ingest(&k, text_lines("b", &texts(12..24, "acme")))
        .unwrap();
    let lines = export_all(&writer, "acme");
    for n in 0..24u64 {
        let marker = format!("SECRET-PROMPT-{n:04}-of-user-1");
        let readable = lines.iter().any(|l| l.contains(&marker));
        if n % 4 == 1 {
            assert_eq!(readable, n >= 12, "event {n}");
        }
    }
    assert!(writer.verify(&k, &VerifyOptions::new()).unwrap().valid);
}

#[test]
fn a_proof_of_an_encrypted_event_accepts_its_decrypted_export_line_and_nothing_else() {
    let s = setup();
    let mut ledger = s.open();
    ledger.encrypt_payloads();
    let k = keys(&ledger);
    ledger
        .ingest(&k, text_lines("a", &texts(0..6, "acme")))
        .unwrap();
    let id = event_id(4, T0 + 4_000_000).to_string();
    let proof = ledger.prove(&k, &id).unwrap();
    assert!(
        !proof.envelope.contains("SECRET-PROMPT"),
        "the leaf is the encrypted envelope"
    );
    let line = export_all(&ledger, "acme")
        .into_iter()
        .find(|l| l.contains(&id))
        .unwrap();
    // The export counts the lines it decrypted (all six), which no checkpoint can cover.
    let mut export = ledger
        .export(&TenantId::org("acme").unwrap(), None, None)
        .unwrap();
    assert_eq!(export.by_ref().count(), 6);
    assert_eq!(export.decrypted(), 6);
    let verifier = spanforge_store::KeyProvider::checkpoint_signer(&k)
        .unwrap()
        .verifier();
    let bundle = proof.to_text();
    let verified =
        spanforge_store::verify_event_proof(bundle.as_bytes(), &verifier, Some(line.as_bytes()))
            .unwrap();
    assert_eq!(verified.index, 4);
    // A changed payload (re-signed checksum or not) does not pass as the decryption.
    let forged = line.replace("SECRET-PROMPT-0004", "SECRET-PROMPT-9999");
    assert!(
        spanforge_store::verify_event_proof(bundle.as_bytes(), &verifier, Some(forged.as_bytes()))
            .is_err()
    );
    // Nor does another event's line.
    let other = export_all(&ledger, "acme").remove(0);
    assert!(
        spanforge_store::verify_event_proof(bundle.as_bytes(), &verifier, Some(other.as_bytes()))
            .is_err()
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 8, .. proptest::prelude::ProptestConfig::default() })]

    /// Encrypted append then verify succeeds; flipping any one byte of any stored (encrypted)
    /// envelope is detected, and a flip inside the ciphertext also stops readers.
    #[test]
    fn any_byte_flip_in_an_encrypted_ledger_is_detected(
        n in 2u64..12,
        victim in proptest::prelude::any::<proptest::sample::Index>(),
        pos in proptest::prelude::any::<proptest::sample::Index>(),
        bit in 0u8..8,
    ) {
        let s = setup();
        let mut ledger = s.open();
        ledger.encrypt_payloads();
        let k = keys(&ledger);
        ledger.ingest(&k, text_lines("a", &texts(0..n, "acme"))).unwrap();
        proptest::prop_assert!(ledger.verify(&k, &VerifyOptions::new()).unwrap().valid);
        drop(ledger);
        let ids: Vec<String> = (0..n).map(|i| event_id(i, T0 + i as i64 * 1_000_000).to_string()).collect();
        let id = &ids[victim.index(ids.len())];
        let conn = attacker(&s.path);
        let original = crate::common::envelope_of(&conn, id);
        let mut bytes = original.clone().into_bytes();
        let at = pos.index(bytes.len());
        bytes[at] ^= 1 << bit;
        conn.execute(
            "UPDATE events SET envelope = ?1 WHERE event_id = ?2",
            rusqlite::params![bytes, id],
        )
        .unwrap();
        let ledger = s.open();
        let report = ledger.verify(&k, &VerifyOptions::new()).unwrap();
        proptest::prop_assert!(!report.valid);
        proptest::prop_assert_eq!(report.tenants[0].tampered_count, 1);
        let start = original.find("\"ciphertext\":\"").unwrap() + 14;
        let end = start + original[start..].find('"').unwrap();
        if (start..end).contains(&at) {
            proptest::prop_assert!(ledger.get(id).is_err());
        }
    }
}
