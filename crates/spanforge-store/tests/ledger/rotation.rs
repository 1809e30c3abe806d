//! Key rotation: recorded in the ledger, followed by verification, refused when unsafe.

use spanforge_chain::compat::HmacSecret;
use spanforge_event::UlidGenerator;
use spanforge_store::{Error, HmacKey, KeyId, StaticKeys, VerifyOptions};

use crate::common::*;

fn before(t: &TestLedger) -> StaticKeys {
    StaticKeys::new()
        .with_tenant_key(org("acme"), key())
        .with_checkpoint_signer(log_signer(&t.ledger))
}

fn after(t: &TestLedger) -> StaticKeys {
    StaticKeys::new()
        .with_tenant_key(org("acme"), key_b())
        .with_retired_key(Some(org("acme")), key())
        .with_checkpoint_signer(log_signer(&t.ledger))
}

/// A ledger whose acme chain has 5 events, a rotation from k1 to k2, and 5 more.
pub(crate) fn rotated() -> (TestLedger, String) {
    let mut t = ledger();
    t.ledger
        .ingest(&before(&t), lines("a.jsonl", &events(0, 5, Some("acme"))))
        .unwrap();
    let receipt = t
        .ledger
        .rotate_key(
            &before(&t),
            &org("acme"),
            &key_b(),
            "ops@example.com",
            &mut UlidGenerator::system(),
        )
        .unwrap();
    assert_eq!(receipt.previous_key_id.as_str(), "k1");
    assert_eq!(receipt.key_id.as_str(), "k2");
    t.ledger
        .ingest(&after(&t), lines("b.jsonl", &events(5, 5, Some("acme"))))
        .unwrap();
    (t, receipt.rotation_event_id)
}

#[test]
fn a_rotation_is_recorded_signed_with_the_old_key_and_followed() {
    let (mut t, rotation_id) = rotated();
    let report = t.ledger.verify(&after(&t), &VerifyOptions::new()).unwrap();
    assert!(report.valid, "{report:#?}");
    let acme = &report.tenants[0];
    assert_eq!(acme.events, 11);
    assert_eq!(acme.rotations.len(), 1);
    assert_eq!(acme.rotations[0].event_id, rotation_id);
    assert_eq!(acme.rotations[0].seq, 5);
    assert!(acme.rotations[0].key_found);

    // The rotation event carries the reference's payload plus our key ids.
    let rotations = t.ledger.rotations(&org("acme")).unwrap();
    assert_eq!(rotations.len(), 1);
    let event = rotations[0].event().unwrap();
    assert_eq!(event.org_id(), Some("acme"));
    let field = |k: &str| {
        event
            .payload_field(k)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    assert_eq!(field("rotation_marker").as_deref(), Some("true"));
    assert_eq!(
        field("new_secret_hash"),
        Some(HmacSecret::new(SECRET_B).unwrap().fingerprint())
    );
    assert_eq!(field("rotated_by").as_deref(), Some("ops@example.com"));
    assert_eq!(field("key_id").as_deref(), Some("k2"));
    assert_eq!(field("previous_key_id").as_deref(), Some("k1"));
    assert_eq!(rotations[0].key_id, "k1");

    // Key records: ids and positions, the current one flagged.
    let listed = t.ledger.keys(Some(&org("acme"))).unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        (
            listed[0].record.key_id.as_str(),
            listed[0].record.first_seq,
            listed[0].current
        ),
        ("k1", 0, false)
    );
    assert_eq!(
        (
            listed[1].record.key_id.as_str(),
            listed[1].record.first_seq,
            listed[1].current
        ),
        ("k2", 6, true)
    );
    assert_eq!(
        listed[1].record.rotation_event_id.as_deref(),
        Some(rotation_id.as_str())
    );

    // The old configuration is refused for new events.
    let err = t
        .ledger
        .ingest(&before(&t), lines("c.jsonl", &events(20, 1, Some("acme"))))
        .unwrap_err();
    assert!(matches!(err, Error::KeyMismatch { .. }), "{err}");

    // Without the retired key, the events before the rotation cannot be verified.
    let only_new = StaticKeys::new().with_tenant_key(org("acme"), key_b());
    let report = t.ledger.verify(&only_new, &VerifyOptions::new()).unwrap();
    assert!(!report.valid);
    assert_eq!(report.tenants[0].unverified_count, 6);
    assert!(
        report.tenants[0].problems.iter().any(|p| p.contains("k1")),
        "{report:#?}"
    );
}

#[test]
fn a_forged_key_switch_is_detected() {
    // An attacker re-labels the post-rotation events with the old key id and drops the key
    // record: the HMACs under the old key fail.
    let (t, _) = rotated();
    let conn = attacker(&t.path);
    conn.execute("DELETE FROM keys WHERE key_id = 'k2'", [])
        .unwrap();
    conn.execute("UPDATE tenants SET key_id = 'k1'", [])
        .unwrap();
    conn.execute("UPDATE events SET key_id = 'k1'", []).unwrap();
    let report = t.ledger.verify(&after(&t), &VerifyOptions::new()).unwrap();
    assert!(!report.valid);
    assert_eq!(report.tenants[0].tampered_count, 5, "{report:#?}");
}

#[test]
fn unsafe_rotations_are_refused() {
    let (mut t, _) = rotated();
    let mut ids = UlidGenerator::system();
    let weak = HmacKey::new(KeyId::new("k3").unwrap(), HmacSecret::new("weak").unwrap());
    let err = t
        .ledger
        .rotate_key(&after(&t), &org("acme"), &weak, "ops", &mut ids)
        .unwrap_err();
    assert!(matches!(err, Error::WeakSigningKey { .. }), "{err}");
    let reused = HmacKey::new(KeyId::new("k1").unwrap(), HmacSecret::new(SECRET).unwrap());
    let err = t
        .ledger
        .rotate_key(&after(&t), &org("acme"), &reused, "ops", &mut ids)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidKeyId { .. }), "{err}");
    let err = t
        .ledger
        .rotate_key(&after(&t), &org("nobody"), &key_b(), "ops", &mut ids)
        .unwrap_err();
    assert!(matches!(err, Error::TenantNotFound { .. }), "{err}");
    // Rotating without the current key configured cannot sign the rotation event.
    let k3 = HmacKey::new(
        KeyId::new("k3").unwrap(),
        HmacSecret::new("a-third-secret-that-is-long-enough-to-use").unwrap(),
    );
    let err = t
        .ledger
        .rotate_key(&before(&t), &org("acme"), &k3, "ops", &mut ids)
        .unwrap_err();
    assert!(matches!(err, Error::UnknownKey { .. }), "{err}");
    assert!(
        t.ledger
            .verify(&after(&t), &VerifyOptions::new())
            .unwrap()
            .valid
    );
}

#[test]
fn a_rotated_export_re_ingests_into_another_ledger() {
    let (t, _) = rotated();
    let exported: Vec<String> = t
        .ledger
        .export(&org("acme"), None, None)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut other = ledger();
    let keys = StaticKeys::new()
        .with_tenant_key(
            org("acme"),
            HmacKey::new(
                KeyId::new("fresh").unwrap(),
                HmacSecret::new(SECRET).unwrap(),
            ),
        )
        .with_retired_key(Some(org("acme")), key_b());
    let receipt = other
        .ledger
        .ingest(&keys, text_lines("export.jsonl", &exported))
        .unwrap();
    // The incoming chain starts under k1 and follows the rotation to k2 by fingerprint.
    assert_eq!(receipt.verified_presigned, 11);
}
