//! `spanforge keys …`: create, rotate, list and publish the ledger's keys.
//!
//! Keys live in a keyring file created with mode 0600 (see [`crate::keyfile`]). Secrets are
//! never printed: `list` shows ids, tenants, dates and status, and `export-public` writes only
//! the checkpoint verifier key.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use spanforge_chain::keyring::KeyringFile;
use spanforge_event::UlidGenerator;
use spanforge_store::{HmacKey, KeyId, TenantId};

use crate::Outcome;
use crate::events::Format;
use crate::keyfile::{LedgerArgs, provider, write_keyring};

/// Commands on keys.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a keyring (mode 0600) with a default HMAC chain key and a checkpoint signing key.
    Init(InitArgs),
    /// Rotate an HMAC chain key: the new key signs from now on, and a signed
    /// `llm.audit.key.rotated` event in each affected tenant's chain records the switch.
    Rotate(RotateArgs),
    /// Remove key-encryption-key versions that no stored data key is wrapped under any more
    /// (after `keys rotate --kek`) from the local KMS keyring.
    RetireKek(RetireKekArgs),
    /// List the keys (ids, tenants, dates, status; never secrets).
    List(ListArgs),
    /// Write the checkpoint public key, for auditors verifying checkpoints and proofs.
    ExportPublic(ExportPublicArgs),
}

/// Arguments of `keys init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
}

/// Arguments of `keys rotate`.
#[derive(Debug, Args)]
pub(crate) struct RotateArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Rotate this tenant's own key (creating one if it shared the default key); without it,
    /// the default key of every tenant that uses it.
    #[arg(long, value_name = "ORG")]
    org: Option<String>,
    /// Who is rotating, recorded in the rotation event.
    #[arg(long, value_name = "NAME", default_value = "spanforge-cli")]
    by: String,
    /// Rotate the key-encryption key of encrypted payloads instead: a new version becomes
    /// primary in the local KMS keyring and every stored data key is re-wrapped under it in one
    /// transaction (no payload is re-encrypted).
    #[arg(long, conflicts_with = "org")]
    kek: bool,
    /// With --kek: afterwards remove the old versions from the KMS keyring.
    #[arg(long, requires = "kek")]
    retire_old: bool,
}

/// Arguments of `keys retire-kek`.
#[derive(Debug, Args)]
pub(crate) struct RetireKekArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
}

/// Arguments of `keys list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Arguments of `keys export-public`.
#[derive(Debug, Args)]
pub(crate) struct ExportPublicArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Write the key here instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub(crate) fn run(cmd: Command) -> Result<Outcome> {
    match cmd {
        Command::Init(a) => init(&a),
        Command::Rotate(a) if a.kek => rotate_kek(&a),
        Command::Rotate(a) => rotate(&a),
        Command::RetireKek(a) => retire_kek(&a.ledger),
        Command::List(a) => list(&a),
        Command::ExportPublic(a) => export_public(&a),
    }
}

fn os_random(buf: &mut [u8]) -> std::result::Result<(), String> {
    getrandom::fill(buf).map_err(|e| e.to_string())
}

fn now() -> Result<String> {
    let (_, ts) = UlidGenerator::system().next_id_and_timestamp()?;
    Ok(ts.as_str().to_owned())
}

fn require_keyring(args: &LedgerArgs) -> Result<(PathBuf, KeyringFile)> {
    let (path, _) = args.keys.path();
    if !path.exists() {
        bail!(
            "{}: no keyring; create one with `spanforge keys init`",
            path.display()
        );
    }
    let ring = crate::keyfile::read_keyring(&path)?;
    Ok((path, ring))
}

fn init(a: &InitArgs) -> Result<Outcome> {
    let (path, _) = a.ledger.keys.path();
    if path.exists() {
        bail!(
            "{}: a keyring already exists; refusing to overwrite it (it holds the only copy of its keys)",
            path.display()
        );
    }
    // The checkpoint key is named after the ledger, as C2SP asks a log's key name to match
    // its checkpoints' origin.
    let ledger = a.ledger.open(true)?;
    let ring = KeyringFile::generate(&ledger.log_key_name(), &now()?, &mut os_random)?;
    write_keyring(&path, &ring, true)?;
    let signer = ring
        .checkpoint_signer()
        .context("a new keyring has a checkpoint key")?;
    println!("created {} (mode 0600)", path.display());
    println!("checkpoint public key: {}", signer.vkey());
    Ok(Outcome::Ok)
}

/// The local KMS keyring of an encrypted ledger.
fn local_kms(args: &LedgerArgs) -> Result<std::sync::Arc<spanforge_crypto::LocalKms>> {
    match args.kms.configured(false)? {
        Some(crate::kms::Configured::Local(kms)) => Ok(kms),
        #[cfg(feature = "aws-kms")]
        Some(crate::kms::Configured::Aws(..)) => bail!(
            "AWS KMS rotates its key material itself (enable automatic rotation on the key);              `keys rotate --kek` rotates the local KMS keyring"
        ),
        None => bail!(
            "no KMS keyring (name it with --kms-keyring or {})",
            crate::kms::KMS_KEYRING_ENV
        ),
    }
}

fn rotate_kek(a: &RotateArgs) -> Result<Outcome> {
    let kms = local_kms(&a.ledger)?;
    let name = a.ledger.kms.kms_key.clone();
    let old_versions = kms.versions(&name).with_context(|| {
        format!(
            "{}: no key `{name}` (choose one with --kms-key)",
            kms.path().display()
        )
    })?;
    // The new version is saved before anything is re-wrapped under it; old versions stay, so a
    // failure below leaves everything readable and the rotation can simply be run again.
    let new = kms.rotate_kek(&name)?;
    let service = std::sync::Arc::new(crate::kms::blocking(
        crate::kms::Configured::Local(kms.clone()),
        &name,
    )?);
    let path = a.ledger.db_path();
    let mut ledger = spanforge_store::SqliteLedger::open_existing(&path)
        .with_context(|| format!("{}: cannot open the ledger", path.display()))?
        .with_data_keys(service);
    let receipt = ledger.rewrap_data_keys().with_context(|| {
        format!(
            "re-wrapping under {new} failed; nothing in the ledger changed and the old key versions are kept,              so run the rotation again"
        )
    })?;
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "key-encryption key {new} is primary; re-wrapped {} keys ({} already under it); no payload was re-encrypted",
        receipt.rewrapped, receipt.already_current
    )?;
    if a.retire_old {
        drop(out);
        retire_unused(&ledger, &kms, &name, &old_versions)?;
    }
    Ok(Outcome::Ok)
}

fn retire_kek(args: &LedgerArgs) -> Result<Outcome> {
    let kms = local_kms(args)?;
    let name = args.kms.kms_key.clone();
    let versions = kms.versions(&name)?;
    let ledger = args.open(false)?;
    retire_unused(&ledger, &kms, &name, &versions)?;
    Ok(Outcome::Ok)
}

/// Retires every listed non-primary version of `name` that no stored key is wrapped under.
fn retire_unused(
    ledger: &spanforge_store::SqliteLedger,
    kms: &spanforge_crypto::LocalKms,
    name: &str,
    versions: &[u32],
) -> Result<()> {
    let in_use = ledger.keks_in_use()?;
    let primary = kms.primary(name)?;
    let mut out = io::stdout().lock();
    for v in versions {
        let id = format!("local:{name}/v{v}");
        if id == primary.key_id() {
            continue;
        }
        if let Some(n) = in_use.get(&id) {
            writeln!(out, "kept {id}: {n} stored keys are still wrapped under it")?;
            continue;
        }
        kms.retire(name, *v)?;
        writeln!(out, "retired {id} (removed from {})", kms.path().display())?;
    }
    Ok(())
}

fn rotate(a: &RotateArgs) -> Result<Outcome> {
    let (path, ring) = require_keyring(&a.ledger)?;
    let old_keys = provider(Some(&ring))?;
    let mut ledger = a.ledger.open(false)?;
    let tenant = a.org.as_deref().map(TenantId::org).transpose()?;

    // Which tenants move: the named one, or every tenant currently signing with the default key.
    let affected: Vec<TenantId> = match &tenant {
        Some(t) => vec![t.clone()],
        None => {
            let default_id = ring
                .active_hmac(None)
                .map(|k| k.id().to_owned())
                .context("the keyring has no default key to rotate")?;
            ledger
                .tenants()?
                .into_iter()
                .filter(|t| t.key_id.as_str() == default_id)
                .map(|t| t.tenant)
                .collect()
        }
    };

    // Write the new key first: a key the ledger names must never exist only in memory.
    let mut new_ring = KeyringFile::parse(&ring.to_json())?;
    let (new_key, retired) = new_ring.add_hmac_key(a.org.as_deref(), &now()?, &mut os_random)?;
    let new_key = HmacKey::new(KeyId::new(new_key.id())?, new_key.secret().clone());
    write_keyring(&path, &new_ring, false)?;

    let mut ids = UlidGenerator::system();
    let mut out = io::stdout().lock();
    for t in &affected {
        match ledger.rotate_key(&old_keys, t, &new_key, &a.by, &mut ids) {
            Ok(r) => writeln!(
                out,
                "{}: rotated {} -> {} (event {})",
                r.tenant, r.previous_key_id, r.key_id, r.rotation_event_id
            )?,
            Err(spanforge_store::Error::TenantNotFound { .. }) if a.org.is_some() => writeln!(
                out,
                "{t}: no events yet; its first events will be signed with {}",
                new_key.id()
            )?,
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "{t}: the rotation event could not be written; the new key is saved in {} \
                         (the old one is kept as retired), so run the rotation again",
                        path.display()
                    )
                });
            }
        }
    }
    writeln!(
        out,
        "new key {} is active{}",
        new_key.id(),
        retired.map_or(String::new(), |r| format!(
            "; {r} is retired and kept for verification"
        ))
    )?;
    Ok(Outcome::Ok)
}

fn list(a: &ListArgs) -> Result<Outcome> {
    let (_, ring) = require_keyring(&a.ledger)?;
    let keys = ring.list();
    let mut out = io::stdout().lock();
    match a.format {
        Format::Json => {
            serde_json::to_writer(&mut out, &keys)?;
            writeln!(out)?;
        }
        Format::Text => {
            for k in keys {
                writeln!(
                    out,
                    "{:<10} {:<24} {:<16} {:<8} {}",
                    k.kind,
                    k.id,
                    k.tenant.as_deref().unwrap_or("(default)"),
                    serde_json::to_value(k.status)?.as_str().unwrap_or(""),
                    k.created
                )?;
            }
        }
    }
    Ok(Outcome::Ok)
}

fn export_public(a: &ExportPublicArgs) -> Result<Outcome> {
    let (_, ring) = require_keyring(&a.ledger)?;
    let signer = ring
        .checkpoint_signer()
        .context("the keyring has no checkpoint key")?;
    let text = format!("{}\n", signer.vkey());
    match &a.out {
        Some(p) => {
            std::fs::write(p, text).with_context(|| format!("{}: cannot write", p.display()))?
        }
        None => print!("{text}"),
    }
    Ok(Outcome::Ok)
}
