//! Unit tests for the data-key cache with a counting KMS test double.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;

use async_trait::async_trait;

use super::*;
use crate::error::Error;
use crate::keys::ProviderId;

/// An in-memory KMS that counts calls, can be slowed down and can be told to fail.
#[derive(Debug, Default)]
struct CountingKms {
    generated: AtomicUsize,
    unwrapped: AtomicUsize,
    delay_ms: u64,
    fail: std::sync::atomic::AtomicBool,
    store: Mutex<HashMap<Vec<u8>, [u8; 32]>>,
}

impl CountingKms {
    fn slow(delay_ms: u64) -> Self {
        Self {
            delay_ms,
            ..Self::default()
        }
    }

    async fn pause(&self) {
        if self.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.delay_ms)).await;
        }
    }
}

#[async_trait]
impl Kms for CountingKms {
    fn provider(&self) -> ProviderId {
        ProviderId::Local
    }

    async fn generate_dek(
        &self,
        key: &KeyRef,
        _ctx: &EncryptionContext,
    ) -> Result<(Dek, WrappedDek)> {
        self.generated.fetch_add(1, Ordering::SeqCst);
        self.pause().await;
        if self.fail.load(Ordering::SeqCst) {
            return Err(Error::Throttled {
                provider: ProviderId::Local,
                retry_after: None,
            });
        }
        let dek = Dek::generate()?;
        let handle = crate::keys::random_array::<16>()?.to_vec();
        lock(&self.store).insert(handle.clone(), *dek.expose_secret());
        Ok((
            dek,
            WrappedDek::new(ProviderId::Local, key.key_id(), handle)?,
        ))
    }

    async fn unwrap_dek(&self, wrapped: &WrappedDek, _ctx: &EncryptionContext) -> Result<Dek> {
        self.unwrapped.fetch_add(1, Ordering::SeqCst);
        self.pause().await;
        let bytes = lock(&self.store).get(wrapped.blob()).copied();
        match bytes {
            Some(b) => Dek::from_slice(&b),
            None => Err(Error::UnwrapFailed {
                key_id: wrapped.key_id().to_owned(),
            }),
        }
    }

    async fn rewrap(
        &self,
        wrapped: &WrappedDek,
        _to: &KeyRef,
        _ctx: &EncryptionContext,
    ) -> Result<WrappedDek> {
        Ok(wrapped.clone())
    }
}

/// A clock the test moves by hand.
#[derive(Debug)]
struct ManualClock(Mutex<Instant>);

impl ManualClock {
    fn advance(&self, by: Duration) {
        let mut now = lock(&self.0);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *lock(&self.0)
    }
}

fn kek() -> KeyRef {
    KeyRef::new(ProviderId::Local, "local:main").unwrap()
}

fn scope(tenant: &str) -> EncryptionContext {
    EncryptionContext::for_scope(tenant, "ai-call/v1").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_make_one_kms_call() {
    let kms = Arc::new(CountingKms::slow(50));
    let cache = DekCache::new(CachePolicy::default());
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (kms, cache) = (Arc::clone(&kms), cache.clone());
        tasks.push(tokio::spawn(async move {
            cache
                .encryption_key(&*kms, &kek(), &scope("t"))
                .await
                .map(|k| k.id().clone())
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap().unwrap());
    }
    assert_eq!(kms.generated.load(Ordering::SeqCst), 1);
    assert!(
        ids.iter().all(|id| id == &ids[0]),
        "all callers share one data key"
    );
    let stats = cache.stats();
    assert_eq!((stats.encrypt_misses, stats.encrypt_hits), (1, 31));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_unwraps_make_one_kms_call() {
    let kms = Arc::new(CountingKms::slow(50));
    let cache = DekCache::new(CachePolicy::default());
    let (_, wrapped) = kms.generate_dek(&kek(), &scope("t")).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (kms, cache, wrapped) = (Arc::clone(&kms), cache.clone(), wrapped.clone());
        tasks.push(tokio::spawn(async move {
            cache
                .decryption_key(&*kms, &wrapped, &scope("t"))
                .await
                .map(|d| *d.expose_secret())
        }));
    }
    let mut keys = Vec::new();
    for t in tasks {
        keys.push(t.await.unwrap().unwrap());
    }
    assert_eq!(kms.unwrapped.load(Ordering::SeqCst), 1);
    assert!(keys.iter().all(|k| k == &keys[0]));
}

#[tokio::test]
async fn different_scopes_and_keks_get_different_keys() {
    let kms = CountingKms::default();
    let cache = DekCache::new(CachePolicy::default());
    let a = cache
        .encryption_key(&kms, &kek(), &scope("a"))
        .await
        .unwrap();
    let b = cache
        .encryption_key(&kms, &kek(), &scope("b"))
        .await
        .unwrap();
    let other_kek = KeyRef::new(ProviderId::Local, "local:other").unwrap();
    let c = cache
        .encryption_key(&kms, &other_kek, &scope("a"))
        .await
        .unwrap();
    assert_ne!(a.id(), b.id());
    assert_ne!(a.id(), c.id());
    assert_eq!(kms.generated.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn max_messages_bounds_reuse() {
    let kms = CountingKms::default();
    let cache = DekCache::new(CachePolicy {
        max_messages: 3,
        ..CachePolicy::default()
    });
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(
            cache
                .encryption_key(&kms, &kek(), &scope("t"))
                .await
                .unwrap()
                .id()
                .clone(),
        );
    }
    assert_eq!(kms.generated.load(Ordering::SeqCst), 3);
    assert!(ids[0] == ids[1] && ids[1] == ids[2]);
    assert!(ids[2] != ids[3] && ids[3] == ids[5] && ids[5] != ids[6]);
}

#[tokio::test]
async fn max_age_expires_entries_on_both_sides() {
    let kms = CountingKms::default();
    let clock = Arc::new(ManualClock(Mutex::new(Instant::now())));
    let cache = DekCache::with_clock(
        CachePolicy {
            max_age: Duration::from_secs(60),
            ..CachePolicy::default()
        },
        clock.clone(),
    );
    let first = cache
        .encryption_key(&kms, &kek(), &scope("t"))
        .await
        .unwrap();
    cache
        .decryption_key(&kms, first.wrapped(), &scope("t"))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(59));
    let again = cache
        .encryption_key(&kms, &kek(), &scope("t"))
        .await
        .unwrap();
    cache
        .decryption_key(&kms, first.wrapped(), &scope("t"))
        .await
        .unwrap();
    assert_eq!(first.id(), again.id());
    assert_eq!(kms.unwrapped.load(Ordering::SeqCst), 1);
    clock.advance(Duration::from_secs(1));
    let fresh = cache
        .encryption_key(&kms, &kek(), &scope("t"))
        .await
        .unwrap();
    cache
        .decryption_key(&kms, first.wrapped(), &scope("t"))
        .await
        .unwrap();
    assert_ne!(first.id(), fresh.id());
    assert_eq!(kms.generated.load(Ordering::SeqCst), 2);
    assert_eq!(kms.unwrapped.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn max_entries_evicts_the_oldest() {
    let kms = CountingKms::default();
    let clock = Arc::new(ManualClock(Mutex::new(Instant::now())));
    let cache = DekCache::with_clock(
        CachePolicy {
            max_entries: 2,
            ..CachePolicy::default()
        },
        clock.clone(),
    );
    let a = cache
        .encryption_key(&kms, &kek(), &scope("a"))
        .await
        .unwrap();
    clock.advance(Duration::from_millis(1));
    cache
        .encryption_key(&kms, &kek(), &scope("b"))
        .await
        .unwrap();
    clock.advance(Duration::from_millis(1));
    cache
        .encryption_key(&kms, &kek(), &scope("c"))
        .await
        .unwrap();
    assert_eq!(cache.stats().encrypt_entries, 2);
    // "a" was the oldest, so it was evicted: the cache no longer holds a reference to it.
    assert_eq!(Arc::strong_count(&a), 1);
    let a2 = cache
        .encryption_key(&kms, &kek(), &scope("a"))
        .await
        .unwrap();
    assert_ne!(a.id(), a2.id());
    assert_eq!(kms.generated.load(Ordering::SeqCst), 4);
    assert!(cache.stats().encrypt_entries <= 2);
}

#[tokio::test]
async fn forget_and_invalidate_drop_keys_immediately() {
    let kms = CountingKms::default();
    let cache = DekCache::new(CachePolicy::default());
    let k = cache
        .encryption_key(&kms, &kek(), &scope("t"))
        .await
        .unwrap();
    let d = cache
        .decryption_key(&kms, k.wrapped(), &scope("t"))
        .await
        .unwrap();
    assert_eq!(Arc::strong_count(&k), 2);
    assert_eq!(Arc::strong_count(&d), 2);

    cache.forget_wrapped(k.wrapped());
    assert_eq!(Arc::strong_count(&k), 1, "encryption side released the key");
    assert_eq!(Arc::strong_count(&d), 1, "decryption side released the key");
    assert_eq!(
        cache.stats().encrypt_entries + cache.stats().decrypt_entries,
        0
    );

    let k2 = cache
        .encryption_key(&kms, &kek(), &scope("t"))
        .await
        .unwrap();
    assert_ne!(k.id(), k2.id());
    cache.forget_data_key(k2.id());
    assert_eq!(Arc::strong_count(&k2), 1);

    let k3 = cache
        .encryption_key(&kms, &kek(), &scope("t"))
        .await
        .unwrap();
    cache
        .decryption_key(&kms, k3.wrapped(), &scope("t"))
        .await
        .unwrap();
    let other = cache
        .encryption_key(&kms, &kek(), &scope("u"))
        .await
        .unwrap();
    cache.invalidate_scope(&scope("t"));
    assert_eq!(Arc::strong_count(&k3), 1);
    assert_eq!(Arc::strong_count(&other), 2, "other scopes are untouched");
    assert_eq!(cache.stats().decrypt_entries, 0);

    cache.clear();
    assert_eq!(Arc::strong_count(&other), 1);
}

#[tokio::test]
async fn failures_are_not_cached() {
    let kms = CountingKms::default();
    let cache = DekCache::new(CachePolicy::default());
    kms.fail.store(true, Ordering::SeqCst);
    let err = cache
        .encryption_key(&kms, &kek(), &scope("t"))
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    kms.fail.store(false, Ordering::SeqCst);
    cache
        .encryption_key(&kms, &kek(), &scope("t"))
        .await
        .unwrap();
    assert_eq!(kms.generated.load(Ordering::SeqCst), 2);

    let bogus = WrappedDek::new(ProviderId::Local, "local:main/v1", vec![1, 2, 3]).unwrap();
    for _ in 0..2 {
        assert!(
            cache
                .decryption_key(&kms, &bogus, &scope("t"))
                .await
                .is_err()
        );
    }
    assert_eq!(kms.unwrapped.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn encryption_side_requires_a_scope() {
    let kms = CountingKms::default();
    let cache = DekCache::new(CachePolicy::default());
    let message_ctx = EncryptionContext::for_event("t", "e", "p").unwrap();
    assert!(matches!(
        cache.encryption_key(&kms, &kek(), &message_ctx).await,
        Err(Error::InvalidContext { .. })
    ));
    assert_eq!(kms.generated.load(Ordering::SeqCst), 0);
}

#[test]
fn zero_bounds_are_raised_to_one() {
    let cache = DekCache::new(CachePolicy {
        max_age: Duration::from_secs(1),
        max_messages: 0,
        max_entries: 0,
    });
    assert_eq!(cache.policy().max_messages, 1);
    assert_eq!(cache.policy().max_entries, 1);
    assert!(format!("{cache:?}").contains("DekCache"));
}
