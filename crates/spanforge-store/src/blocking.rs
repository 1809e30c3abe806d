//! [`BlockingKms`]: the [`DataKeyService`] for synchronous callers, over any async [`Kms`].
//!
//! The ledger is synchronous and calls its data-key service only when it meets a scope it has
//! not unwrapped yet, so one small current-thread runtime, owned by the adapter, is all an async
//! KMS client needs. The ledger itself never creates a runtime; a caller that already runs one
//! implements [`DataKeyService`] over its own handle instead.

use std::fmt;
use std::sync::Arc;

use spanforge_crypto::{Dek, EncryptionContext, KeyRef, Kms, WrappedDek};

use crate::encryption::DataKeyService;

/// A [`DataKeyService`] that wraps new data keys under `kek` in `kms`, blocking on a runtime of
/// its own for each call.
pub struct BlockingKms {
    kms: Arc<dyn Kms>,
    kek: KeyRef,
    rt: tokio::runtime::Runtime,
}

impl BlockingKms {
    /// The adapter for `kms`, wrapping new data keys under `kek` (unwrapping reads the key a
    /// wrapped data key names, so keys wrapped under older versions keep working).
    ///
    /// # Errors
    ///
    /// The operating system refused the runtime's resources (threads, I/O drivers).
    pub fn new(kms: Arc<dyn Kms>, kek: KeyRef) -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Self { kms, kek, rt })
    }

    /// The KMS it calls.
    pub fn kms(&self) -> &Arc<dyn Kms> {
        &self.kms
    }

    /// Runs `call` on the adapter's runtime, or fails cleanly where blocking is impossible: a
    /// thread that is already driving an async runtime cannot block on another.
    fn block_on<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = spanforge_crypto::Result<T>>,
    ) -> spanforge_crypto::Result<T> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(spanforge_crypto::Error::Kms {
                provider: self.kek.provider(),
                operation,
                message: "BlockingKms was called from inside an async runtime; implement \
                          DataKeyService over that runtime's handle instead"
                    .to_owned(),
                retryable: false,
            });
        }
        self.rt.block_on(call)
    }
}

impl fmt::Debug for BlockingKms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingKms")
            .field("kms", &self.kms)
            .field("kek", &self.kek)
            .finish_non_exhaustive()
    }
}

impl DataKeyService for BlockingKms {
    fn kek(&self) -> String {
        self.kek.key_id().to_owned()
    }

    fn generate(&self, scope: &EncryptionContext) -> spanforge_crypto::Result<(Dek, WrappedDek)> {
        self.block_on("GenerateDataKey", self.kms.generate_dek(&self.kek, scope))
    }

    fn unwrap(
        &self,
        wrapped: &WrappedDek,
        scope: &EncryptionContext,
    ) -> spanforge_crypto::Result<Dek> {
        self.block_on("Decrypt", self.kms.unwrap_dek(wrapped, scope))
    }

    fn rewrap(
        &self,
        wrapped: &WrappedDek,
        scope: &EncryptionContext,
    ) -> spanforge_crypto::Result<WrappedDek> {
        self.block_on("ReEncrypt", self.kms.rewrap(wrapped, &self.kek, scope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_a_runtime_it_errs_instead_of_panicking() {
        let dir = tempfile::tempdir().unwrap();
        let local = Arc::new(
            spanforge_crypto::LocalKms::create(dir.path().join("kms.keyring"), "payload").unwrap(),
        );
        let kek = local.primary("payload").unwrap();
        let service = BlockingKms::new(local, kek).unwrap();
        let scope = EncryptionContext::for_scope("acme", "spanforge.payload/v1").unwrap();
        // Outside a runtime: a real round trip through the local KMS.
        let (dek, wrapped) = service.generate(&scope).unwrap();
        let again = service.unwrap(&wrapped, &scope).unwrap();
        assert_eq!(dek.expose_secret(), again.expose_secret());
        // Inside one: a clear error, no panic.
        let outer = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let err = outer
            .block_on(async { service.unwrap(&wrapped, &scope) })
            .unwrap_err();
        assert!(err.to_string().contains("inside an async runtime"), "{err}");
    }
}
