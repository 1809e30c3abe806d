//! The [`Kms`] trait: the three operations envelope encryption needs from a key management
//! service, each bound to an encryption context.
//!
//! The trait is object-safe (through `async-trait`) so the CLI can pick a provider at run time and
//! hold it as `Arc<dyn Kms>`. Implementations do their own I/O on whatever runtime the caller
//! drives; this crate never creates one.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::context::EncryptionContext;
use crate::error::Result;
use crate::keys::{Dek, KeyRef, ProviderId, WrappedDek};

/// A key management service that wraps and unwraps data keys under key-encryption keys (KEKs).
///
/// Every operation takes an encryption context (a data-key scope, see
/// [`EncryptionContext::dek_scope`]); a wrapped key only unwraps under the exact context it was
/// wrapped with. Implementations must:
///
/// * return [`Error::UnwrapFailed`](crate::Error::UnwrapFailed) when the context or ciphertext
///   does not match, and [`Error::KeyUnavailable`](crate::Error::KeyUnavailable) when the KEK is
///   unknown, retired or disabled, so callers can tell tampering from key lifecycle;
/// * never put key material or credentials into errors or `Debug` output.
#[async_trait]
pub trait Kms: Send + Sync + fmt::Debug {
    /// The provider this KMS implements; [`WrappedDek`]s from other providers are not its to
    /// unwrap.
    fn provider(&self) -> ProviderId;

    /// Generates a fresh data key and returns it together with its wrapped form under `key`
    /// (an unversioned reference means the key's current primary version).
    async fn generate_dek(
        &self,
        key: &KeyRef,
        ctx: &EncryptionContext,
    ) -> Result<(Dek, WrappedDek)>;

    /// Unwraps a data key. The KEK is the exact version named by `wrapped`.
    async fn unwrap_dek(&self, wrapped: &WrappedDek, ctx: &EncryptionContext) -> Result<Dek>;

    /// Re-wraps a data key under `to` without returning its plaintext to the caller (AWS
    /// `ReEncrypt`; the local keyring unwraps and wraps in memory). The context stays the same.
    async fn rewrap(
        &self,
        wrapped: &WrappedDek,
        to: &KeyRef,
        ctx: &EncryptionContext,
    ) -> Result<WrappedDek>;
}

#[async_trait]
impl<K: Kms + ?Sized> Kms for Arc<K> {
    fn provider(&self) -> ProviderId {
        (**self).provider()
    }

    async fn generate_dek(
        &self,
        key: &KeyRef,
        ctx: &EncryptionContext,
    ) -> Result<(Dek, WrappedDek)> {
        (**self).generate_dek(key, ctx).await
    }

    async fn unwrap_dek(&self, wrapped: &WrappedDek, ctx: &EncryptionContext) -> Result<Dek> {
        (**self).unwrap_dek(wrapped, ctx).await
    }

    async fn rewrap(
        &self,
        wrapped: &WrappedDek,
        to: &KeyRef,
        ctx: &EncryptionContext,
    ) -> Result<WrappedDek> {
        (**self).rewrap(wrapped, to, ctx).await
    }
}
