//! Where the compliance, model, tenant and readiness commands find the ledger and its keys.
//!
//! A small private helper until the shared keyring loader lands in the CLI:
//! - the ledger database is `--db FILE`, else `$SPANFORGE_DB`, else `./spanforge.db`;
//! - HMAC keys follow the reference SDK's environment convention through
//!   [`StaticKeys::from_env`] (`SPANFORGE_SIGNING_KEY`, `SPANFORGE_KEY_<ORG>`);
//! - the checkpoint signing key (Ed25519, a C2SP `PRIVATE+KEY+...` string) is read from the file
//!   named by `--checkpoint-key`, else from `$SPANFORGE_CHECKPOINT_KEY`. It signs checkpoints
//!   and evidence packages; its public key verifies both.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use spanforge_chain::note::{NoteSigner, NoteVerifier};
use spanforge_store::{SqliteLedger, StaticKeys};
use zeroize::Zeroizing;

/// The environment variable naming the ledger database.
pub(crate) const DB_ENV: &str = "SPANFORGE_DB";
/// The environment variable holding the checkpoint signing key itself.
pub(crate) const CHECKPOINT_KEY_ENV: &str = "SPANFORGE_CHECKPOINT_KEY";

/// Ledger and key options shared by the commands that read or write the ledger.
#[derive(Debug, Clone, Args)]
pub(crate) struct LedgerArgs {
    /// Ledger database (default: $SPANFORGE_DB, else ./spanforge.db).
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    /// File holding the checkpoint signing key, a C2SP `PRIVATE+KEY+...` string
    /// (default: the key in $SPANFORGE_CHECKPOINT_KEY).
    #[arg(long, value_name = "FILE")]
    checkpoint_key: Option<PathBuf>,
    #[command(flatten)]
    kms: crate::kms::KmsArgs,
}

impl LedgerArgs {
    /// The database path.
    pub(crate) fn db_path(&self) -> PathBuf {
        self.db
            .clone()
            .or_else(|| std::env::var_os(DB_ENV).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("spanforge.db"))
    }

    /// Opens an existing ledger.
    pub(crate) fn open_existing(&self) -> Result<SqliteLedger> {
        let path = self.db_path();
        if !path.exists() {
            bail!(
                "no ledger at {} (name one with --db or {DB_ENV})",
                path.display()
            );
        }
        let ledger = SqliteLedger::open_existing(&path)
            .with_context(|| format!("{}: cannot open the ledger", path.display()))?;
        self.with_kms(ledger)
    }

    /// Lets the ledger decrypt payloads when a KMS is configured.
    fn with_kms(&self, ledger: SqliteLedger) -> Result<SqliteLedger> {
        Ok(match self.kms.service(false)? {
            Some(service) => ledger.with_data_keys(service),
            None => ledger,
        })
    }

    /// Opens the ledger, creating it if needed.
    pub(crate) fn open_or_create(&self) -> Result<SqliteLedger> {
        let path = self.db_path();
        let ledger = SqliteLedger::open(&path)
            .with_context(|| format!("{}: cannot open the ledger", path.display()))?;
        self.with_kms(ledger)
    }

    /// The checkpoint signing key, if one is configured.
    pub(crate) fn checkpoint_signer(&self) -> Result<Option<NoteSigner>> {
        let text: Zeroizing<String> =
            match &self.checkpoint_key {
                Some(path) => Zeroizing::new(std::fs::read_to_string(path).with_context(|| {
                    format!("{}: cannot read the checkpoint key", path.display())
                })?),
                None => match std::env::var(CHECKPOINT_KEY_ENV) {
                    Ok(v) => Zeroizing::new(v),
                    Err(_) => return Ok(None),
                },
            };
        let signer = NoteSigner::from_skey(text.trim()).map_err(|e| {
            anyhow::anyhow!("the checkpoint signing key is not a valid C2SP private key: {e}")
        })?;
        Ok(Some(signer))
    }

    /// The keys: HMAC keys from the environment, and the checkpoint key if configured.
    pub(crate) fn keys(&self) -> Result<StaticKeys> {
        let mut keys = StaticKeys::from_env(|name| std::env::var(name).ok())
            .context("reading signing keys from the environment")?;
        if let Some(signer) = self.checkpoint_signer()? {
            keys = keys.with_checkpoint_signer(signer);
        }
        Ok(keys)
    }
}

/// Reads public keys (C2SP `vkey` strings, one per line; blank lines and `#` comments are
/// ignored) from a file.
pub(crate) fn read_verifiers(path: &std::path::Path) -> Result<Vec<NoteVerifier>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the public key file", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(NoteVerifier::from_vkey(line).map_err(|e| {
            anyhow::anyhow!("{}:{}: not a C2SP public key: {e}", path.display(), i + 1)
        })?);
    }
    if out.is_empty() {
        bail!("{}: no public key found", path.display());
    }
    Ok(out)
}

/// Microseconds since the epoch, now.
pub(crate) fn now_micros() -> Result<i64> {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?;
    i64::try_from(since.as_micros()).context("the system clock is out of range")
}

/// The actor named by `--actor`, else `$SPANFORGE_ACTOR`.
pub(crate) fn actor(given: Option<&str>) -> Result<String> {
    match given {
        Some(a) if !a.trim().is_empty() => Ok(a.to_owned()),
        _ => std::env::var("SPANFORGE_ACTOR")
            .ok()
            .filter(|a| !a.trim().is_empty())
            .context("name who acts with --actor (or SPANFORGE_ACTOR)"),
    }
}
