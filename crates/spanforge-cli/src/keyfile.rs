//! Where the CLI finds its ledger and keys: the ledger path, the keyring file (read with its
//! permissions checked, written atomically with mode 0600) and the key provider built from the
//! keyring and the environment.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use spanforge_chain::keyring::{KeyStatus, KeyringFile};
use spanforge_chain::note::{NoteSigner, NoteVerifier};
use spanforge_store::{HmacKey, KeyId, SqliteLedger, StaticKeys, TenantId};

/// The default keyring file, in the working directory.
pub(crate) const DEFAULT_KEYRING: &str = "spanforge-keys.json";
/// The default ledger file, in the working directory.
pub(crate) const DEFAULT_DB: &str = "spanforge.db";

/// Options shared by every command that opens the ledger.
#[derive(Debug, Clone, Args)]
pub(crate) struct LedgerArgs {
    /// The ledger database (default: $SPANFORGE_DB, else ./spanforge.db).
    #[arg(long, value_name = "PATH")]
    pub(crate) db: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) keys: KeyArgs,
    #[command(flatten)]
    pub(crate) kms: crate::kms::KmsArgs,
}

/// Options shared by every command that needs keys.
#[derive(Debug, Clone, Args)]
pub(crate) struct KeyArgs {
    /// The keyring file (default: $SPANFORGE_KEYRING, else ./spanforge-keys.json if it exists).
    /// Without one, keys come from `SPANFORGE_SIGNING_KEY` and `SPANFORGE_KEY_<ORG>`.
    #[arg(long, value_name = "FILE")]
    pub(crate) keyring: Option<PathBuf>,
}

impl LedgerArgs {
    /// The ledger path.
    pub(crate) fn db_path(&self) -> PathBuf {
        self.db
            .clone()
            .or_else(|| std::env::var_os("SPANFORGE_DB").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DB))
    }

    /// Opens an existing ledger; a missing file is an error that says how to name one.
    pub(crate) fn open_existing(&self) -> Result<SqliteLedger> {
        let path = self.db_path();
        if !path.exists() {
            bail!(
                "no ledger at {} (name one with --db or SPANFORGE_DB)",
                path.display()
            );
        }
        self.open(false)
    }

    /// The key provider of [`KeyArgs::provider`].
    pub(crate) fn keys(&self) -> Result<StaticKeys> {
        self.keys.provider()
    }

    /// The checkpoint signing key of the keyring, which signs checkpoints and evidence packages;
    /// an error that says how to create one when there is none.
    pub(crate) fn checkpoint_signer(&self) -> Result<NoteSigner> {
        let (path, _) = self.keys.path();
        let ring = self.keys.load()?.with_context(|| {
            format!(
                "no keyring at {}: run `spanforge keys init` or name one with --keyring or SPANFORGE_KEYRING",
                path.display()
            )
        })?;
        let signer = ring.checkpoint_signer().with_context(|| {
            format!(
                "{}: the keyring holds no active checkpoint key",
                path.display()
            )
        })?;
        // A copy of our own: the secret stays in zeroizing holders on both sides.
        Ok(NoteSigner::from_skey(&signer.to_skey())?)
    }

    /// Opens the ledger, creating it when `create` is set; otherwise a missing file is an error.
    /// When a KMS is configured, the ledger can decrypt (and encrypt) payloads with it.
    pub(crate) fn open(&self, create: bool) -> Result<SqliteLedger> {
        self.open_with_kms(create, false)
    }

    /// Like [`LedgerArgs::open`]; `create_kms` creates the local KMS keyring when none exists.
    pub(crate) fn open_with_kms(&self, create: bool, create_kms: bool) -> Result<SqliteLedger> {
        let path = self.db_path();
        let ledger = if create {
            SqliteLedger::open(&path)
        } else {
            SqliteLedger::open_existing(&path)
        };
        let ledger =
            ledger.with_context(|| format!("{}: cannot open the ledger", path.display()))?;
        Ok(match self.kms.service(create_kms)? {
            Some(service) => ledger.with_data_keys(service),
            None => ledger,
        })
    }
}

impl KeyArgs {
    /// The keyring path that applies, and whether it was named explicitly.
    pub(crate) fn path(&self) -> (PathBuf, bool) {
        if let Some(p) = &self.keyring {
            return (p.clone(), true);
        }
        if let Some(p) = std::env::var_os("SPANFORGE_KEYRING") {
            return (PathBuf::from(p), true);
        }
        (PathBuf::from(DEFAULT_KEYRING), false)
    }

    /// Loads the keyring: an explicitly named one must exist; the default one is optional.
    pub(crate) fn load(&self) -> Result<Option<KeyringFile>> {
        let (path, explicit) = self.path();
        if !explicit && !path.exists() {
            return Ok(None);
        }
        read_keyring(&path).map(Some)
    }

    /// The key provider: the keyring's keys, then the environment's, as the store resolves them.
    pub(crate) fn provider(&self) -> Result<StaticKeys> {
        provider(self.load()?.as_ref())
    }
}

/// Reads and parses a keyring file, refusing one that others can read.
pub(crate) fn read_keyring(path: &Path) -> Result<KeyringFile> {
    check_private(path)?;
    let text = zeroize::Zeroizing::new(
        fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the keyring", path.display()))?,
    );
    KeyringFile::parse(&text).with_context(|| format!("{}: invalid keyring", path.display()))
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(path)
        .with_context(|| format!("{}: cannot read the keyring", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "{}: the keyring is readable by others (mode {mode:o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<()> {
    Ok(())
}

/// Writes `ring` to `path` atomically with mode 0600: a temporary file in the same directory,
/// synced, then renamed over the target, then the directory synced. `create_new` refuses to
/// replace an existing file.
pub(crate) fn write_keyring(path: &Path, ring: &KeyringFile, create_new: bool) -> Result<()> {
    if create_new && path.exists() {
        bail!(
            "{}: a keyring already exists; refusing to overwrite it (it holds the only copy of its keys)",
            path.display()
        );
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "keyring".to_owned());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let text = ring.to_json();
    let result = (|| -> Result<()> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&tmp)
            .with_context(|| format!("{}: cannot create", tmp.display()))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path).with_context(|| format!("{}: cannot replace", path.display()))?;
        if let Ok(d) = fs::File::open(dir) {
            // Persist the rename; some file systems do not support syncing a directory.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Builds the key provider from a keyring (optional) and the process environment.
///
/// Order for a tenant's signing key: the keyring's key for that tenant, `SPANFORGE_KEY_<ORG>`,
/// the keyring's default key, `SPANFORGE_SIGNING_KEY`. Every retired key stays available for
/// verification.
pub(crate) fn provider(ring: Option<&KeyringFile>) -> Result<StaticKeys> {
    let env_default = std::env::var("SPANFORGE_SIGNING_KEY").ok();
    let mut keys = StaticKeys::from_env(|name| std::env::var(name).ok())?;
    let Some(ring) = ring else {
        return Ok(keys);
    };
    let mut has_default = false;
    for k in ring.hmac_keys() {
        let key = HmacKey::new(KeyId::new(k.id())?, k.secret().clone());
        let tenant = k.tenant().map(TenantId::org).transpose()?;
        match (k.status(), tenant) {
            (KeyStatus::Active, Some(t)) => keys = keys.with_tenant_key(t, key),
            (KeyStatus::Active, None) => {
                has_default = true;
                keys = keys.with_default_key(key);
            }
            (KeyStatus::Retired, t) => keys = keys.with_retired_key(t, key),
        }
    }
    if has_default {
        // The keyring's default key wins over SPANFORGE_SIGNING_KEY for signing, but events
        // signed under the environment key must still verify.
        if let Some(v) = env_default {
            let secret = spanforge_chain::compat::HmacSecret::new(&v)
                .context("SPANFORGE_SIGNING_KEY is set but empty")?;
            keys = keys.with_retired_key(None, HmacKey::derived(secret));
        }
    }
    if let Some(signer) = ring.checkpoint_signer() {
        // The store takes its own copy of the signer; the secret stays in zeroizing holders.
        let copy = spanforge_chain::note::NoteSigner::from_skey(&signer.to_skey())?;
        keys = keys.with_checkpoint_signer(copy);
    }
    for v in ring.checkpoint_verifiers() {
        keys = keys.with_checkpoint_verifier(v);
    }
    Ok(keys)
}

/// Reads public keys (C2SP `vkey` strings, one per line; blank lines and `#` comments are
/// ignored) from a file, as `spanforge keys export-public` writes them.
pub(crate) fn read_verifiers(path: &Path) -> Result<Vec<NoteVerifier>> {
    let text = fs::read_to_string(path)
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
