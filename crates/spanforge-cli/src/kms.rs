//! Where the CLI finds the KMS that wraps the ledger's payload data keys, and the synchronous
//! [`DataKeyService`] the store uses, driven by a tokio runtime that this binary owns.
//!
//! Providers:
//! - the local keyring (`--kms-keyring FILE`, else `$SPANFORGE_KMS_KEYRING`, else
//!   `./spanforge-kms.keyring` when it exists): key-encryption keys in a 0600 file
//!   ([`LocalKms`]); `--kms-key NAME` (default `payload`) names the key;
//! - AWS KMS (built with the `aws-kms` feature): `--aws-kms-key ARN|alias` (or
//!   `$SPANFORGE_AWS_KMS_KEY`), with the standard `AWS_*` environment for region, endpoint and
//!   credentials.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use spanforge_crypto::{KeyRef, Kms, LocalKms};
use spanforge_store::{BlockingKms, DataKeyService};

/// The default local KMS keyring, in the working directory.
pub(crate) const DEFAULT_KMS_KEYRING: &str = "spanforge-kms.keyring";
/// The environment variable naming the local KMS keyring.
pub(crate) const KMS_KEYRING_ENV: &str = "SPANFORGE_KMS_KEYRING";
/// The environment variable naming the AWS KMS key.
#[cfg(feature = "aws-kms")]
pub(crate) const AWS_KMS_KEY_ENV: &str = "SPANFORGE_AWS_KMS_KEY";

/// Options naming the KMS that wraps payload data keys.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct KmsArgs {
    /// The local KMS keyring holding the key-encryption keys of encrypted payloads (default:
    /// $SPANFORGE_KMS_KEYRING, else ./spanforge-kms.keyring if it exists).
    #[arg(long, value_name = "FILE")]
    pub(crate) kms_keyring: Option<PathBuf>,
    /// The key-encryption key's name in the local KMS keyring.
    #[arg(long, value_name = "NAME", default_value = "payload")]
    pub(crate) kms_key: String,
    /// An AWS KMS key (id, ARN or alias) to wrap data keys with instead of the local keyring
    /// (default: $SPANFORGE_AWS_KMS_KEY); region, endpoint and credentials come from the
    /// standard AWS_* environment.
    #[cfg(feature = "aws-kms")]
    #[arg(long, value_name = "KEY")]
    pub(crate) aws_kms_key: Option<String>,
}

/// A configured KMS: the provider and the key new data keys are wrapped under.
pub(crate) enum Configured {
    /// The local keyring.
    Local(Arc<LocalKms>),
    /// AWS KMS.
    #[cfg(feature = "aws-kms")]
    Aws(Arc<spanforge_crypto::AwsKms>, String),
}

impl KmsArgs {
    fn kms_key_name(&self) -> &str {
        if self.kms_key.is_empty() {
            "payload"
        } else {
            &self.kms_key
        }
    }

    /// The local keyring path that applies, and whether it was named explicitly.
    pub(crate) fn keyring_path(&self) -> (PathBuf, bool) {
        if let Some(p) = &self.kms_keyring {
            return (p.clone(), true);
        }
        if let Some(p) = std::env::var_os(KMS_KEYRING_ENV) {
            return (PathBuf::from(p), true);
        }
        (PathBuf::from(DEFAULT_KMS_KEYRING), false)
    }

    #[cfg(feature = "aws-kms")]
    fn aws_key(&self) -> Option<String> {
        self.aws_kms_key
            .clone()
            .or_else(|| std::env::var(AWS_KMS_KEY_ENV).ok())
            .filter(|k| !k.is_empty())
    }

    /// The configured KMS, if any. `create` makes a new local keyring (mode 0600) with one key
    /// when none exists yet.
    pub(crate) fn configured(&self, create: bool) -> Result<Option<Configured>> {
        #[cfg(feature = "aws-kms")]
        if let Some(key) = self.aws_key() {
            let rt = runtime()?;
            let kms = rt.block_on(spanforge_crypto::AwsKms::from_env());
            return Ok(Some(Configured::Aws(Arc::new(kms), key)));
        }
        let (path, explicit) = self.keyring_path();
        if path.exists() {
            let kms = LocalKms::open(&path)
                .with_context(|| format!("{}: cannot open the KMS keyring", path.display()))?;
            return Ok(Some(Configured::Local(Arc::new(kms))));
        }
        if create {
            let kms = LocalKms::create(&path, self.kms_key_name())
                .with_context(|| format!("{}: cannot create the KMS keyring", path.display()))?;
            eprintln!(
                "spanforge: created the KMS keyring {} (mode 0600) with key-encryption key `{}`; \
                 back it up: without it the encrypted payloads cannot be read",
                path.display(),
                self.kms_key_name()
            );
            return Ok(Some(Configured::Local(Arc::new(kms))));
        }
        if explicit {
            bail!("{}: no such KMS keyring", path.display());
        }
        Ok(None)
    }

    /// The data-key service for the configured KMS, if any.
    pub(crate) fn service(&self, create: bool) -> Result<Option<Arc<dyn DataKeyService>>> {
        let Some(configured) = self.configured(create)? else {
            return Ok(None);
        };
        Ok(Some(Arc::new(blocking(configured, self.kms_key_name())?)))
    }
}

/// A tokio runtime for driving KMS calls from this synchronous binary.
#[cfg(feature = "aws-kms")]
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime for KMS calls")
}

/// The data-key service wrapping new data keys under the primary version of `name` (local) or
/// the configured AWS key.
pub(crate) fn blocking(configured: Configured, name: &str) -> Result<BlockingKms> {
    let (kms, kek): (Arc<dyn Kms>, KeyRef) = match configured {
        Configured::Local(local) => {
            let kek = local.primary(name).with_context(|| {
                format!(
                    "{}: the KMS keyring has no key `{name}` (choose one with --kms-key)",
                    local.path().display()
                )
            })?;
            (local, kek)
        }
        #[cfg(feature = "aws-kms")]
        Configured::Aws(aws, key) => {
            let kek = KeyRef::new(spanforge_crypto::ProviderId::Aws, key)?;
            (aws, kek)
        }
    };
    BlockingKms::new(kms, kek).context("starting the async runtime for KMS calls")
}
