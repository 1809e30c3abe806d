//! Unit tests for the AEV1 envelope: format vectors (seal direction needs the crate-private
//! fixed-message-id entry point), tamper cases and parser robustness.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::keys::ProviderId;

fn ctx(tenant: &str, event: &str) -> EncryptionContext {
    EncryptionContext::for_event(tenant, event, "ai-call/v1").unwrap()
}

fn dek(byte: u8) -> Dek {
    Dek::from_slice(&[byte; 32]).unwrap()
}

fn kid() -> DataKeyId {
    DataKeyId::new("dk-test").unwrap()
}

fn sample(edks: &[WrappedDek]) -> (Dek, EncryptionContext, Vec<u8>) {
    let k = dek(1);
    let c = ctx("acme", "evt-1");
    let blob = seal(&k, &kid(), edks, &c, b"the payload").unwrap();
    (k, c, blob)
}

fn local_edk() -> WrappedDek {
    WrappedDek::new(ProviderId::Local, "local:main/v1", vec![0x5a; 81]).unwrap()
}

// ---------------------------------------------------------------- format vectors

#[derive(Debug)]
struct Vector {
    name: String,
    suite: u16,
    dek: Vec<u8>,
    message_id: [u8; 32],
    key_id: String,
    context: EncryptionContext,
    edks: Vec<WrappedDek>,
    plaintext: Vec<u8>,
    commitment: Vec<u8>,
    envelope: Vec<u8>,
}

fn hex_field(v: &serde_json::Value, name: &str) -> Vec<u8> {
    hex::decode(
        v[name]
            .as_str()
            .unwrap_or_else(|| panic!("field {name} missing")),
    )
    .unwrap_or_else(|e| panic!("field {name} is not hex: {e}"))
}

fn load_vectors() -> Vec<Vector> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/aev1.json");
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read AEV1 format vectors at {path}: {e}"));
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 10, "expected at least 10 AEV1 vectors");
    vectors
        .iter()
        .map(|v| {
            let context: BTreeMap<String, String> =
                serde_json::from_value(v["context"].clone()).unwrap();
            let edks = v["edks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    WrappedDek::new(
                        ProviderId::from_code(
                            u8::try_from(e["provider"].as_u64().unwrap()).unwrap(),
                        )
                        .unwrap(),
                        e["key_id"].as_str().unwrap(),
                        hex_field(e, "blob"),
                    )
                    .unwrap()
                })
                .collect();
            Vector {
                name: v["name"].as_str().unwrap().to_owned(),
                suite: u16::try_from(v["suite"].as_u64().unwrap()).unwrap(),
                dek: hex_field(v, "dek"),
                message_id: hex_field(v, "message_id").try_into().unwrap(),
                key_id: v["key_id"].as_str().unwrap().to_owned(),
                context: EncryptionContext::try_from(context).unwrap(),
                edks,
                plaintext: hex_field(v, "plaintext"),
                commitment: hex_field(v, "commitment"),
                envelope: hex_field(v, "envelope"),
            }
        })
        .collect()
}

#[test]
fn format_vectors_seal_to_the_exact_bytes() {
    for v in load_vectors() {
        let k = Dek::from_slice(&v.dek).unwrap();
        let blob = seal_with_message_id(
            &k,
            &DataKeyId::new(v.key_id.clone()).unwrap(),
            &v.edks,
            &v.context,
            &v.plaintext,
            &v.message_id,
            v.suite,
        )
        .unwrap();
        assert_eq!(
            hex::encode(&blob),
            hex::encode(&v.envelope),
            "vector {:?}",
            v.name
        );
    }
}

#[test]
fn format_vectors_parse_and_open() {
    for v in load_vectors() {
        let env = Envelope::parse(&v.envelope).unwrap();
        assert_eq!(env.message_id(), &v.message_id, "{}", v.name);
        assert_eq!(env.key_id().as_str(), v.key_id, "{}", v.name);
        assert_eq!(env.context(), &v.context, "{}", v.name);
        assert_eq!(env.edks(), v.edks.as_slice(), "{}", v.name);
        assert_eq!(
            env.commitment().as_slice(),
            v.commitment.as_slice(),
            "{}",
            v.name
        );
        let k = Dek::from_slice(&v.dek).unwrap();
        assert_eq!(
            env.open(&k, &v.context).unwrap().as_slice(),
            v.plaintext.as_slice()
        );
    }
}

// ---------------------------------------------------------------- round trips

#[test]
fn round_trip_detached_and_embedded() {
    for edks in [vec![], vec![local_edk()], vec![local_edk(); MAX_EDKS]] {
        let (k, c, blob) = sample(&edks);
        let env = Envelope::parse(&blob).unwrap();
        assert_eq!(env.edks().len(), edks.len());
        assert_eq!(env.is_detached(), edks.is_empty());
        assert_eq!(env.open(&k, &c).unwrap().as_slice(), b"the payload");
    }
}

#[test]
fn round_trip_sizes() {
    let k = dek(3);
    let c = ctx("t", "e");
    for len in [0usize, 1, 15, 16, 17, 1024, 65_537] {
        let pt: Vec<u8> = (0..len).map(|i| (i % 256) as u8).collect();
        let blob = seal(&k, &kid(), &[], &c, &pt).unwrap();
        let env = Envelope::parse(&blob).unwrap();
        assert_eq!(env.body().len(), len + TAG_LEN);
        assert_eq!(env.open(&k, &c).unwrap().as_slice(), pt.as_slice());
    }
}

#[test]
fn every_envelope_gets_a_fresh_message_id() {
    let (k, c, a) = sample(&[]);
    let b = seal(&k, &kid(), &[], &c, b"the payload").unwrap();
    let (ea, eb) = (Envelope::parse(&a).unwrap(), Envelope::parse(&b).unwrap());
    assert_ne!(ea.message_id(), eb.message_id());
    assert_ne!(
        ea.body(),
        eb.body(),
        "same plaintext must not give the same ciphertext"
    );
}

#[test]
fn seal_refuses_incomplete_context_and_too_many_edks() {
    let scope = EncryptionContext::for_scope("t", "p").unwrap();
    assert!(matches!(
        seal(&dek(1), &kid(), &[], &scope, b"x"),
        Err(Error::InvalidContext { .. })
    ));
    assert!(matches!(
        seal(&dek(1), &kid(), &vec![local_edk(); 9], &ctx("t", "e"), b"x"),
        Err(Error::TooLarge { .. })
    ));
    // Eight 4 KiB EDKs overflow the 16 KiB header.
    let big = WrappedDek::new(ProviderId::Aws, "k", vec![1; 4096]).unwrap();
    assert!(matches!(
        seal(&dek(1), &kid(), &vec![big; 8], &ctx("t", "e"), b"x"),
        Err(Error::TooLarge {
            what: "AEV1 header",
            ..
        })
    ));
}

// ---------------------------------------------------------------- tamper cases

/// Offsets of interesting fields in a sample envelope (key id "dk-test").
fn layout(blob: &[u8]) -> (usize, usize, usize, usize) {
    let env = Envelope::parse(blob).unwrap();
    let aad_end = env.authenticated_header().len();
    let commitment_at = aad_end - 4 - COMMITMENT_LEN;
    let body_start = blob.len() - env.body().len();
    (39, commitment_at, aad_end, body_start)
}

#[test]
fn ciphertext_and_tag_flips_fail_authentication() {
    let (k, c, blob) = sample(&[]);
    let (_, _, _, body_start) = layout(&blob);
    for at in [body_start, blob.len() - TAG_LEN - 1, blob.len() - 1] {
        let mut t = blob.clone();
        t[at] ^= 0x01;
        let env = Envelope::parse(&t).unwrap();
        assert!(
            matches!(env.open(&k, &c), Err(Error::AuthenticationFailed)),
            "byte {at}"
        );
    }
}

#[test]
fn header_field_flip_fails_authentication() {
    let (k, c, blob) = sample(&[]);
    // Flip a key-id byte to another printable character: parses, but the AAD changed.
    let mut t = blob.clone();
    t[40] ^= 0x01; // 'd' -> 'e'
    let env = Envelope::parse(&t).unwrap();
    assert_eq!(env.key_id().as_str(), "ek-test");
    assert!(matches!(env.open(&k, &c), Err(Error::AuthenticationFailed)));
    // Change the body-length field: the structure no longer adds up.
    let (_, _, aad_end, _) = layout(&blob);
    let mut t = blob.clone();
    t[aad_end - 1] ^= 0x01;
    assert!(matches!(Envelope::parse(&t), Err(Error::Malformed { .. })));
}

#[test]
fn rewritten_context_in_header_fails_authentication() {
    // An attacker edits the tenant in the header ("acme" -> "acmf") and presents the envelope as
    // the other tenant's: the context check passes, the AEAD does not.
    let (k, _, blob) = sample(&[]);
    let pos = blob.windows(4).position(|w| w == b"acme").unwrap();
    let mut t = blob.clone();
    t[pos + 3] = b'f';
    let forged = ctx("acmf", "evt-1");
    let env = Envelope::parse(&t).unwrap();
    assert!(matches!(
        env.open(&k, &forged),
        Err(Error::AuthenticationFailed)
    ));
}

#[test]
fn context_mismatch_names_the_key() {
    let (k, _, blob) = sample(&[]);
    let env = Envelope::parse(&blob).unwrap();
    match env.open(&k, &ctx("other-tenant", "evt-1")) {
        Err(Error::ContextMismatch { key }) => assert_eq!(key, "tenant"),
        other => panic!("expected tenant mismatch, got {other:?}"),
    }
    match env.open(&k, &ctx("acme", "evt-2")) {
        Err(Error::ContextMismatch { key }) => assert_eq!(key, "event"),
        other => panic!("expected event mismatch, got {other:?}"),
    }
    let extra = ctx("acme", "evt-1").with("subject", "s").unwrap();
    assert!(matches!(
        env.open(&k, &extra),
        Err(Error::ContextMismatch { .. })
    ));
}

#[test]
fn wrong_key_and_commitment_tampering_fail_the_commitment() {
    let (k, c, blob) = sample(&[]);
    let env = Envelope::parse(&blob).unwrap();
    assert!(matches!(
        env.open(&dek(2), &c),
        Err(Error::CommitmentMismatch)
    ));
    let (mid_at, commitment_at, _, _) = layout(&blob);
    for at in [
        commitment_at,
        commitment_at + COMMITMENT_LEN - 1,
        mid_at - 32,
        mid_at - 3,
    ] {
        let mut t = blob.clone();
        t[at] ^= 0x80;
        let env = Envelope::parse(&t).unwrap();
        assert!(
            matches!(env.open(&k, &c), Err(Error::CommitmentMismatch)),
            "byte {at}"
        );
    }
    // The last two message-id bytes pick the nonce inside the block, not the block key, so the
    // commitment still matches and the AEAD (which authenticates the whole id) rejects the flip.
    for at in [mid_at - 2, mid_at - 1] {
        let mut t = blob.clone();
        t[at] ^= 0x80;
        let env = Envelope::parse(&t).unwrap();
        assert!(
            matches!(env.open(&k, &c), Err(Error::AuthenticationFailed)),
            "byte {at}"
        );
    }
}

#[test]
fn version_suite_flags_and_truncation_are_typed_errors() {
    let (_, _, blob) = sample(&[]);
    let mut t = blob.clone();
    t[3] = 2;
    assert!(matches!(
        Envelope::parse(&t),
        Err(Error::UnsupportedVersion { found: 2 })
    ));
    let mut t = blob.clone();
    assert_eq!(blob[4..6], [0, 2], "seal writes the block-key suite");
    t[5] = 3;
    assert!(matches!(
        Envelope::parse(&t),
        Err(Error::UnsupportedSuite { found: 3 })
    ));
    let mut t = blob.clone();
    t[6] = 1;
    assert!(matches!(
        Envelope::parse(&t),
        Err(Error::Malformed { field: "flags", .. })
    ));
    let mut t = blob.clone();
    t[0] = b'X';
    assert!(matches!(
        Envelope::parse(&t),
        Err(Error::Malformed { field: "magic", .. })
    ));
    for len in 0..blob.len() {
        assert!(
            Envelope::parse(&blob[..len]).is_err(),
            "prefix of {len} bytes parsed"
        );
    }
    let mut t = blob.clone();
    t.push(0);
    assert!(matches!(
        Envelope::parse(&t),
        Err(Error::Malformed { field: "body", .. })
    ));
}

#[test]
fn edk_section_limits() {
    let (_, _, blob) = sample(&[]);
    let (_, _, aad_end, _) = layout(&blob);
    let mut t = blob.clone();
    t[aad_end] = 9;
    assert!(matches!(
        Envelope::parse(&t),
        Err(Error::Malformed {
            field: "edk_count",
            ..
        })
    ));
    let mut t = blob.clone();
    t[aad_end] = 1;
    t.splice(aad_end + 1..aad_end + 1, [0x07, 0, 1, b'k', 0, 1, 0]);
    assert!(matches!(
        Envelope::parse(&t),
        Err(Error::Malformed {
            field: "edk.provider",
            ..
        })
    ));
}

#[test]
fn exhaustive_single_bit_flips_of_a_detached_envelope_fail() {
    let (k, c, blob) = sample(&[]);
    for byte in 0..blob.len() {
        for bit in 0..8 {
            let mut t = blob.clone();
            t[byte] ^= 1 << bit;
            let outcome = Envelope::parse(&t).and_then(|env| env.open(&k, &c));
            assert!(
                outcome.is_err(),
                "flip of byte {byte} bit {bit} was not detected"
            );
        }
    }
}

#[test]
fn debug_is_compact_and_names_the_fields() {
    let (_, _, blob) = sample(&[local_edk()]);
    let text = format!("{:?}", Envelope::parse(&blob).unwrap());
    assert!(text.contains("dk-test") && text.contains("acme") && text.contains("body_len: 27"));
    assert!(text.len() < 600, "{text}");
}

#[test]
fn with_edks_keeps_header_and_body() {
    let (k, c, blob) = sample(&[local_edk()]);
    let env = Envelope::parse(&blob).unwrap();
    let other = WrappedDek::new(ProviderId::Local, "local:main/v2", vec![7; 81]).unwrap();
    let swapped = env.with_edks(std::slice::from_ref(&other)).unwrap();
    let env2 = Envelope::parse(&swapped).unwrap();
    assert_eq!(env2.authenticated_header(), env.authenticated_header());
    assert_eq!(env2.body(), env.body());
    assert_eq!(env2.edks(), &[other]);
    assert_eq!(env2.open(&k, &c).unwrap().as_slice(), b"the payload");
    assert!(env.with_edks(&vec![local_edk(); 9]).is_err());
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Envelope::parse(&bytes);
        let _ = WrappedDek::from_bytes(&bytes);
    }

    #[test]
    fn bytes_behind_a_valid_prefix_never_panic(
        cut in 0usize..200,
        tail in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        // Keep a valid beginning so the parser gets past the magic into the variable fields.
        let (k, c, blob) = sample(&[local_edk()]);
        let mut t = blob[..cut.min(blob.len())].to_vec();
        t.extend_from_slice(&tail);
        if let Ok(env) = Envelope::parse(&t) {
            let _ = env.open(&k, &c);
        }
    }

    #[test]
    fn any_single_bit_flip_of_any_envelope_fails(
        pt in proptest::collection::vec(any::<u8>(), 0..256),
        event in "[0-9a-z]{1,20}",
        bit in any::<proptest::sample::Index>(),
    ) {
        let k = dek(9);
        let c = ctx("acme", &event);
        let mut blob = seal(&k, &kid(), &[], &c, &pt).unwrap();
        let at = bit.index(blob.len() * 8);
        blob[at / 8] ^= 1 << (at % 8);
        let outcome = Envelope::parse(&blob).and_then(|env| env.open(&k, &c));
        prop_assert!(outcome.is_err(), "flip of bit {} went unnoticed", at);
    }

    #[test]
    fn round_trip_any_plaintext_and_context(
        pt in proptest::collection::vec(any::<u8>(), 0..2048),
        tenant in "[a-z0-9-]{1,20}",
        event in "[0-9A-Z]{1,26}",
        extra in proptest::collection::btree_map("[a-z]{1,8}", "\\PC{0,16}", 0..4),
        key in any::<[u8; 32]>(),
    ) {
        let mut c = ctx(&tenant, &event);
        for (k, v) in &extra {
            c.insert(k, v).unwrap();
        }
        if c.validate_message().is_err() {
            // `extra` overwrote a required key with an empty value; nothing to test.
            return Ok(());
        }
        let k = Dek::from_slice(&key).unwrap();
        let blob = seal(&k, &kid(), &[], &c, &pt).unwrap();
        let env = Envelope::parse(&blob).unwrap();
        prop_assert_eq!(env.context(), &c);
        let opened = env.open(&k, &c).unwrap();
        prop_assert_eq!(opened.as_slice(), pt.as_slice());
    }
}

#[test]
fn message_ids_are_unique_per_thread_and_across_threads() {
    use std::collections::HashSet;
    let mine: Vec<[u8; MESSAGE_ID_LEN]> = (0..1000).map(|_| next_message_id().unwrap()).collect();
    let unique: HashSet<_> = mine.iter().collect();
    assert_eq!(unique.len(), mine.len());
    // One prefix per thread, a counter after it.
    assert!(mine.windows(2).all(|w| w[0][..24] == w[1][..24]));
    let other = std::thread::spawn(|| next_message_id().unwrap())
        .join()
        .unwrap();
    assert_ne!(other[..24], mine[0][..24]);
    // Reseeding (as a forked child must) changes the prefix.
    reseed_message_ids().unwrap();
    assert_ne!(next_message_id().unwrap()[..24], mine[0][..24]);
    // Sealing twice with the same key never reuses a message id.
    let dek = Dek::generate().unwrap();
    let id = DataKeyId::new("dk-1").unwrap();
    let ctx = EncryptionContext::for_event("t", "e", "p").unwrap();
    let a = seal(&dek, &id, &[], &ctx, b"x").unwrap();
    let b = seal(&dek, &id, &[], &ctx, b"x").unwrap();
    assert_ne!(
        Envelope::parse(&a).unwrap().message_id(),
        Envelope::parse(&b).unwrap().message_id()
    );
}

#[test]
fn sealing_a_scope_plus_event_gives_the_format_vectors_exact_bytes() {
    let mut checked = 0;
    for v in load_vectors() {
        let Some(event) = v.context.event() else {
            continue;
        };
        let k = Dek::from_slice(&v.dek).unwrap();
        let mut out = b"kept".to_vec();
        super::seal_into(
            &k,
            &DataKeyId::new(v.key_id.clone()).unwrap(),
            &v.edks,
            super::MessageContext::WithEvent(&v.context.dek_scope(), event),
            &v.plaintext,
            &v.message_id,
            v.suite,
            &mut out,
        )
        .unwrap();
        assert_eq!(&out[..4], b"kept");
        assert_eq!(
            hex::encode(&out[4..]),
            hex::encode(&v.envelope),
            "vector {:?}",
            v.name
        );
        checked += 1;
    }
    assert!(checked > 0, "no vector has an event entry");
}

#[test]
fn seal_event_into_opens_under_the_message_context_only() {
    let dek = Dek::generate().unwrap();
    let id = DataKeyId::new("dk-1").unwrap();
    let scope = EncryptionContext::for_scope("acme", "p/v1").unwrap();
    let mut out = Vec::new();
    seal_event_into(&dek, &id, &scope, "evt-1", b"secret text", &mut out).unwrap();
    let env = Envelope::parse(&out).unwrap();
    assert!(env.edks().is_empty());
    assert_eq!(env.context(), &scope.with_event("evt-1").unwrap());
    assert_eq!(
        &env.open(&dek, &scope.with_event("evt-1").unwrap()).unwrap()[..],
        b"secret text"
    );
    assert!(env.open(&dek, &scope.with_event("evt-2").unwrap()).is_err());
    // Two seals of the same input never share a message id (so never a key and nonce).
    let mut again = Vec::new();
    seal_event_into(&dek, &id, &scope, "evt-1", b"secret text", &mut again).unwrap();
    assert_ne!(out, again);
    // A bad event is refused and leaves the buffer as it was.
    let mut kept = b"x".to_vec();
    assert!(seal_event_into(&dek, &id, &scope, "", b"p", &mut kept).is_err());
    assert!(seal_event_into(&dek, &id, &scope, "a\u{0}b", b"p", &mut kept).is_err());
    let no_tenant = EncryptionContext::new().with("purpose", "p").unwrap();
    assert!(seal_event_into(&dek, &id, &no_tenant, "e", b"p", &mut kept).is_err());
    assert_eq!(kept, b"x");
}

// ---------------------------------------------------------------- block keys (suite 0x0002)

#[test]
fn consecutive_seals_share_a_block_key_with_distinct_nonces() {
    let k = dek(4);
    let c = ctx("acme", "evt-1");
    let a = seal(&k, &kid(), &[], &c, b"same plaintext").unwrap();
    let b = seal(&k, &kid(), &[], &c, b"same plaintext").unwrap();
    let (ea, eb) = (Envelope::parse(&a).unwrap(), Envelope::parse(&b).unwrap());
    // Unless the counter just crossed a 2^16 boundary, both ids are in one block: same key and
    // commitment, and the nonce (the last two id bytes) differs, so the bodies differ.
    if ea.message_id()[..30] == eb.message_id()[..30] {
        assert_eq!(ea.commitment(), eb.commitment());
    }
    assert_ne!(ea.message_id()[30..], eb.message_id()[30..]);
    assert_ne!(ea.body(), eb.body());
    assert_eq!(ea.open(&k, &c).unwrap(), b"same plaintext");
    assert_eq!(eb.open(&k, &c).unwrap(), b"same plaintext");
}

#[test]
fn messages_of_one_block_open_and_fail_independently() {
    let k = dek(5);
    let c = ctx("acme", "evt-1");
    let base = [0x33u8; 32];
    let blobs: Vec<Vec<u8>> = (0u16..4)
        .map(|i| {
            let mut mid = base;
            mid[30..].copy_from_slice(&i.to_be_bytes());
            seal_with_message_id(
                &k,
                &kid(),
                &[],
                &c,
                b"payload",
                &mid,
                SUITE_AES256GCM_HKDF_SHA256_COMMIT_BLOCKS,
            )
            .unwrap()
        })
        .collect();
    for blob in &blobs {
        assert_eq!(
            Envelope::parse(blob).unwrap().open(&k, &c).unwrap(),
            b"payload"
        );
    }
    assert_eq!(k.cached_blocks(), 1, "one block, one cached key");
    // Moving a body to another message id of the same block (same key, other nonce) fails.
    let (head0, body1) = (layout(&blobs[0]).3, &blobs[1][layout(&blobs[1]).3..]);
    let mut spliced = blobs[0][..head0].to_vec();
    spliced.extend_from_slice(body1);
    assert!(matches!(
        Envelope::parse(&spliced).unwrap().open(&k, &c),
        Err(Error::AuthenticationFailed)
    ));
    // A different data key whose cache already holds this block still fails the commitment.
    let other = dek(6);
    let _ = seal_with_message_id(
        &other,
        &kid(),
        &[],
        &c,
        b"x",
        &base,
        SUITE_AES256GCM_HKDF_SHA256_COMMIT_BLOCKS,
    )
    .unwrap();
    assert!(matches!(
        Envelope::parse(&blobs[2]).unwrap().open(&other, &c),
        Err(Error::CommitmentMismatch)
    ));
}

#[test]
fn block_cache_is_bounded_and_stays_correct_when_evicting() {
    let k = dek(7);
    let c = ctx("acme", "evt-1");
    let mut blobs = Vec::new();
    for block in 0..(3 * crate::keys::BLOCK_CACHE_LEN as u8) {
        let mut mid = [block; 32];
        mid[30..].copy_from_slice(&[0, 9]);
        blobs.push(
            seal_with_message_id(
                &k,
                &kid(),
                &[],
                &c,
                &[block; 40],
                &mid,
                SUITE_AES256GCM_HKDF_SHA256_COMMIT_BLOCKS,
            )
            .unwrap(),
        );
        assert!(k.cached_blocks() <= crate::keys::BLOCK_CACHE_LEN);
    }
    for (i, blob) in blobs.iter().enumerate() {
        assert_eq!(
            Envelope::parse(blob).unwrap().open(&k, &c).unwrap(),
            vec![i as u8; 40]
        );
    }
    assert_eq!(k.cached_blocks(), crate::keys::BLOCK_CACHE_LEN);
}

#[test]
fn old_suite_is_still_read_and_uses_per_message_keys() {
    let k = dek(8);
    let c = ctx("acme", "evt-1");
    let mid = [0x44u8; 32];
    let old = seal_with_message_id(
        &k,
        &kid(),
        &[],
        &c,
        b"v1",
        &mid,
        SUITE_AES256GCM_HKDF_SHA256_COMMIT,
    )
    .unwrap();
    let new = seal_with_message_id(
        &k,
        &kid(),
        &[],
        &c,
        b"v1",
        &mid,
        SUITE_AES256GCM_HKDF_SHA256_COMMIT_BLOCKS,
    )
    .unwrap();
    let (eo, en) = (
        Envelope::parse(&old).unwrap(),
        Envelope::parse(&new).unwrap(),
    );
    assert_eq!(eo.suite(), SUITE_AES256GCM_HKDF_SHA256_COMMIT);
    assert_ne!(
        eo.commitment(),
        en.commitment(),
        "the suite is in the HKDF info"
    );
    assert_eq!(eo.open(&k, &c).unwrap(), b"v1");
    assert_eq!(en.open(&k, &c).unwrap(), b"v1");
    assert_eq!(k.cached_blocks(), 1, "suite 1 keys are never cached");
    assert!(matches!(
        seal_with_message_id(&k, &kid(), &[], &c, b"v1", &mid, 7),
        Err(Error::UnsupportedSuite { found: 7 })
    ));
}

#[test]
fn more_sealing_threads_than_cache_entries_share_one_data_key() {
    // 20 threads (more than the 16 cache entries) seal under one Dek at once: each thread has its
    // own prefix and so its own block, entries are evicted under contention, and every envelope
    // must still open.
    let k = std::sync::Arc::new(dek(9));
    let c = ctx("acme", "evt-1");
    let handles: Vec<_> = (0u8..20)
        .map(|t| {
            let (k, c) = (std::sync::Arc::clone(&k), c.clone());
            std::thread::spawn(move || {
                (0u8..40)
                    .map(|i| (vec![t, i], seal(&k, &kid(), &[], &c, &[t, i]).unwrap()))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut blocks = std::collections::BTreeSet::new();
    for h in handles {
        for (plaintext, blob) in h.join().unwrap() {
            let env = Envelope::parse(&blob).unwrap();
            blocks.insert(env.message_id()[..30].to_vec());
            assert_eq!(env.open(&k, &c).unwrap(), plaintext);
        }
    }
    assert!(blocks.len() >= 20, "each thread seals in its own block");
    assert!(k.cached_blocks() <= crate::keys::BLOCK_CACHE_LEN);
}

#[test]
fn reseeding_moves_the_thread_to_a_new_block() {
    // What a forked child does before sealing: its ids, and so its block keys, leave the
    // parent's blocks.
    let k = dek(10);
    let c = ctx("acme", "evt-1");
    let before = seal(&k, &kid(), &[], &c, b"a").unwrap();
    reseed_message_ids().unwrap();
    let after = seal(&k, &kid(), &[], &c, b"a").unwrap();
    let (eb, ea) = (
        Envelope::parse(&before).unwrap(),
        Envelope::parse(&after).unwrap(),
    );
    assert_ne!(eb.message_id()[..24], ea.message_id()[..24]);
    assert_ne!(eb.commitment(), ea.commitment());
    assert_eq!(ea.open(&k, &c).unwrap(), b"a");
}
