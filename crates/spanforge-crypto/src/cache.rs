//! [`DekCache`]: a bounded cache of data keys that keeps KMS calls (and their cost, latency and
//! throttling) proportional to the number of scopes rather than the number of messages.
//!
//! Two independent maps:
//!
//! * **encryption side**, keyed by (KEK reference, data-key scope): a generated [`DataKey`] is
//!   reused for at most [`CachePolicy::max_messages`] envelopes and [`CachePolicy::max_age`];
//! * **decryption side**, keyed by (wrapped data key bytes, scope): the plaintext key an unwrap
//!   returned, for [`CachePolicy::max_age`].
//!
//! Concurrent misses for the same entry are coalesced (single flight): the first caller talks to
//! the KMS while the others wait for its result, so N parallel encrypts for one scope make one
//! `GenerateDataKey` call. A failed KMS call is not shared: the next waiter retries it.
//!
//! Evicted keys are dropped by the cache at once and zeroized when the last in-flight user
//! releases its `Arc`. [`DekCache::forget_wrapped`], [`DekCache::forget_data_key`] and
//! [`DekCache::invalidate_scope`] let crypto-shredding drop a destroyed key immediately.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::context::EncryptionContext;
use crate::error::Result;
use crate::keys::{DataKey, DataKeyId, Dek, KeyRef, WrappedDek};
use crate::kms::Kms;

/// Bounds on how long and how much a cached data key may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachePolicy {
    /// How long a data key stays usable after it was generated or unwrapped.
    pub max_age: Duration,
    /// How many envelopes one generated data key may seal before a new one is generated
    /// (values below 1 are treated as 1).
    pub max_messages: u64,
    /// How many entries each side of the cache holds; the oldest is evicted beyond that.
    pub max_entries: usize,
}

impl Default for CachePolicy {
    /// Five minutes, 2²⁰ messages per key, 1024 entries per side.
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(300),
            max_messages: 1 << 20,
            max_entries: 1024,
        }
    }
}

/// A source of monotonic time, injectable so tests can age entries without sleeping.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Counters describing cache behaviour since creation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Encryption-side requests served from the cache (including coalesced waiters).
    pub encrypt_hits: u64,
    /// Encryption-side requests that called `Kms::generate_dek`.
    pub encrypt_misses: u64,
    /// Decryption-side requests served from the cache (including coalesced waiters).
    pub decrypt_hits: u64,
    /// Decryption-side requests that called `Kms::unwrap_dek`.
    pub decrypt_misses: u64,
    /// Entries currently held on the encryption side.
    pub encrypt_entries: usize,
    /// Entries currently held on the decryption side.
    pub decrypt_entries: usize,
}

/// A bounded, single-flight data-key cache; cheap to clone (clones share the same cache).
#[derive(Clone)]
pub struct DekCache {
    inner: Arc<Inner>,
}

struct Inner {
    policy: CachePolicy,
    clock: Arc<dyn Clock>,
    enc: Mutex<HashMap<EncKey, Arc<Slot<EncEntry>>>>,
    dec: Mutex<HashMap<DecKey, Arc<Slot<DecEntry>>>>,
    encrypt_hits: AtomicU64,
    encrypt_misses: AtomicU64,
    decrypt_hits: AtomicU64,
    decrypt_misses: AtomicU64,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct EncKey {
    kek: KeyRef,
    scope: Vec<u8>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct DecKey {
    wrapped: Vec<u8>,
    scope: Vec<u8>,
}

/// One cache entry plus the lock that serializes KMS calls for it.
struct Slot<E> {
    state: Mutex<Option<E>>,
    fill: tokio::sync::Mutex<()>,
}

impl<E> Slot<E> {
    fn new() -> Self {
        Self {
            state: Mutex::new(None),
            fill: tokio::sync::Mutex::new(()),
        }
    }
}

struct EncEntry {
    key: Arc<DataKey>,
    created: Instant,
    uses: u64,
}

struct DecEntry {
    dek: Arc<Dek>,
    created: Instant,
}

trait Entry {
    fn created(&self) -> Instant;
}

impl Entry for EncEntry {
    fn created(&self) -> Instant {
        self.created
    }
}

impl Entry for DecEntry {
    fn created(&self) -> Instant {
        self.created
    }
}

/// Locks a std mutex, recovering from poisoning: every critical section here is a single map or
/// option update, so a panic elsewhere cannot leave the data inconsistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl DekCache {
    /// Creates a cache with the given bounds and the system clock.
    #[must_use]
    pub fn new(policy: CachePolicy) -> Self {
        Self::with_clock(policy, Arc::new(SystemClock))
    }

    /// Creates a cache with the given bounds and clock.
    #[must_use]
    pub fn with_clock(policy: CachePolicy, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                policy: CachePolicy {
                    max_messages: policy.max_messages.max(1),
                    max_entries: policy.max_entries.max(1),
                    ..policy
                },
                clock,
                enc: Mutex::new(HashMap::new()),
                dec: Mutex::new(HashMap::new()),
                encrypt_hits: AtomicU64::new(0),
                encrypt_misses: AtomicU64::new(0),
                decrypt_hits: AtomicU64::new(0),
                decrypt_misses: AtomicU64::new(0),
            }),
        }
    }

    /// The bounds this cache enforces.
    #[must_use]
    pub fn policy(&self) -> CachePolicy {
        self.inner.policy
    }

    /// Returns a data key for sealing one envelope under `kek` and `scope`, generating (and
    /// wrapping) a new one through `kms` when no fresh cached key is left. Each call counts as
    /// one message against [`CachePolicy::max_messages`].
    ///
    /// # Errors
    /// [`Error::InvalidContext`](crate::Error::InvalidContext) if `scope` is not a valid
    /// data-key scope; any error of `kms.generate_dek`.
    pub async fn encryption_key(
        &self,
        kms: &dyn Kms,
        kek: &KeyRef,
        scope: &EncryptionContext,
    ) -> Result<Arc<DataKey>> {
        scope.validate_scope()?;
        let key = EncKey {
            kek: kek.clone(),
            scope: scope.canonical_bytes(),
        };
        let slot = self.slot(&self.inner.enc, key);
        if let Some(found) = self.take_enc(&slot) {
            self.inner.encrypt_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(found);
        }
        let _filling = slot.fill.lock().await;
        if let Some(found) = self.take_enc(&slot) {
            self.inner.encrypt_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(found);
        }
        self.inner.encrypt_misses.fetch_add(1, Ordering::Relaxed);
        let (dek, wrapped) = kms.generate_dek(kek, scope).await?;
        let data_key = Arc::new(DataKey::new(
            DataKeyId::random()?,
            dek,
            wrapped,
            scope.clone(),
        ));
        *lock(&slot.state) = Some(EncEntry {
            key: Arc::clone(&data_key),
            created: self.inner.clock.now(),
            uses: 1,
        });
        Ok(data_key)
    }

    /// Returns the plaintext of `wrapped` under `scope`, unwrapping through `kms` on a miss.
    ///
    /// # Errors
    /// Any error of `kms.unwrap_dek`.
    pub async fn decryption_key(
        &self,
        kms: &dyn Kms,
        wrapped: &WrappedDek,
        scope: &EncryptionContext,
    ) -> Result<Arc<Dek>> {
        let key = DecKey {
            wrapped: wrapped.to_bytes(),
            scope: scope.canonical_bytes(),
        };
        let slot = self.slot(&self.inner.dec, key);
        if let Some(found) = self.take_dec(&slot) {
            self.inner.decrypt_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(found);
        }
        let _filling = slot.fill.lock().await;
        if let Some(found) = self.take_dec(&slot) {
            self.inner.decrypt_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(found);
        }
        self.inner.decrypt_misses.fetch_add(1, Ordering::Relaxed);
        let dek = Arc::new(kms.unwrap_dek(wrapped, scope).await?);
        *lock(&slot.state) = Some(DecEntry {
            dek: Arc::clone(&dek),
            created: self.inner.clock.now(),
        });
        Ok(dek)
    }

    /// Stores a plaintext key the caller just obtained (for example from a fresh
    /// `generate_dek`) on the decryption side, as if it had been unwrapped.
    pub(crate) fn prime_decryption_key(
        &self,
        wrapped: &WrappedDek,
        scope: &EncryptionContext,
        dek: Dek,
    ) {
        let key = DecKey {
            wrapped: wrapped.to_bytes(),
            scope: scope.canonical_bytes(),
        };
        let slot = self.slot(&self.inner.dec, key);
        *lock(&slot.state) = Some(DecEntry {
            dek: Arc::new(dek),
            created: self.inner.clock.now(),
        });
    }

    /// Drops every cached copy of the data key behind `wrapped` (both sides, all scopes). Call it
    /// right after destroying or re-wrapping that key.
    pub fn forget_wrapped(&self, wrapped: &WrappedDek) {
        let bytes = wrapped.to_bytes();
        remove_where(&self.inner.dec, |k, _| k.wrapped == bytes);
        remove_where(&self.inner.enc, |_, e| {
            e.is_some_and(|e| e.key.wrapped() == wrapped)
        });
    }

    /// Drops the encryption-side entry holding the data key `id`, if any.
    pub fn forget_data_key(&self, id: &DataKeyId) {
        remove_where(&self.inner.enc, |_, e| e.is_some_and(|e| e.key.id() == id));
    }

    /// Drops every entry (both sides, all KEKs) whose data-key scope is `scope`, for example
    /// when a subject's keys are destroyed.
    pub fn invalidate_scope(&self, scope: &EncryptionContext) {
        let bytes = scope.canonical_bytes();
        remove_where(&self.inner.enc, |k, _| k.scope == bytes);
        remove_where(&self.inner.dec, |k, _| k.scope == bytes);
    }

    /// Drops every entry.
    pub fn clear(&self) {
        remove_where(&self.inner.enc, |_, _| true);
        remove_where(&self.inner.dec, |_, _| true);
    }

    /// Current counters and sizes.
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            encrypt_hits: self.inner.encrypt_hits.load(Ordering::Relaxed),
            encrypt_misses: self.inner.encrypt_misses.load(Ordering::Relaxed),
            decrypt_hits: self.inner.decrypt_hits.load(Ordering::Relaxed),
            decrypt_misses: self.inner.decrypt_misses.load(Ordering::Relaxed),
            encrypt_entries: lock(&self.inner.enc).len(),
            decrypt_entries: lock(&self.inner.dec).len(),
        }
    }

    fn fresh(&self, created: Instant) -> bool {
        self.inner.clock.now().saturating_duration_since(created) < self.inner.policy.max_age
    }

    fn take_enc(&self, slot: &Slot<EncEntry>) -> Option<Arc<DataKey>> {
        let mut state = lock(&slot.state);
        match state.as_mut() {
            Some(e) if self.fresh(e.created) && e.uses < self.inner.policy.max_messages => {
                e.uses += 1;
                Some(Arc::clone(&e.key))
            }
            Some(_) => {
                // Expired or used up: drop the cache's reference now.
                *state = None;
                None
            }
            None => None,
        }
    }

    fn take_dec(&self, slot: &Slot<DecEntry>) -> Option<Arc<Dek>> {
        let mut state = lock(&slot.state);
        match state.as_ref() {
            Some(e) if self.fresh(e.created) => Some(Arc::clone(&e.dek)),
            Some(_) => {
                *state = None;
                None
            }
            None => None,
        }
    }

    /// Finds or creates the slot for `key`, evicting to stay within `max_entries`.
    fn slot<K: Clone + Eq + Hash, E: Entry>(
        &self,
        map: &Mutex<HashMap<K, Arc<Slot<E>>>>,
        key: K,
    ) -> Arc<Slot<E>> {
        let mut map = lock(map);
        if let Some(slot) = map.get(&key) {
            return Arc::clone(slot);
        }
        if map.len() >= self.inner.policy.max_entries {
            // First drop stale entries, then (if still full) the oldest filled one.
            map.retain(|_, slot| match lock(&slot.state).as_ref() {
                Some(e) => self.fresh(e.created()),
                // An empty slot is either being filled right now (keep it, or concurrent
                // callers would stop sharing that KMS call) or left over from a failed call.
                None => slot.fill.try_lock().is_err(),
            });
            while map.len() >= self.inner.policy.max_entries {
                let oldest = map
                    .iter()
                    .filter_map(|(k, s)| lock(&s.state).as_ref().map(|e| (k, e.created())))
                    .min_by_key(|(_, created)| *created)
                    .map(|(k, _)| k.clone());
                let Some(oldest) = oldest else { break };
                map.remove(&oldest);
            }
        }
        let slot = Arc::new(Slot::new());
        map.insert(key, Arc::clone(&slot));
        slot
    }
}

/// Removes (and empties, so holders of the slot cannot use it either) every slot matching
/// `pred`, which sees the key and the entry (`None` while a KMS call is filling the slot).
fn remove_where<K, E>(
    map: &Mutex<HashMap<K, Arc<Slot<E>>>>,
    pred: impl Fn(&K, Option<&E>) -> bool,
) {
    lock(map).retain(|k, slot| {
        let mut state = lock(&slot.state);
        if pred(k, state.as_ref()) {
            *state = None;
            false
        } else {
            true
        }
    });
}

impl fmt::Debug for DekCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DekCache")
            .field("policy", &self.inner.policy)
            .field("stats", &self.stats())
            .finish()
    }
}

#[cfg(test)]
mod tests;
