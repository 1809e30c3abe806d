//! LocalKms: keyring file permissions, rotation and retirement, re-wrapping without touching
//! payloads, missing keys and secret hygiene.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use spanforge_crypto::{
    CachePolicy, DekCache, EncryptionContext, Envelope, EnvelopeCipher, Error, KeyRef, Kms,
    LocalKms, ProviderId, WrappedDek,
};

fn scope() -> EncryptionContext {
    EncryptionContext::for_scope("acme", "ai-call/v1").unwrap()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The hex key material lines of a keyring file.
fn key_material(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("key "))
        .map(|l| l.rsplit(' ').next().unwrap().to_owned())
        .collect()
}

#[test]
fn keyring_is_created_with_mode_0600_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let kms = LocalKms::create(&path, "main").unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(kms.versions("main").unwrap(), vec![1]);
    assert!(matches!(
        LocalKms::create(&path, "main"),
        Err(Error::Io { .. })
    ));
    // No temporary files are left behind.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    // Rewrites keep the mode.
    kms.rotate_kek("main").unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn keyring_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    LocalKms::create(&path, "main").unwrap();
    for insecure in [0o644, 0o640, 0o604, 0o660, 0o602] {
        fs::set_permissions(&path, fs::Permissions::from_mode(insecure)).unwrap();
        let err = LocalKms::open(&path).unwrap_err();
        match &err {
            Error::InsecurePermissions { mode, .. } => assert_eq!(*mode, insecure),
            other => panic!("expected InsecurePermissions, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("chmod 600"), "{msg}");
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    LocalKms::open(&path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    LocalKms::open(&path).unwrap();
}

#[test]
fn missing_file_or_key_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        LocalKms::open(dir.path().join("absent")),
        Err(Error::Io { .. })
    ));
    let kms = LocalKms::create(dir.path().join("keyring"), "main").unwrap();
    assert!(matches!(
        kms.primary("nope"),
        Err(Error::KeyUnavailable { .. })
    ));
    assert!(kms.versions("nope").is_err());
    assert!(kms.rotate_kek("nope").is_err());
    assert!(LocalKms::create(dir.path().join("k2"), "Bad Name").is_err());
}

#[tokio::test]
async fn generate_unwrap_and_context_binding() {
    let dir = tempfile::tempdir().unwrap();
    let kms = LocalKms::create(dir.path().join("keyring"), "main").unwrap();
    let (dek, wrapped) = kms
        .generate_dek(&KeyRef::parse("local:main").unwrap(), &scope())
        .await
        .unwrap();
    assert_eq!(wrapped.provider(), ProviderId::Local);
    assert_eq!(wrapped.key_id(), "local:main/v1");
    assert_eq!(
        kms.unwrap_dek(&wrapped, &scope())
            .await
            .unwrap()
            .expose_secret(),
        dek.expose_secret()
    );
    let other = EncryptionContext::for_scope("other", "ai-call/v1").unwrap();
    assert!(matches!(
        kms.unwrap_dek(&wrapped, &other).await,
        Err(Error::UnwrapFailed { .. })
    ));
    let mut blob = wrapped.blob().to_vec();
    let last = blob.len() - 1;
    blob[last] ^= 1;
    let tampered = WrappedDek::new(ProviderId::Local, wrapped.key_id(), blob).unwrap();
    assert!(matches!(
        kms.unwrap_dek(&tampered, &scope()).await,
        Err(Error::UnwrapFailed { .. })
    ));
    // Unknown key names and versions are "unavailable", not "corrupt".
    for id in ["local:main/v9", "local:other/v1"] {
        let moved = WrappedDek::new(ProviderId::Local, id, wrapped.blob().to_vec()).unwrap();
        assert!(matches!(
            kms.unwrap_dek(&moved, &scope()).await,
            Err(Error::KeyUnavailable { .. })
        ));
    }
    // Keys of another provider are refused.
    let aws = WrappedDek::new(ProviderId::Aws, "arn:aws:kms:x", vec![1]).unwrap();
    assert!(matches!(
        kms.unwrap_dek(&aws, &scope()).await,
        Err(Error::InvalidInput { .. })
    ));
    assert!(
        kms.generate_dek(&KeyRef::parse("local:absent").unwrap(), &scope())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn rotate_rewrap_retire_without_touching_payloads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let kms = Arc::new(LocalKms::create(&path, "main").unwrap());
    let cipher = EnvelopeCipher::new(
        kms.clone(),
        KeyRef::parse("local:main").unwrap(),
        DekCache::new(CachePolicy::default()),
    );
    let ctx = scope().with_event("evt-1").unwrap();
    let blob = cipher.seal(&ctx, b"payload under v1").await.unwrap();
    let before = Envelope::parse(&blob).unwrap();
    assert_eq!(before.edks()[0].key_id(), "local:main/v1");

    let v2 = kms.rotate_kek("main").unwrap();
    assert_eq!(v2.key_id(), "local:main/v2");
    assert_eq!(kms.primary("main").unwrap(), v2);
    assert_eq!(kms.versions("main").unwrap(), vec![1, 2]);
    // Both versions still open old data before re-wrapping.
    assert_eq!(
        &cipher.open(&blob, &ctx).await.unwrap()[..],
        b"payload under v1"
    );

    let rotated = cipher
        .rewrap(&blob, &KeyRef::parse("local:main").unwrap())
        .await
        .unwrap();
    let after = Envelope::parse(&rotated).unwrap();
    assert_eq!(after.edks()[0].key_id(), "local:main/v2");
    assert_eq!(after.authenticated_header(), before.authenticated_header());
    assert_eq!(
        after.body(),
        before.body(),
        "the payload ciphertext is untouched"
    );

    kms.retire("main", 1).unwrap();
    assert_eq!(kms.versions("main").unwrap(), vec![2]);
    assert!(
        kms.retire("main", 2).is_err(),
        "the primary cannot be retired"
    );
    assert!(kms.retire("main", 1).is_err(), "already retired");

    // A fresh process (new keyring handle, empty cache) reads the rotated envelope, and the
    // un-rotated one now reports an unavailable key rather than corruption.
    let reopened = Arc::new(LocalKms::open(&path).unwrap());
    assert_eq!(reopened.versions("main").unwrap(), vec![2]);
    let fresh = EnvelopeCipher::new(
        reopened,
        KeyRef::parse("local:main").unwrap(),
        DekCache::new(CachePolicy::default()),
    );
    assert_eq!(
        &fresh.open(&rotated, &ctx).await.unwrap()[..],
        b"payload under v1"
    );
    let err = fresh.open(&blob, &ctx).await.unwrap_err();
    assert!(err.is_key_unavailable(), "{err:?}");
}

#[tokio::test]
async fn detached_key_rotation_keeps_the_data_key_id() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Arc::new(LocalKms::create(dir.path().join("keyring"), "main").unwrap());
    let cipher = EnvelopeCipher::new(
        kms.clone(),
        KeyRef::parse("local:main").unwrap(),
        DekCache::new(CachePolicy::default()),
    );
    let subject_scope = scope().with("subject", "0f3a").unwrap();
    let (key_id, wrapped) = cipher.create_data_key(&subject_scope).await.unwrap();
    let ctx = subject_scope.with_event("evt-9").unwrap();
    let blob = cipher
        .seal_detached(&key_id, &wrapped, &ctx, b"detached")
        .await
        .unwrap();

    kms.rotate_kek("main").unwrap();
    let rewrapped = cipher
        .rewrap_key(
            &wrapped,
            &subject_scope,
            &KeyRef::parse("local:main").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(rewrapped.key_id(), "local:main/v2");
    kms.retire("main", 1).unwrap();
    assert_eq!(
        &cipher
            .open_detached(&blob, &ctx, Some(&rewrapped))
            .await
            .unwrap()[..],
        b"detached"
    );
    // The old wrap was dropped from the cache and its KEK is retired.
    assert!(
        cipher
            .open_detached(&blob, &ctx, Some(&wrapped))
            .await
            .unwrap_err()
            .is_key_unavailable()
    );
}

#[tokio::test]
async fn add_key_and_concurrent_reads() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Arc::new(LocalKms::create(dir.path().join("keyring"), "main").unwrap());
    let backup = kms.add_key("backup").unwrap();
    assert_eq!(backup.key_id(), "local:backup/v1");
    assert!(kms.add_key("backup").is_err());
    assert_eq!(
        kms.key_names(),
        vec!["backup".to_owned(), "main".to_owned()]
    );
    let mut tasks = Vec::new();
    for i in 0..8 {
        let kms = kms.clone();
        tasks.push(tokio::spawn(async move {
            let s = EncryptionContext::for_scope(&format!("t{i}"), "p").unwrap();
            let (d, w) = kms
                .generate_dek(&KeyRef::parse("local:backup").unwrap(), &s)
                .await
                .unwrap();
            let back = kms.unwrap_dek(&w, &s).await.unwrap();
            d.expose_secret() == back.expose_secret()
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap());
    }
}

#[tokio::test]
async fn secrets_never_appear_in_debug_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let kms = LocalKms::create(&path, "main").unwrap();
    kms.rotate_kek("main").unwrap();
    let materials = key_material(&path);
    assert_eq!(materials.len(), 2);

    let (dek, wrapped) = kms
        .generate_dek(&KeyRef::parse("local:main").unwrap(), &scope())
        .await
        .unwrap();
    let dek_hex = hex::encode(dek.expose_secret());
    let mut printed = vec![
        format!("{kms:?}"),
        format!("{dek:?}"),
        format!("{wrapped:?}"),
    ];
    let errors = [
        kms.unwrap_dek(&wrapped, &EncryptionContext::for_scope("x", "y").unwrap())
            .await
            .unwrap_err(),
        LocalKms::create(&path, "main").unwrap_err(),
    ];
    for e in &errors {
        printed.push(format!("{e}"));
        printed.push(format!("{e:?}"));
    }
    // A keyring with a corrupted key line: the error names the line, not the material.
    let mut text = fs::read_to_string(&path).unwrap();
    text = text.replacen(&materials[0], &format!("{}zz", &materials[0][..62]), 1);
    let broken = dir.path().join("broken");
    fs::write(&broken, &text).unwrap();
    fs::set_permissions(&broken, fs::Permissions::from_mode(0o600)).unwrap();
    let e = LocalKms::open(&broken).unwrap_err();
    assert!(e.to_string().contains("line"), "{e}");
    printed.push(format!("{e}"));
    printed.push(format!("{e:?}"));

    for text in &printed {
        for secret in materials.iter().chain(std::iter::once(&dek_hex)) {
            assert!(
                !text.contains(&secret[..16]),
                "secret material leaked into: {text}"
            );
        }
    }
    assert!(printed[0].contains("LocalKms"));
    assert_eq!(printed[1], "Dek(<redacted>)");
}
