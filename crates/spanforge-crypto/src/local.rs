//! [`LocalKms`]: key-encryption keys kept in a local keyring file, for development, tests and
//! single-host deployments.
//!
//! # Keyring file
//!
//! A text file created with mode `0600`; opening refuses a file readable or writable by group or
//! others. Writes are atomic (temporary file, `fsync`, `rename`, `fsync` of the directory), so a
//! crash leaves either the old or the new keyring, never a torn one.
//!
//! ```text
//! spanforge-keyring v1
//! # lines starting with '#' and blank lines are ignored
//! key <name> <version> <primary|active> <64 hex digits>
//! ```
//!
//! Each named key has numbered versions; exactly one is primary and new data keys are wrapped
//! under it. Key ids are `local:<name>/v<N>`. [`LocalKms::rotate_kek`] adds a version and makes it
//! primary; [`LocalKms::retire`] deletes an old version once nothing is wrapped under it.
//!
//! # Wrapped data key
//!
//! `0x01 ‖ wrap id (32 random bytes) ‖ AES-256-GCM ciphertext (32) ‖ tag (16)`, 81 bytes. The
//! wrapping key is `HKDF-SHA256-Expand(KEK, "spanforge local wrap v1" ‖ wrap id)`, so every wrap
//! uses a fresh AES key and the all-zero nonce never repeats under a key. The AAD is the same
//! label, the length-prefixed key id and the canonical encryption context: a wrapped key only
//! unwraps under the KEK version and the context it was made with.
//!
//! The keyring is one writer's file: concurrent rotations from two processes are not
//! coordinated (the last rename wins), so key administration must be serialized by the caller.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use async_trait::async_trait;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::context::EncryptionContext;
use crate::error::{Error, Result};
use crate::keys::{DEK_LEN, Dek, KeyRef, ProviderId, WrappedDek, random_array};
use crate::kms::Kms;

const HEADER_LINE: &str = "spanforge-keyring v1";
const WRAP_LABEL: &[u8] = b"spanforge local wrap v1";
const WRAP_VERSION: u8 = 1;
const WRAP_ID_LEN: usize = 32;
const TAG_LEN: usize = 16;
const WRAPPED_LEN: usize = 1 + WRAP_ID_LEN + DEK_LEN + TAG_LEN;
const MAX_NAME_LEN: usize = 64;

/// One key-encryption key version. Zeroized on drop; never printed.
struct Kek {
    bytes: Zeroizing<[u8; 32]>,
    expander: Hkdf<Sha256>,
}

// Private clone used only to stage keyring changes; both copies zeroize on drop.
impl Clone for Kek {
    fn clone(&self) -> Self {
        Self::new(Zeroizing::new(*self.bytes))
    }
}

impl Kek {
    fn new(bytes: Zeroizing<[u8; 32]>) -> Self {
        let expander = match Hkdf::<Sha256>::from_prk(bytes.as_slice()) {
            Ok(h) => h,
            Err(_) => unreachable!("a 32-byte PRK is never shorter than SHA-256's output"),
        };
        Self { bytes, expander }
    }

    fn generate() -> Result<Self> {
        Ok(Self::new(Zeroizing::new(random_array::<32>()?)))
    }

    fn wrapping_cipher(&self, wrap_id: &[u8; WRAP_ID_LEN]) -> Aes256Gcm {
        let mut key = Zeroizing::new([0u8; 32]);
        if self
            .expander
            .expand_multi_info(&[WRAP_LABEL, wrap_id], key.as_mut_slice())
            .is_err()
        {
            unreachable!("32 bytes of HKDF-SHA256 output is within the RFC 5869 limit");
        }
        match Aes256Gcm::new_from_slice(key.as_slice()) {
            Ok(c) => c,
            Err(_) => unreachable!("HKDF output is exactly 32 bytes, the AES-256 key size"),
        }
    }
}

#[derive(Clone, Default)]
struct NamedKey {
    primary: u32,
    versions: BTreeMap<u32, Kek>,
}

#[derive(Clone, Default)]
struct Keyring {
    keys: BTreeMap<String, NamedKey>,
}

impl Keyring {
    fn serialize(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(64 + self.keys.len() * 100));
        out.push_str(HEADER_LINE);
        out.push('\n');
        out.push_str("# SpanForge local key-encryption keys. Keep this file secret (mode 0600).\n");
        for (name, key) in &self.keys {
            for (version, kek) in &key.versions {
                let status = if *version == key.primary {
                    "primary"
                } else {
                    "active"
                };
                let hex = Zeroizing::new(hex::encode(kek.bytes.as_slice()));
                out.push_str(&format!("key {name} {version} {status} "));
                out.push_str(&hex);
                out.push('\n');
            }
        }
        out
    }

    fn parse(path: &Path, text: &str) -> Result<Self> {
        let err = |line: usize, reason: &str| Error::Keyring {
            path: path.to_owned(),
            line: Some(line),
            reason: reason.to_owned(),
        };
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
        match lines.next() {
            Some((_, HEADER_LINE)) => {}
            _ => return Err(err(1, "first line must be `spanforge-keyring v1`")),
        }
        let mut ring = Keyring::default();
        for (n, line) in lines {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_ascii_whitespace().collect();
            let [kw, name, version, status, material] = fields.as_slice() else {
                return Err(err(
                    n,
                    "expected `key <name> <version> <primary|active> <hex>`",
                ));
            };
            if *kw != "key" {
                return Err(err(n, "unknown record type (expected `key`)"));
            }
            check_name(name).map_err(|_| err(n, "invalid key name"))?;
            let version: u32 = version
                .parse()
                .ok()
                .filter(|v| *v >= 1)
                .ok_or_else(|| err(n, "version must be a positive integer"))?;
            let mut bytes = Zeroizing::new([0u8; 32]);
            hex::decode_to_slice(material, bytes.as_mut_slice())
                .map_err(|_| err(n, "key material must be exactly 64 hex digits"))?;
            let entry = ring.keys.entry((*name).to_owned()).or_default();
            if entry.versions.contains_key(&version) {
                return Err(err(n, "duplicate key version"));
            }
            match *status {
                "primary" => {
                    if entry.primary != 0 {
                        return Err(err(n, "a key has more than one primary version"));
                    }
                    entry.primary = version;
                }
                "active" => {}
                _ => return Err(err(n, "status must be `primary` or `active`")),
            }
            entry.versions.insert(version, Kek::new(bytes));
        }
        if ring.keys.is_empty() {
            return Err(Error::Keyring {
                path: path.to_owned(),
                line: None,
                reason: "the keyring holds no keys".to_owned(),
            });
        }
        if let Some((name, _)) = ring.keys.iter().find(|(_, k)| k.primary == 0) {
            return Err(Error::Keyring {
                path: path.to_owned(),
                line: None,
                reason: format!("key `{name}` has no primary version"),
            });
        }
        Ok(ring)
    }

    fn kek(&self, name: &str, version: u32) -> Result<&Kek> {
        self.keys
            .get(name)
            .and_then(|k| k.versions.get(&version))
            .ok_or_else(|| Error::KeyUnavailable {
                key_id: key_id(name, version),
                reason: "no such key version in the local keyring (never created or retired)"
                    .to_owned(),
            })
    }

    fn resolve(&self, key: &KeyRef) -> Result<(String, u32)> {
        if key.provider() != ProviderId::Local {
            return Err(Error::InvalidInput {
                what: "key reference",
                reason: format!("the local keyring cannot use a {} key", key.provider()),
            });
        }
        let (name, version) = parse_key_id(key.key_id())?;
        let version = match version {
            Some(v) => v,
            None => {
                self.keys
                    .get(&name)
                    .ok_or_else(|| Error::KeyUnavailable {
                        key_id: key.key_id().to_owned(),
                        reason: "no such key in the local keyring".to_owned(),
                    })?
                    .primary
            }
        };
        self.kek(&name, version)?;
        Ok((name, version))
    }

    fn wrap(
        &self,
        name: &str,
        version: u32,
        dek: &Dek,
        ctx: &EncryptionContext,
    ) -> Result<WrappedDek> {
        let kek = self.kek(name, version)?;
        let id = key_id(name, version);
        let wrap_id = random_array::<WRAP_ID_LEN>()?;
        // Encrypt a zeroizing copy in place; only ciphertext reaches the output blob.
        let mut sealed = Zeroizing::new(*dek.expose_secret());
        let tag = kek
            .wrapping_cipher(&wrap_id)
            .encrypt_inout_detached(
                &Nonce::default(),
                &wrap_aad(&id, ctx),
                InOutBuf::from(sealed.as_mut_slice()),
            )
            // AES-GCM only refuses inputs beyond 2^36 bytes; a bounded context is far below.
            .map_err(|_| Error::InvalidInput {
                what: "encryption context",
                reason: "too large to authenticate".to_owned(),
            })?;
        let mut blob = Vec::with_capacity(WRAPPED_LEN);
        blob.push(WRAP_VERSION);
        blob.extend_from_slice(&wrap_id);
        blob.extend_from_slice(sealed.as_slice());
        blob.extend_from_slice(tag.as_slice());
        WrappedDek::new(ProviderId::Local, id, blob)
    }

    fn unwrap(&self, wrapped: &WrappedDek, ctx: &EncryptionContext) -> Result<Dek> {
        if wrapped.provider() != ProviderId::Local {
            return Err(Error::InvalidInput {
                what: "wrapped data key",
                reason: format!(
                    "the local keyring cannot unwrap a {} key",
                    wrapped.provider()
                ),
            });
        }
        let (name, version) = parse_key_id(wrapped.key_id())?;
        let Some(version) = version else {
            return Err(Error::UnwrapFailed {
                key_id: wrapped.key_id().to_owned(),
            });
        };
        let kek = self.kek(&name, version)?;
        let failed = || Error::UnwrapFailed {
            key_id: wrapped.key_id().to_owned(),
        };
        let blob = wrapped.blob();
        if blob.len() != WRAPPED_LEN || blob.first() != Some(&WRAP_VERSION) {
            return Err(failed());
        }
        let wrap_id: [u8; WRAP_ID_LEN] = blob
            .get(1..1 + WRAP_ID_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(failed)?;
        let ciphertext = blob
            .get(1 + WRAP_ID_LEN..1 + WRAP_ID_LEN + DEK_LEN)
            .ok_or_else(failed)?;
        let tag = blob
            .get(1 + WRAP_ID_LEN + DEK_LEN..)
            .and_then(|t| Tag::try_from(t).ok())
            .ok_or_else(failed)?;
        let mut key = Zeroizing::new([0u8; DEK_LEN]);
        let buf = InOutBuf::new(ciphertext, key.as_mut_slice()).map_err(|_| failed())?;
        kek.wrapping_cipher(&wrap_id)
            .decrypt_inout_detached(
                &Nonce::default(),
                &wrap_aad(wrapped.key_id(), ctx),
                buf,
                &tag,
            )
            .map_err(|_| failed())?;
        Dek::from_slice(key.as_slice())
    }
}

fn wrap_aad(key_id: &str, ctx: &EncryptionContext) -> Vec<u8> {
    let mut aad = Vec::with_capacity(WRAP_LABEL.len() + 2 + key_id.len() + 64);
    aad.extend_from_slice(WRAP_LABEL);
    // Key ids are bounded by MAX_KEY_ID_LEN (2048), so the length fits a u16.
    aad.extend_from_slice(
        &u16::try_from(key_id.len())
            .unwrap_or(u16::MAX)
            .to_be_bytes(),
    );
    aad.extend_from_slice(key_id.as_bytes());
    aad.extend_from_slice(&ctx.canonical_bytes());
    aad
}

fn key_id(name: &str, version: u32) -> String {
    format!("local:{name}/v{version}")
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > MAX_NAME_LEN
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(Error::InvalidInput {
            what: "local key name",
            reason: "use 1 to 64 characters from a-z, 0-9, '-' and '_'".to_owned(),
        });
    }
    Ok(())
}

/// Splits `local:<name>[/v<N>]` into the name and optional version.
fn parse_key_id(id: &str) -> Result<(String, Option<u32>)> {
    let bad = || Error::InvalidInput {
        what: "local key id",
        reason: format!("`{id}` is not of the form local:<name> or local:<name>/v<N>"),
    };
    let rest = id.strip_prefix("local:").ok_or_else(bad)?;
    let (name, version) = match rest.split_once("/v") {
        Some((name, v)) => {
            let version: u32 = v.parse().ok().filter(|v| *v >= 1).ok_or_else(bad)?;
            if v.starts_with('0') || v.starts_with('+') {
                return Err(bad());
            }
            (name, Some(version))
        }
        None => (rest, None),
    };
    check_name(name).map_err(|_| bad())?;
    Ok((name.to_owned(), version))
}

/// A [`Kms`] backed by a local keyring file (see the [module docs](self) for the file format).
///
/// ```
/// # async fn demo() -> spanforge_crypto::Result<()> {
/// use spanforge_crypto::{EncryptionContext, Kms, LocalKms};
///
/// let dir = tempfile::tempdir().expect("temporary directory");
/// let kms = LocalKms::create(dir.path().join("keyring"), "main")?;
/// let scope = EncryptionContext::for_scope("tenant-a", "ai-call/v1")?;
/// let (dek, wrapped) = kms.generate_dek(&kms.primary("main")?, &scope).await?;
/// assert_eq!(wrapped.key_id(), "local:main/v1");
/// let again = kms.unwrap_dek(&wrapped, &scope).await?;
/// assert_eq!(dek.expose_secret(), again.expose_secret());
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(demo()).expect("demo");
/// ```
pub struct LocalKms {
    path: PathBuf,
    ring: RwLock<Keyring>,
}

impl LocalKms {
    /// Creates a new keyring file holding one key `name` (version 1, primary). The file is
    /// created with mode `0600`; an existing file is never overwritten.
    ///
    /// # Errors
    /// [`Error::Io`] if the file exists or cannot be written, [`Error::InvalidInput`] for a bad
    /// name, [`Error::Random`] if the system RNG fails.
    pub fn create(path: impl Into<PathBuf>, name: &str) -> Result<Self> {
        let path = path.into();
        check_name(name)?;
        let mut ring = Keyring::default();
        ring.keys.insert(
            name.to_owned(),
            NamedKey {
                primary: 1,
                versions: BTreeMap::from([(1, Kek::generate()?)]),
            },
        );
        write_new(&path, &ring.serialize())?;
        Ok(Self {
            path,
            ring: RwLock::new(ring),
        })
    }

    /// Opens an existing keyring file. There are no default keys: a missing file is an error.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read, [`Error::InsecurePermissions`] if group or others
    /// have any access to it, [`Error::Keyring`] if it is malformed (the message gives the line,
    /// never key material).
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        check_permissions(&path)?;
        let text = Zeroizing::new(fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?);
        let ring = Keyring::parse(&path, &text)?;
        Ok(Self {
            path,
            ring: RwLock::new(ring),
        })
    }

    /// The keyring file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The version-qualified reference to the primary version of key `name`.
    ///
    /// # Errors
    /// [`Error::KeyUnavailable`] if there is no key of that name.
    pub fn primary(&self, name: &str) -> Result<KeyRef> {
        let ring = self.read();
        let key = ring.keys.get(name).ok_or_else(|| Error::KeyUnavailable {
            key_id: format!("local:{name}"),
            reason: "no such key in the local keyring".to_owned(),
        })?;
        KeyRef::new(ProviderId::Local, key_id(name, key.primary))
    }

    /// The names of the keys in the keyring.
    #[must_use]
    pub fn key_names(&self) -> Vec<String> {
        self.read().keys.keys().cloned().collect()
    }

    /// The versions of key `name` that are still present, in ascending order.
    ///
    /// # Errors
    /// [`Error::KeyUnavailable`] if there is no key of that name.
    pub fn versions(&self, name: &str) -> Result<Vec<u32>> {
        self.read()
            .keys
            .get(name)
            .map(|k| k.versions.keys().copied().collect())
            .ok_or_else(|| Error::KeyUnavailable {
                key_id: format!("local:{name}"),
                reason: "no such key in the local keyring".to_owned(),
            })
    }

    /// Adds a new named key (version 1, primary) and saves the keyring.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if the name is bad or taken; I/O and RNG errors as for
    /// [`LocalKms::create`].
    pub fn add_key(&self, name: &str) -> Result<KeyRef> {
        check_name(name)?;
        self.modify(|ring| {
            if ring.keys.contains_key(name) {
                return Err(Error::InvalidInput {
                    what: "local key name",
                    reason: format!("key `{name}` already exists"),
                });
            }
            ring.keys.insert(
                name.to_owned(),
                NamedKey {
                    primary: 1,
                    versions: BTreeMap::from([(1, Kek::generate()?)]),
                },
            );
            KeyRef::new(ProviderId::Local, key_id(name, 1))
        })
    }

    /// Adds a new version of key `name`, makes it primary and saves the keyring. Data keys
    /// wrapped under older versions still unwrap until those versions are retired; re-wrap them
    /// with [`Kms::rewrap`] first.
    ///
    /// # Errors
    /// [`Error::KeyUnavailable`] if there is no key of that name; I/O and RNG errors.
    pub fn rotate_kek(&self, name: &str) -> Result<KeyRef> {
        self.modify(|ring| {
            let key = ring
                .keys
                .get_mut(name)
                .ok_or_else(|| Error::KeyUnavailable {
                    key_id: format!("local:{name}"),
                    reason: "no such key in the local keyring".to_owned(),
                })?;
            let next = key
                .versions
                .keys()
                .next_back()
                .copied()
                .unwrap_or(0)
                .checked_add(1)
                .ok_or_else(|| Error::InvalidInput {
                    what: "local key version",
                    reason: "version counter exhausted".to_owned(),
                })?;
            key.versions.insert(next, Kek::generate()?);
            key.primary = next;
            KeyRef::new(ProviderId::Local, key_id(name, next))
        })
    }

    /// Deletes version `version` of key `name` from the keyring file. Anything still wrapped
    /// under it becomes permanently unreadable ([`Error::KeyUnavailable`]). The primary version
    /// cannot be retired.
    ///
    /// # Errors
    /// [`Error::KeyUnavailable`] if the version does not exist, [`Error::InvalidInput`] if it is
    /// the primary; I/O errors.
    pub fn retire(&self, name: &str, version: u32) -> Result<()> {
        self.modify(|ring| {
            let key = ring
                .keys
                .get_mut(name)
                .filter(|k| k.versions.contains_key(&version))
                .ok_or_else(|| Error::KeyUnavailable {
                    key_id: key_id(name, version),
                    reason: "no such key version in the local keyring".to_owned(),
                })?;
            if key.primary == version {
                return Err(Error::InvalidInput {
                    what: "key version to retire",
                    reason: format!(
                        "{} is the primary version; rotate first",
                        key_id(name, version)
                    ),
                });
            }
            key.versions.remove(&version);
            Ok(())
        })
    }

    /// Applies a change to a copy of the keyring, writes the copy to disk, and only then makes
    /// it live, so memory never runs ahead of the file when the write fails.
    fn modify<T>(&self, change: impl FnOnce(&mut Keyring) -> Result<T>) -> Result<T> {
        let mut ring = self.write();
        let mut staged = ring.clone();
        let out = change(&mut staged)?;
        write_replace(&self.path, &staged.serialize())?;
        *ring = staged;
        Ok(out)
    }

    fn read(&self) -> RwLockReadGuard<'_, Keyring> {
        // A panic while holding the lock cannot leave the keyring half-updated in a way that
        // matters: every mutation is a single map insert or remove.
        self.ring.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Keyring> {
        self.ring.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for LocalKms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ring = self.read();
        let keys: BTreeMap<&str, (u32, Vec<u32>)> = ring
            .keys
            .iter()
            .map(|(n, k)| {
                (
                    n.as_str(),
                    (k.primary, k.versions.keys().copied().collect()),
                )
            })
            .collect();
        f.debug_struct("LocalKms")
            .field("path", &self.path)
            .field("keys (primary, versions)", &keys)
            .finish()
    }
}

#[async_trait]
impl Kms for LocalKms {
    fn provider(&self) -> ProviderId {
        ProviderId::Local
    }

    async fn generate_dek(
        &self,
        key: &KeyRef,
        ctx: &EncryptionContext,
    ) -> Result<(Dek, WrappedDek)> {
        let ring = self.read();
        let (name, version) = ring.resolve(key)?;
        let dek = Dek::generate()?;
        let wrapped = ring.wrap(&name, version, &dek, ctx)?;
        Ok((dek, wrapped))
    }

    async fn unwrap_dek(&self, wrapped: &WrappedDek, ctx: &EncryptionContext) -> Result<Dek> {
        self.read().unwrap(wrapped, ctx)
    }

    async fn rewrap(
        &self,
        wrapped: &WrappedDek,
        to: &KeyRef,
        ctx: &EncryptionContext,
    ) -> Result<WrappedDek> {
        let ring = self.read();
        let dek = ring.unwrap(wrapped, ctx)?;
        let (name, version) = ring.resolve(to)?;
        ring.wrap(&name, version, &dek, ctx)
    }
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::Keyring {
            path: path.to_owned(),
            line: None,
            reason: "not a regular file".to_owned(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(Error::InsecurePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(path: &Path) -> Result<()> {
    Err(Error::Keyring {
        path: path.to_owned(),
        line: None,
        reason: "file permissions cannot be verified on this platform; use a cloud KMS".to_owned(),
    })
}

/// Writes `contents` to a fresh `0600` temporary file next to `path` and syncs it.
fn write_temp(path: &Path, contents: &str) -> Result<PathBuf> {
    let dir = parent_dir(path);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "keyring".to_owned());
    let tmp = dir.join(format!(
        ".{file_name}.tmp-{}",
        hex::encode(random_array::<8>()?)
    ));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    Ok(tmp)
}

/// Creates `path` atomically without ever replacing an existing file: the content is written to a
/// temporary file, then hard-linked into place (which fails if `path` exists).
fn write_new(path: &Path, contents: &str) -> Result<()> {
    let tmp = write_temp(path, contents)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    linked.map_err(|e| Error::io(path, e))?;
    sync_dir(path)
}

/// Replaces `path` atomically: temporary file, fsync, rename, fsync of the directory.
fn write_replace(path: &Path, contents: &str) -> Result<()> {
    let tmp = write_temp(path, contents)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    sync_dir(path)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn sync_dir(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let dir = parent_dir(path);
        fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(&dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_parsing() {
        assert_eq!(
            parse_key_id("local:main/v3").unwrap(),
            ("main".to_owned(), Some(3))
        );
        assert_eq!(
            parse_key_id("local:main").unwrap(),
            ("main".to_owned(), None)
        );
        for bad in [
            "main",
            "local:",
            "local:Main",
            "local:main/v0",
            "local:main/v01",
            "local:main/v",
            "local:main/vx",
            "local:main/v+1",
        ] {
            assert!(parse_key_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keyring_text_round_trips() {
        let mut ring = Keyring::default();
        ring.keys.insert(
            "a".into(),
            NamedKey {
                primary: 2,
                versions: BTreeMap::from([
                    (1, Kek::generate().unwrap()),
                    (2, Kek::generate().unwrap()),
                ]),
            },
        );
        let text = ring.serialize();
        let back = Keyring::parse(Path::new("k"), &text).unwrap();
        assert_eq!(back.keys["a"].primary, 2);
        assert_eq!(
            back.keys["a"].versions[&1].bytes.as_slice(),
            ring.keys["a"].versions[&1].bytes.as_slice()
        );
        assert_eq!(*back.serialize(), *text);
    }

    #[test]
    fn keyring_parse_errors_name_the_line_but_not_the_key() {
        let secret = "ab".repeat(31) + "zz";
        let text = format!("{HEADER_LINE}\nkey a 1 primary {secret}\n");
        let Err(err) = Keyring::parse(Path::new("k"), &text) else {
            panic!("bad hex must be rejected");
        };
        let msg = err.to_string();
        assert!(msg.contains("line 2"), "{msg}");
        assert!(!msg.contains(&secret[..20]), "{msg}");
        let cases = [
            "nonsense\n".to_owned(),
            format!("{HEADER_LINE}\n"),
            format!("{HEADER_LINE}\nkey a 1 active {}\n", "00".repeat(32)),
            format!(
                "{HEADER_LINE}\nkey a 1 primary {0}\nkey a 1 active {0}\n",
                "00".repeat(32)
            ),
            format!(
                "{HEADER_LINE}\nkey a 1 primary {0}\nkey a 2 primary {0}\n",
                "00".repeat(32)
            ),
            format!("{HEADER_LINE}\nkey a 0 primary {}\n", "00".repeat(32)),
            format!("{HEADER_LINE}\nkey a 1 retired {}\n", "00".repeat(32)),
            format!("{HEADER_LINE}\nkey a 1 primary\n"),
            format!("{HEADER_LINE}\nkek a 1 primary {}\n", "00".repeat(32)),
        ];
        for case in cases {
            assert!(Keyring::parse(Path::new("k"), &case).is_err(), "{case}");
        }
    }

    #[test]
    fn wrap_blob_layout_and_binding() {
        let mut ring = Keyring::default();
        ring.keys.insert(
            "a".into(),
            NamedKey {
                primary: 1,
                versions: BTreeMap::from([
                    (1, Kek::generate().unwrap()),
                    (2, Kek::generate().unwrap()),
                ]),
            },
        );
        let ctx = EncryptionContext::for_scope("t", "p").unwrap();
        let dek = Dek::generate().unwrap();
        let w = ring.wrap("a", 1, &dek, &ctx).unwrap();
        assert_eq!(w.blob().len(), WRAPPED_LEN);
        assert_eq!(w.blob()[0], WRAP_VERSION);
        assert_eq!(w.key_id(), "local:a/v1");
        let back = ring.unwrap(&w, &ctx).unwrap();
        assert_eq!(back.expose_secret(), dek.expose_secret());
        // Same blob presented as if wrapped under v2: the key id is in the AAD and the KEK
        // differs, so it fails as an unwrap failure rather than yielding a wrong key.
        let moved = WrappedDek::new(ProviderId::Local, "local:a/v2", w.blob().to_vec()).unwrap();
        assert!(matches!(
            ring.unwrap(&moved, &ctx),
            Err(Error::UnwrapFailed { .. })
        ));
        let other = EncryptionContext::for_scope("t2", "p").unwrap();
        assert!(matches!(
            ring.unwrap(&w, &other),
            Err(Error::UnwrapFailed { .. })
        ));
        let unversioned = WrappedDek::new(ProviderId::Local, "local:a", w.blob().to_vec()).unwrap();
        assert!(matches!(
            ring.unwrap(&unversioned, &ctx),
            Err(Error::UnwrapFailed { .. })
        ));
    }
}
