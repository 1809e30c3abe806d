//! Envelope encryption for SpanForge: the AEV1 ciphertext format, a KMS abstraction with a local
//! keyring and AWS KMS providers, a bounded data-key cache, key rotation and crypto-shredding
//! support.
//!
//! # Where it sits
//!
//! `spanforge-crypto` is one layer above `spanforge-event` and does not depend on it: it encrypts
//! bytes, whatever they hold. The store layer uses it to encrypt event payloads at rest and to
//! shred a subject's data by destroying that subject's data key; the CLI picks a [`Kms`] at run
//! time (`Arc<dyn Kms>`) and drives key rotation. This crate does no I/O besides the local
//! keyring file and, behind the `aws-kms` feature, calls to AWS KMS. It never creates an async
//! runtime: its async functions run on the caller's.
//!
//! # Design
//!
//! * **AEV1** ([`envelope`]): AES-256-GCM under a key derived by HKDF-SHA256 from the data key
//!   and a *block* of 2^16 consecutive message ids (a message id is a per-thread OS-random prefix
//!   and a counter); the last 16 bits of the id are the GCM nonce, so a (key, nonce) pair never
//!   repeats, and the block key is set up once per block and cached inside the data key. A
//!   32-byte key commitment is checked (in constant time) before decryption. The tenant, event, purpose and data key id are in the authenticated
//!   header, so an envelope moved to another tenant or event does not open. Wrapped data keys are
//!   kept *outside* the AEAD associated data, so rotating a key-encryption key re-wraps them
//!   without touching payloads; they stay bound through the KMS encryption context and the
//!   commitment. The byte layout is specified in `docs/adr/002-aev1-envelope.md`.
//! * **[`Kms`]**: `generate_dek`, `unwrap_dek`, `rewrap`, each bound to an
//!   [`EncryptionContext`]. Providers: [`LocalKms`] (a `0600` keyring file with versioned keys)
//!   and, with the `aws-kms` feature, `AwsKms`.
//! * **[`DekCache`]**: bounded by age, messages per key and entries; concurrent misses are
//!   coalesced into one KMS call.
//! * **Crypto-shredding**: detached envelopes name their data key by id; when the store deletes
//!   the wrapped key, opening yields [`Error::KeyDestroyed`], distinct from tampering errors.
//! * **[`subject_hash`]**: a keyed (HMAC-SHA256) subject identifier for erasure evidence.
//!
//! # Features
//!
//! * `aws-kms` (off by default): the AWS KMS provider `AwsKms`, built on the official AWS SDK for
//!   Rust (`aws-config`, `aws-sdk-kms`) with exactly one TLS stack, hyper 1 + rustls on the
//!   *ring* provider. It honours the standard `AWS_*` environment variables
//!   (`AWS_ENDPOINT_URL`, `AWS_REGION`, credentials, profiles) when built with
//!   `AwsKms::from_env`. Building it needs a C compiler for ring (Debian: `build-essential`),
//!   not cmake; using it against real AWS needs the system trust roots (`ca-certificates`). Its
//!   tests run the `moto` KMS emulator from `target/venv` (`cargo xtask setup`; Debian:
//!   `python3-venv`).
//!
//! # Example
//!
//! ```
//! # async fn demo() -> spanforge_crypto::Result<()> {
//! use std::sync::Arc;
//! use spanforge_crypto::{
//!     CachePolicy, DekCache, EncryptionContext, EnvelopeCipher, Error, LocalKms,
//! };
//!
//! let dir = tempfile::tempdir().expect("temporary directory");
//! let kms = Arc::new(LocalKms::create(dir.path().join("keyring"), "main")?);
//! let cipher = EnvelopeCipher::new(kms.clone(), kms.primary("main")?, DekCache::new(CachePolicy::default()));
//!
//! // One data key per tenant and subject, kept by the store ("detached").
//! let scope = EncryptionContext::for_scope("acme", "ai-call/v1")?.with("subject", "3f1c…")?;
//! let (key_id, wrapped) = cipher.create_data_key(&scope).await?;
//!
//! let ctx = scope.with_event("evt-7")?;
//! let blob = cipher.seal_detached(&key_id, &wrapped, &ctx, b"prompt").await?;
//! assert_eq!(&cipher.open_detached(&blob, &ctx, Some(&wrapped)).await?[..], b"prompt");
//!
//! // Erasure: the store deletes the wrapped key and tells the cache.
//! cipher.forget_key(&wrapped, &scope);
//! let gone = cipher.open_detached(&blob, &ctx, None).await.unwrap_err();
//! assert!(matches!(gone, Error::KeyDestroyed { .. }));
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(demo()).expect("demo");
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used))]

#[cfg(feature = "aws-kms")]
pub mod aws;
pub mod cache;
pub mod cipher;
pub mod context;
pub mod envelope;
pub mod error;
pub mod keys;
pub mod kms;
pub mod local;
pub mod subject;

#[cfg(feature = "aws-kms")]
pub use aws::AwsKms;
pub use cache::{CachePolicy, CacheStats, Clock, DekCache, SystemClock};
pub use cipher::{EnvelopeCipher, rewrap_envelope};
pub use context::EncryptionContext;
pub use envelope::Envelope;
pub use error::{Error, Result};
pub use keys::{DataKey, DataKeyId, Dek, KeyRef, ProviderId, WrappedDek};
pub use kms::Kms;
pub use local::LocalKms;
pub use subject::{SubjectHashKey, subject_hash};
