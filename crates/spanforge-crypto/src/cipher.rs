//! [`EnvelopeCipher`]: AEV1 sealing and opening wired to a [`Kms`] and a [`DekCache`], plus KEK
//! rotation of envelopes and of detached wrapped keys.
//!
//! Two ways to keep the wrapped data key:
//!
//! * **embedded** ([`EnvelopeCipher::seal`] / [`EnvelopeCipher::open`]): the envelope carries its
//!   encrypted data key and is self-contained. Good for exports; not crypto-shreddable on its own,
//!   because anyone holding the KEK can unwrap the embedded key.
//! * **detached** ([`EnvelopeCipher::seal_detached`] / [`EnvelopeCipher::open_detached`]): the
//!   envelope names its data key by id and the store keeps the wrapped key, typically one per
//!   tenant and subject. Deleting that wrapped key crypto-shreds every envelope sealed with it;
//!   opening one afterwards yields [`Error::KeyDestroyed`].

use std::sync::Arc;

use crate::cache::DekCache;
use crate::context::EncryptionContext;
use crate::envelope::{self, Envelope};
use crate::error::{Error, Result};
use crate::keys::{DataKeyId, KeyRef, WrappedDek};
use crate::kms::Kms;

/// Seals and opens AEV1 envelopes with data keys from a KMS, through a data-key cache.
///
/// ```
/// # async fn demo() -> spanforge_crypto::Result<()> {
/// use std::sync::Arc;
/// use spanforge_crypto::{CachePolicy, DekCache, EncryptionContext, EnvelopeCipher, LocalKms};
///
/// let dir = tempfile::tempdir().expect("temporary directory");
/// let kms = Arc::new(LocalKms::create(dir.path().join("keyring"), "main")?);
/// let kek = kms.primary("main")?;
/// let cipher = EnvelopeCipher::new(kms, kek, DekCache::new(CachePolicy::default()));
///
/// let ctx = EncryptionContext::for_event("tenant-a", "evt-1", "ai-call/v1")?;
/// let blob = cipher.seal(&ctx, b"secret prompt").await?;
/// assert_eq!(&cipher.open(&blob, &ctx).await?[..], b"secret prompt");
///
/// // The same bytes presented as another event's payload do not open.
/// let other = EncryptionContext::for_event("tenant-a", "evt-2", "ai-call/v1")?;
/// assert!(cipher.open(&blob, &other).await.is_err());
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(demo()).expect("demo");
/// ```
#[derive(Clone, Debug)]
pub struct EnvelopeCipher {
    kms: Arc<dyn Kms>,
    kek: KeyRef,
    cache: DekCache,
}

impl EnvelopeCipher {
    /// Creates a cipher that wraps new data keys under `kek`.
    #[must_use]
    pub fn new(kms: Arc<dyn Kms>, kek: KeyRef, cache: DekCache) -> Self {
        Self { kms, kek, cache }
    }

    /// The KMS in use.
    #[must_use]
    pub fn kms(&self) -> &Arc<dyn Kms> {
        &self.kms
    }

    /// The key-encryption key new data keys are wrapped under.
    #[must_use]
    pub fn kek(&self) -> &KeyRef {
        &self.kek
    }

    /// The data-key cache.
    #[must_use]
    pub fn cache(&self) -> &DekCache {
        &self.cache
    }

    /// Seals `plaintext` for the message context `ctx` with a cached data key for
    /// `ctx.dek_scope()`, embedding the wrapped key in the envelope.
    ///
    /// # Errors
    /// [`Error::InvalidContext`] for an incomplete context; KMS errors on a cache miss.
    pub async fn seal(&self, ctx: &EncryptionContext, plaintext: &[u8]) -> Result<Vec<u8>> {
        ctx.validate_message()?;
        let data_key = self
            .cache
            .encryption_key(&*self.kms, &self.kek, &ctx.dek_scope())
            .await?;
        envelope::seal(
            data_key.dek(),
            data_key.id(),
            std::slice::from_ref(data_key.wrapped()),
            ctx,
            plaintext,
        )
    }

    /// Opens an envelope with embedded data keys, which must have been sealed for exactly
    /// `expected`. The first embedded key this KMS can unwrap and that matches the commitment is
    /// used.
    ///
    /// # Errors
    /// Parse errors; [`Error::ContextMismatch`] for another tenant or event;
    /// [`Error::InvalidInput`] for a detached envelope; [`Error::NoUsableEdk`] when no embedded
    /// key belongs to this provider; otherwise the first error met while trying the keys
    /// ([`Error::KeyUnavailable`] for a retired KEK, [`Error::UnwrapFailed`],
    /// [`Error::CommitmentMismatch`], [`Error::AuthenticationFailed`]).
    pub async fn open(&self, blob: &[u8], expected: &EncryptionContext) -> Result<Vec<u8>> {
        let env = Envelope::parse(blob)?;
        env.check_context(expected)?;
        if env.is_detached() {
            return Err(Error::InvalidInput {
                what: "envelope",
                reason: format!(
                    "it is detached (data key `{}` is kept in a key store); use open_detached",
                    env.key_id()
                ),
            });
        }
        let scope = expected.dek_scope();
        let mut first_error = None;
        for edk in env
            .edks()
            .iter()
            .filter(|e| e.provider() == self.kms.provider())
        {
            let attempt = match self.cache.decryption_key(&*self.kms, edk, &scope).await {
                Ok(dek) => env.open(&dek, expected),
                Err(e) => Err(e),
            };
            match attempt {
                Ok(plaintext) => return Ok(plaintext),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or(Error::NoUsableEdk {
            provider: self.kms.provider(),
        }))
    }

    /// Re-wraps every embedded data key of this KMS's provider under `to`, leaving the
    /// authenticated header and the body byte-for-byte unchanged (no payload is decrypted). Keys
    /// of other providers are kept as they are. See [`rewrap_envelope`].
    ///
    /// # Errors
    /// As for [`rewrap_envelope`].
    pub async fn rewrap(&self, blob: &[u8], to: &KeyRef) -> Result<Vec<u8>> {
        let env = Envelope::parse(blob)?;
        for edk in env.edks() {
            self.cache.forget_wrapped(edk);
        }
        rewrap_envelope(blob, &*self.kms, to).await
    }

    /// Generates a data key for a detached scope (for example one tenant and subject) and returns
    /// its new id and wrapped form, for the store to persist. The plaintext key goes into the
    /// decryption side of the cache so the first seal needs no further KMS call.
    ///
    /// # Errors
    /// [`Error::InvalidContext`] if `scope` is not a data-key scope; KMS errors.
    pub async fn create_data_key(
        &self,
        scope: &EncryptionContext,
    ) -> Result<(DataKeyId, WrappedDek)> {
        scope.validate_scope()?;
        let (dek, wrapped) = self.kms.generate_dek(&self.kek, scope).await?;
        // The first seal with this key would otherwise unwrap it again.
        self.cache.prime_decryption_key(&wrapped, scope, dek);
        Ok((DataKeyId::random()?, wrapped))
    }

    /// Seals `plaintext` for `ctx` as a detached envelope with the stored data key
    /// `(key_id, wrapped)`. The wrapped key must have been made for `ctx.dek_scope()`, which the
    /// KMS enforces when unwrapping it.
    ///
    /// # Errors
    /// [`Error::InvalidContext`]; [`Error::UnwrapFailed`] if the key belongs to another scope;
    /// KMS errors.
    pub async fn seal_detached(
        &self,
        key_id: &DataKeyId,
        wrapped: &WrappedDek,
        ctx: &EncryptionContext,
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        ctx.validate_message()?;
        let dek = self
            .cache
            .decryption_key(&*self.kms, wrapped, &ctx.dek_scope())
            .await?;
        envelope::seal(&dek, key_id, &[], ctx, plaintext)
    }

    /// Opens a detached envelope. `wrapped` is what the key store holds for the envelope's
    /// [`Envelope::key_id`]; `None` means the store has no such key any more.
    ///
    /// # Errors
    /// [`Error::KeyDestroyed`] when `wrapped` is `None` (the key was crypto-shredded);
    /// [`Error::ContextMismatch`]; [`Error::InvalidInput`] for an envelope with embedded keys;
    /// [`Error::UnwrapFailed`] or [`Error::CommitmentMismatch`] when the stored key is not this
    /// envelope's; [`Error::AuthenticationFailed`] when the envelope was modified.
    pub async fn open_detached(
        &self,
        blob: &[u8],
        expected: &EncryptionContext,
        wrapped: Option<&WrappedDek>,
    ) -> Result<Vec<u8>> {
        let env = Envelope::parse(blob)?;
        env.check_context(expected)?;
        if !env.is_detached() {
            return Err(Error::InvalidInput {
                what: "envelope",
                reason: "it embeds its data keys; use open".to_owned(),
            });
        }
        let Some(wrapped) = wrapped else {
            return Err(Error::KeyDestroyed {
                key_id: env.key_id().to_string(),
            });
        };
        let dek = self
            .cache
            .decryption_key(&*self.kms, wrapped, &expected.dek_scope())
            .await?;
        env.open(&dek, expected)
    }

    /// Re-wraps a stored (detached) data key under `to` for KEK rotation and drops the old wrap
    /// from the cache. Envelopes sealed with the key are untouched: they name the data key id,
    /// which does not change.
    ///
    /// # Errors
    /// KMS errors ([`Error::UnwrapFailed`] if `scope` is not the key's scope).
    pub async fn rewrap_key(
        &self,
        wrapped: &WrappedDek,
        scope: &EncryptionContext,
        to: &KeyRef,
    ) -> Result<WrappedDek> {
        let new = self.kms.rewrap(wrapped, to, scope).await?;
        self.cache.forget_wrapped(wrapped);
        Ok(new)
    }

    /// Forgets a data key that the store has just destroyed, so no cached copy outlives it.
    pub fn forget_key(&self, wrapped: &WrappedDek, scope: &EncryptionContext) {
        self.cache.forget_wrapped(wrapped);
        self.cache.invalidate_scope(scope);
    }
}

/// Re-wraps every embedded data key of `kms`'s provider in an AEV1 envelope under `to`.
///
/// Only the encrypted-data-key section changes; the authenticated header (context, data key id,
/// commitment) and the body are copied unchanged, so rotating a KEK never decrypts or
/// re-encrypts a payload and needs no plaintext data key outside the KMS. A tampered EDK makes the
/// KMS refuse ([`Error::UnwrapFailed`]); an EDK that rewraps to a different data key would still
/// fail the commitment check when the envelope is opened.
///
/// # Errors
/// Parse errors; [`Error::NoUsableEdk`] if no embedded key belongs to the provider
/// (including detached envelopes); KMS errors.
pub async fn rewrap_envelope(blob: &[u8], kms: &dyn Kms, to: &KeyRef) -> Result<Vec<u8>> {
    let env = Envelope::parse(blob)?;
    let scope = env.dek_scope();
    let mut edks = Vec::with_capacity(env.edks().len());
    let mut rewrapped = 0usize;
    for edk in env.edks() {
        if edk.provider() == kms.provider() {
            edks.push(kms.rewrap(edk, to, &scope).await?);
            rewrapped += 1;
        } else {
            edks.push(edk.clone());
        }
    }
    if rewrapped == 0 {
        return Err(Error::NoUsableEdk {
            provider: kms.provider(),
        });
    }
    env.with_edks(&edks)
}
