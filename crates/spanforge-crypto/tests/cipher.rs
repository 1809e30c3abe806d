//! EnvelopeCipher end to end with the local keyring: round trips, every tamper case through the
//! real decrypt path (parse → KMS unwrap → commitment → AEAD), crypto-shredding and KMS-call
//! bounds.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use spanforge_crypto::{
    CachePolicy, DekCache, EncryptionContext, Envelope, EnvelopeCipher, Error, KeyRef, LocalKms,
    ProviderId, WrappedDek, rewrap_envelope,
};

struct Fixture {
    _dir: tempfile::TempDir,
    kms: Arc<LocalKms>,
    cipher: EnvelopeCipher,
}

fn fixture(policy: CachePolicy) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let kms = Arc::new(LocalKms::create(dir.path().join("keyring"), "main").unwrap());
    let cipher = EnvelopeCipher::new(
        kms.clone(),
        KeyRef::parse("local:main").unwrap(),
        DekCache::new(policy),
    );
    Fixture {
        _dir: dir,
        kms,
        cipher,
    }
}

fn ctx(tenant: &str, event: &str) -> EncryptionContext {
    EncryptionContext::for_event(tenant, event, "ai-call/v1").unwrap()
}

/// A policy that gives every envelope its own data key.
fn one_message_per_key() -> CachePolicy {
    CachePolicy {
        max_messages: 1,
        ..CachePolicy::default()
    }
}

#[tokio::test]
async fn round_trip_and_moved_ciphertexts() {
    let f = fixture(CachePolicy::default());
    let c = ctx("acme", "evt-1");
    let blob = f.cipher.seal(&c, b"prompt + response").await.unwrap();
    assert_eq!(
        &f.cipher.open(&blob, &c).await.unwrap()[..],
        b"prompt + response"
    );
    for (other, key) in [
        (ctx("globex", "evt-1"), "tenant"),
        (ctx("acme", "evt-2"), "event"),
    ] {
        match f.cipher.open(&blob, &other).await {
            Err(Error::ContextMismatch { key: k }) => assert_eq!(k, key),
            r => panic!("expected a context mismatch on {key}, got {r:?}"),
        }
    }
    let purpose = EncryptionContext::for_event("acme", "evt-1", "other/v1").unwrap();
    assert!(matches!(
        f.cipher.open(&blob, &purpose).await,
        Err(Error::ContextMismatch { .. })
    ));
}

#[tokio::test]
async fn swapped_edks_fail_safely() {
    let f = fixture(one_message_per_key());
    let c = ctx("acme", "evt-1");
    let a = f.cipher.seal(&c, b"A").await.unwrap();
    let b = f.cipher.seal(&ctx("acme", "evt-2"), b"B").await.unwrap();
    let other_tenant = f.cipher.seal(&ctx("globex", "evt-1"), b"G").await.unwrap();
    let env_a = Envelope::parse(&a).unwrap();
    assert_ne!(
        Envelope::parse(&b).unwrap().key_id(),
        env_a.key_id(),
        "the policy gives each envelope its own data key"
    );

    // Same scope, another data key: unwraps fine, but the commitment catches it.
    let with_b = env_a
        .with_edks(Envelope::parse(&b).unwrap().edks())
        .unwrap();
    assert!(matches!(
        f.cipher.open(&with_b, &c).await,
        Err(Error::CommitmentMismatch)
    ));
    // Another tenant's key: the KMS refuses to unwrap it under this tenant's context.
    let with_g = env_a
        .with_edks(Envelope::parse(&other_tenant).unwrap().edks())
        .unwrap();
    assert!(matches!(
        f.cipher.open(&with_g, &c).await,
        Err(Error::UnwrapFailed { .. })
    ));
    // Tampered KEK id in the EDK.
    let edk = &env_a.edks()[0];
    let renamed = WrappedDek::new(ProviderId::Local, "local:main/v7", edk.blob().to_vec()).unwrap();
    assert!(
        f.cipher
            .open(&env_a.with_edks(&[renamed]).unwrap(), &c)
            .await
            .unwrap_err()
            .is_key_unavailable()
    );
    // No EDK of this provider.
    let aws = WrappedDek::new(ProviderId::Aws, "arn:aws:kms:eu:1:key/x", vec![9; 100]).unwrap();
    assert!(matches!(
        f.cipher.open(&env_a.with_edks(&[aws]).unwrap(), &c).await,
        Err(Error::NoUsableEdk { .. })
    ));
}

#[tokio::test]
async fn wrong_keyring_and_truncation() {
    let f = fixture(CachePolicy::default());
    let g = fixture(CachePolicy::default());
    let c = ctx("acme", "evt-1");
    let blob = f.cipher.seal(&c, b"x").await.unwrap();
    // Another keyring with a key of the same name and version: the wrap does not verify.
    assert!(matches!(
        g.cipher.open(&blob, &c).await,
        Err(Error::UnwrapFailed { .. })
    ));
    for len in [0, 3, 40, blob.len() / 2, blob.len() - 1] {
        assert!(matches!(
            f.cipher.open(&blob[..len], &c).await,
            Err(Error::Malformed { .. })
        ));
    }
}

#[tokio::test]
async fn every_single_bit_flip_fails_through_the_kms_path() {
    let f = fixture(CachePolicy::default());
    let c = ctx("acme", "evt-1");
    let blob = f.cipher.seal(&c, b"sixteen byte msg").await.unwrap();
    let mut flips = 0;
    for byte in 0..blob.len() {
        for bit in 0..8 {
            let mut t = blob.clone();
            t[byte] ^= 1 << bit;
            assert!(
                f.cipher.open(&t, &c).await.is_err(),
                "flip of byte {byte} bit {bit} went unnoticed"
            );
            flips += 1;
        }
    }
    assert_eq!(flips, blob.len() * 8);
    // The untouched envelope still opens.
    assert_eq!(
        &f.cipher.open(&blob, &c).await.unwrap()[..],
        b"sixteen byte msg"
    );
}

#[tokio::test]
async fn crypto_shredding_destroys_one_subject_only() {
    let f = fixture(CachePolicy::default());
    let base = EncryptionContext::for_scope("acme", "ai-call/v1").unwrap();
    let alice = base.clone().with("subject", "a1").unwrap();
    let bob = base.clone().with("subject", "b2").unwrap();
    let (alice_id, alice_key) = f.cipher.create_data_key(&alice).await.unwrap();
    let (bob_id, bob_key) = f.cipher.create_data_key(&bob).await.unwrap();

    let mut alice_blobs = Vec::new();
    let mut bob_blobs = Vec::new();
    for i in 0..5 {
        let ca = alice.with_event(&format!("a-{i}")).unwrap();
        let cb = bob.with_event(&format!("b-{i}")).unwrap();
        alice_blobs.push((
            ca.clone(),
            f.cipher
                .seal_detached(&alice_id, &alice_key, &ca, b"alice")
                .await
                .unwrap(),
        ));
        bob_blobs.push((
            cb.clone(),
            f.cipher
                .seal_detached(&bob_id, &bob_key, &cb, b"bob")
                .await
                .unwrap(),
        ));
    }
    // A key store keyed by data key id; erasing Alice deletes her wrapped key.
    let mut store = std::collections::HashMap::from([
        (alice_id.clone(), alice_key.clone()),
        (bob_id.clone(), bob_key.clone()),
    ]);
    let erased = store.remove(&alice_id).unwrap();
    f.cipher.forget_key(&erased, &alice);

    for (c, blob) in &alice_blobs {
        let key_id = Envelope::parse(blob).unwrap().key_id().clone();
        let err = f
            .cipher
            .open_detached(blob, c, store.get(&key_id))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::KeyDestroyed { ref key_id } if key_id == alice_id.as_str()));
        assert!(err.is_key_unavailable());
    }
    for (c, blob) in &bob_blobs {
        let key_id = Envelope::parse(blob).unwrap().key_id().clone();
        assert_eq!(
            &f.cipher
                .open_detached(blob, c, store.get(&key_id))
                .await
                .unwrap()[..],
            b"bob"
        );
    }
    // Presenting Bob's key for Alice's envelope does not help.
    let (c, blob) = &alice_blobs[0];
    assert!(
        f.cipher
            .open_detached(blob, c, Some(&bob_key))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn detached_and_embedded_are_not_confused() {
    let f = fixture(CachePolicy::default());
    let scope = EncryptionContext::for_scope("acme", "ai-call/v1").unwrap();
    let (id, wrapped) = f.cipher.create_data_key(&scope).await.unwrap();
    let c = scope.with_event("e").unwrap();
    let detached = f
        .cipher
        .seal_detached(&id, &wrapped, &c, b"d")
        .await
        .unwrap();
    let embedded = f.cipher.seal(&c, b"e").await.unwrap();
    assert!(matches!(
        f.cipher.open(&detached, &c).await,
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        f.cipher.open_detached(&embedded, &c, Some(&wrapped)).await,
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        rewrap_envelope(&detached, &*f.kms, &KeyRef::parse("local:main").unwrap()).await,
        Err(Error::NoUsableEdk { .. })
    ));
    // A stored key used for another scope is refused by the KMS.
    let other = ctx("globex", "e");
    assert!(matches!(
        f.cipher.seal_detached(&id, &wrapped, &other, b"x").await,
        Err(Error::UnwrapFailed { .. })
    ));
}

#[tokio::test]
async fn the_cache_bounds_kms_calls() {
    let f = fixture(CachePolicy::default());
    let mut blobs = Vec::new();
    for i in 0..200 {
        let c = ctx("acme", &i.to_string());
        blobs.push((c.clone(), f.cipher.seal(&c, b"payload").await.unwrap()));
    }
    for (c, blob) in &blobs {
        f.cipher.open(blob, c).await.unwrap();
    }
    let stats = f.cipher.cache().stats();
    assert_eq!(stats.encrypt_misses, 1, "one GenerateDataKey for 200 seals");
    assert_eq!(stats.decrypt_misses, 1, "one Decrypt for 200 opens");
    assert_eq!(stats.encrypt_hits, 199);
}
