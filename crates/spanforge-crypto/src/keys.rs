//! Key types: the secret data key ([`Dek`]), its wrapped form ([`WrappedDek`]), references to
//! key-encryption keys ([`KeyRef`]), data-key ids ([`DataKeyId`]) and the bundle the cache hands
//! out ([`DataKey`]).
//!
//! Secret material lives only in [`Dek`] (and in the local keyring's private types): it has no
//! `Clone`, its `Debug` prints nothing secret, and it is zeroized on drop. Everything else in this
//! module is non-secret and freely printable.

use std::fmt;
use std::sync::{Arc, Mutex};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::Generate;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::context::EncryptionContext;
use crate::error::{Error, Result};

/// Length of a data key in bytes (AES-256).
pub const DEK_LEN: usize = 32;
/// Longest accepted key-encryption key id (an AWS ARN is at most 2048 bytes).
pub const MAX_KEY_ID_LEN: usize = 2048;
/// Longest accepted wrapped data key (an RSA-4096 wrap is 512 bytes; AWS KMS blobs are ~184).
pub const MAX_WRAPPED_LEN: usize = 4096;
/// Longest accepted data key id.
pub const MAX_DATA_KEY_ID_LEN: usize = 128;

/// Which KMS produced a wrapped data key. The numeric codes are part of the AEV1 format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ProviderId {
    /// AWS KMS (code 1).
    Aws,
    /// Google Cloud KMS (code 2; reserved, no provider in this crate yet).
    Gcp,
    /// Azure Key Vault (code 3; reserved, no provider in this crate yet).
    Azure,
    /// HashiCorp Vault Transit (code 4; reserved, no provider in this crate yet).
    Vault,
    /// The local keyring file (code 0xff).
    Local,
}

impl ProviderId {
    /// The one-byte code AEV1 stores for this provider.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            ProviderId::Aws => 1,
            ProviderId::Gcp => 2,
            ProviderId::Azure => 3,
            ProviderId::Vault => 4,
            ProviderId::Local => 0xff,
        }
    }

    /// Maps an AEV1 provider code back to a provider, or `None` for an unassigned code.
    #[must_use]
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(ProviderId::Aws),
            2 => Some(ProviderId::Gcp),
            3 => Some(ProviderId::Azure),
            4 => Some(ProviderId::Vault),
            0xff => Some(ProviderId::Local),
            _ => None,
        }
    }

    /// The lower-case name used in key references and messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ProviderId::Aws => "aws",
            ProviderId::Gcp => "gcp",
            ProviderId::Azure => "azure",
            ProviderId::Vault => "vault",
            ProviderId::Local => "local",
        }
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn check_key_id(what: &'static str, key_id: &str) -> Result<()> {
    if key_id.is_empty() || key_id.len() > MAX_KEY_ID_LEN {
        return Err(Error::InvalidInput {
            what,
            reason: format!("length must be 1..={MAX_KEY_ID_LEN} bytes"),
        });
    }
    if key_id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::InvalidInput {
            what,
            reason: "must not contain whitespace or control characters".to_owned(),
        });
    }
    Ok(())
}

/// A reference to a key-encryption key (KEK) held by a KMS.
///
/// The id is provider-specific: `local:<name>` or `local:<name>/v<N>` for the local keyring; a
/// key id, key ARN, alias name or alias ARN for AWS. An unversioned reference means "the current
/// primary version" when generating or re-wrapping.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyRef {
    provider: ProviderId,
    key_id: String,
}

impl KeyRef {
    /// Creates a reference after checking the id's length and characters.
    ///
    /// # Errors
    /// Returns [`Error::InvalidInput`] for an empty, oversized or whitespace-containing id.
    pub fn new(provider: ProviderId, key_id: impl Into<String>) -> Result<Self> {
        let key_id = key_id.into();
        check_key_id("key reference", &key_id)?;
        Ok(Self { provider, key_id })
    }

    /// Parses the textual form used on command lines and in configuration:
    /// `local:<name>[/v<N>]`, `aws:<key id, ARN or alias>`, or a bare `arn:aws:kms:…` /
    /// `alias/…` (taken as AWS).
    ///
    /// # Errors
    /// Returns [`Error::InvalidInput`] if no provider can be recognised or the id is invalid.
    pub fn parse(text: &str) -> Result<Self> {
        if text.starts_with("local:") {
            Self::new(ProviderId::Local, text)
        } else if let Some(rest) = text.strip_prefix("aws:") {
            Self::new(ProviderId::Aws, rest)
        } else if text.starts_with("arn:aws") || text.starts_with("alias/") {
            Self::new(ProviderId::Aws, text)
        } else {
            Err(Error::InvalidInput {
                what: "key reference",
                reason: "expected `local:<name>[/v<N>]`, `aws:<key id>`, an AWS KMS ARN or `alias/<name>`"
                    .to_owned(),
            })
        }
    }

    /// The provider that holds the key.
    #[must_use]
    pub fn provider(&self) -> ProviderId {
        self.provider
    }

    /// The provider-specific key id.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.provider {
            // Local ids already carry their `local:` prefix.
            ProviderId::Local => f.write_str(&self.key_id),
            other => write!(f, "{other}:{}", self.key_id),
        }
    }
}

/// A data key wrapped (encrypted) under a key-encryption key: what is stored next to, or inside,
/// the ciphertexts it protects. Not secret.
///
/// `key_id` is the *version-qualified* id of the KEK that produced the wrap (for AWS, the key ARN
/// the service returned), so that unwrapping can pin the exact key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct WrappedDek {
    provider: ProviderId,
    key_id: String,
    blob: Vec<u8>,
}

impl WrappedDek {
    /// Creates a wrapped data key after checking the limits ([`MAX_KEY_ID_LEN`],
    /// [`MAX_WRAPPED_LEN`]).
    ///
    /// # Errors
    /// Returns [`Error::InvalidInput`] for an empty or oversized id or blob.
    pub fn new(provider: ProviderId, key_id: impl Into<String>, blob: Vec<u8>) -> Result<Self> {
        let key_id = key_id.into();
        check_key_id("wrapped data key id", &key_id)?;
        if blob.is_empty() || blob.len() > MAX_WRAPPED_LEN {
            return Err(Error::InvalidInput {
                what: "wrapped data key",
                reason: format!(
                    "blob is {} bytes; it must be 1..={MAX_WRAPPED_LEN}",
                    blob.len()
                ),
            });
        }
        Ok(Self {
            provider,
            key_id,
            blob,
        })
    }

    /// The provider that wrapped the key.
    #[must_use]
    pub fn provider(&self) -> ProviderId {
        self.provider
    }

    /// The version-qualified id of the key-encryption key.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The provider's ciphertext of the data key.
    #[must_use]
    pub fn blob(&self) -> &[u8] {
        &self.blob
    }

    /// Serializes to the same encoding AEV1 uses for one encrypted data key:
    /// `u8 provider ‖ u16 key-id length ‖ key id ‖ u16 blob length ‖ blob` (big-endian).
    /// Stores can persist this and read it back with [`WrappedDek::from_bytes`].
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Parses the encoding produced by [`WrappedDek::to_bytes`]; trailing bytes are an error.
    ///
    /// # Errors
    /// Returns [`Error::Malformed`] (field names start with `edk`) for truncated or invalid input.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut reader = crate::envelope::Reader::new(bytes);
        let edk = reader.wrapped_dek()?;
        reader.finish("edk")?;
        Ok(edk)
    }

    pub(crate) fn encoded_len(&self) -> usize {
        1 + 2 + self.key_id.len() + 2 + self.blob.len()
    }

    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        // `new` bounds both lengths far below u16::MAX.
        out.push(self.provider.code());
        out.extend_from_slice(
            &u16::try_from(self.key_id.len())
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        out.extend_from_slice(self.key_id.as_bytes());
        out.extend_from_slice(
            &u16::try_from(self.blob.len())
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        out.extend_from_slice(&self.blob);
    }
}

impl fmt::Debug for WrappedDek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedDek")
            .field("provider", &self.provider)
            .field("key_id", &self.key_id)
            .field("blob_len", &self.blob.len())
            .finish()
    }
}

/// A 256-bit data-encryption key (DEK).
///
/// It cannot be cloned or printed, and it is zeroized when dropped. Besides the key bytes it keeps
/// the HKDF-SHA256 state keyed with them, so deriving a per-message key costs two SHA-256
/// compressions instead of four, and a small bounded cache of the AEV1 block keys derived from it
/// (suite 0x0002, ADR 002 "Block keys"); both are zeroized on drop as well. Because the cache
/// lives inside the key, dropping the key (for example when a key cache forgets it) drops every
/// key derived from it, and a derived key can never be used with another data key.
pub struct Dek {
    bytes: Zeroizing<[u8; DEK_LEN]>,
    expander: Hkdf<Sha256>,
    blocks: Mutex<BlockCache>,
}

/// How many block keys one [`Dek`] keeps. A sealing thread uses one block at a time, and readers
/// usually read in ledger order, so a handful of entries covers several concurrent sealers and
/// readers; the bound keeps hostile envelopes (arbitrary message ids) from growing memory.
pub(crate) const BLOCK_CACHE_LEN: usize = 16;

/// An AES-256-GCM key with its GHASH key already set up, and the key commitment of the same
/// block. `Aes256Gcm` zeroizes its round keys on drop (aes-gcm's `zeroize` feature).
pub(crate) struct BlockKey {
    pub(crate) cipher: Aes256Gcm,
    pub(crate) commitment: Zeroizing<[u8; 32]>,
}

// A compile-time check of the claim above: if the `zeroize` feature of aes-gcm were dropped,
// `Aes256Gcm` would stop implementing `ZeroizeOnDrop` and this would fail to build.
const _: fn() = || {
    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    wiped_on_drop::<Aes256Gcm>();
};

/// The bounded block-key cache of one data key, replaced round-robin when full.
#[derive(Default)]
struct BlockCache {
    entries: Vec<(u16, [u8; 32], Arc<BlockKey>)>,
    next: usize,
}

impl BlockCache {
    fn get(&self, suite: u16, block: &[u8; 32]) -> Option<Arc<BlockKey>> {
        self.entries
            .iter()
            .find(|(s, b, _)| *s == suite && b == block)
            .map(|(_, _, key)| Arc::clone(key))
    }

    fn insert(&mut self, suite: u16, block: [u8; 32], key: Arc<BlockKey>) {
        if self.entries.len() < BLOCK_CACHE_LEN {
            self.entries.push((suite, block, key));
        } else if let Some(slot) = self.entries.get_mut(self.next) {
            *slot = (suite, block, key);
            self.next = (self.next + 1) % BLOCK_CACHE_LEN;
        }
    }
}

impl Dek {
    /// Generates a fresh key from the operating system's CSPRNG.
    ///
    /// # Errors
    /// Returns [`Error::Random`] if the system random number generator fails.
    pub fn generate() -> Result<Self> {
        let bytes = Zeroizing::new(random_array::<DEK_LEN>()?);
        Ok(Self::from_zeroizing(bytes))
    }

    /// Builds a key from exactly [`DEK_LEN`] bytes (for example a KMS plaintext response). The
    /// caller remains responsible for zeroizing its own copy.
    ///
    /// # Errors
    /// Returns [`Error::InvalidInput`] if `bytes` is not 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let mut key = Zeroizing::new([0u8; DEK_LEN]);
        if bytes.len() != DEK_LEN {
            return Err(Error::InvalidInput {
                what: "data key",
                reason: format!("expected {DEK_LEN} bytes, got {}", bytes.len()),
            });
        }
        key.copy_from_slice(bytes);
        Ok(Self::from_zeroizing(key))
    }

    fn from_zeroizing(bytes: Zeroizing<[u8; DEK_LEN]>) -> Self {
        // RFC 5869 §3.3: a uniformly random key may be used directly as the HKDF PRK. `from_prk`
        // only fails for a PRK shorter than the hash output (32 bytes), which DEK_LEN rules out.
        let expander = match Hkdf::<Sha256>::from_prk(bytes.as_slice()) {
            Ok(h) => h,
            Err(_) => unreachable!("a 32-byte PRK is never shorter than SHA-256's output"),
        };
        Self {
            bytes,
            expander,
            blocks: Mutex::new(BlockCache::default()),
        }
    }

    /// The raw key bytes. Only KMS providers that must wrap the key themselves should call this;
    /// do not copy the bytes anywhere that is not zeroized.
    #[must_use]
    pub fn expose_secret(&self) -> &[u8; DEK_LEN] {
        &self.bytes
    }

    /// HKDF-SHA256-Expand with this key as PRK, `info = label ‖ suite (u16 BE) ‖ message id`,
    /// 32 bytes of output (one HMAC block).
    pub(crate) fn derive(
        &self,
        label: &[u8],
        suite: u16,
        message_id: &[u8; 32],
    ) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        let suite = suite.to_be_bytes();
        // 32 bytes is far below HKDF-SHA256's 255 * 32 byte output limit.
        if self
            .expander
            .expand_multi_info(&[label, &suite, message_id], out.as_mut_slice())
            .is_err()
        {
            unreachable!("32 bytes of HKDF-SHA256 output is within the RFC 5869 limit");
        }
        out
    }

    /// The block key for `(suite, block)`, from this key's cache or made by `make` and cached.
    ///
    /// `make` runs without the lock held, so threads sealing in different blocks do not wait on
    /// each other's key setup. A poisoned lock is recovered: entries are immutable once inserted,
    /// so a panic elsewhere cannot leave a wrong one behind.
    pub(crate) fn block_key(
        &self,
        suite: u16,
        block: &[u8; 32],
        make: impl FnOnce() -> BlockKey,
    ) -> Arc<BlockKey> {
        if let Some(key) = self
            .blocks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(suite, block)
        {
            return key;
        }
        let key = Arc::new(make());
        let mut cache = self
            .blocks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(existing) = cache.get(suite, block) {
            return existing;
        }
        cache.insert(suite, *block, Arc::clone(&key));
        key
    }

    /// Number of cached block keys (for tests of the bound).
    #[cfg(test)]
    pub(crate) fn cached_blocks(&self) -> usize {
        self.blocks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entries
            .len()
    }
}

impl fmt::Debug for Dek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Dek(<redacted>)")
    }
}

/// Fills an array from the operating system's CSPRNG.
pub(crate) fn random_array<const N: usize>() -> Result<[u8; N]> {
    <[u8; N]>::try_generate().map_err(|e| Error::Random(e.to_string()))
}

/// The identifier of one data key, bound into every envelope it seals.
///
/// It stays the same when the data key is re-wrapped under a new key-encryption key, which is why
/// AEV1 binds this id (and not the KEK id) into its authenticated header. Stores that keep
/// wrapped data keys apart from the ciphertexts (for crypto-shredding) index them by this id.
/// It is 1 to 128 printable ASCII characters without spaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DataKeyId(String);

impl DataKeyId {
    /// Checks and wraps an id.
    ///
    /// # Errors
    /// Returns [`Error::InvalidInput`] if the id is empty, too long or not printable ASCII.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        if id.is_empty() || id.len() > MAX_DATA_KEY_ID_LEN {
            return Err(Error::InvalidInput {
                what: "data key id",
                reason: format!("length must be 1..={MAX_DATA_KEY_ID_LEN} bytes"),
            });
        }
        if !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::InvalidInput {
                what: "data key id",
                reason: "must be printable ASCII without spaces".to_owned(),
            });
        }
        Ok(Self(id))
    }

    /// Creates a random id of the form `dk-` followed by 32 hex digits (128 random bits).
    ///
    /// # Errors
    /// Returns [`Error::Random`] if the system random number generator fails.
    pub fn random() -> Result<Self> {
        let raw = random_array::<16>()?;
        Ok(Self(format!("dk-{}", hex::encode(raw))))
    }

    /// The id as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DataKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A data key ready to seal envelopes: its id, the secret key, its wrapped form and the scope it
/// was wrapped under. The [`DekCache`](crate::DekCache) hands these out behind an `Arc`; the
/// secret is zeroized when the last holder drops it.
#[derive(Debug)]
pub struct DataKey {
    id: DataKeyId,
    dek: Dek,
    wrapped: WrappedDek,
    scope: EncryptionContext,
}

impl DataKey {
    /// Bundles a data key. `scope` must be the context `wrapped` was produced under.
    #[must_use]
    pub fn new(id: DataKeyId, dek: Dek, wrapped: WrappedDek, scope: EncryptionContext) -> Self {
        Self {
            id,
            dek,
            wrapped,
            scope,
        }
    }

    /// The data key id bound into envelopes sealed with this key.
    #[must_use]
    pub fn id(&self) -> &DataKeyId {
        &self.id
    }

    /// The secret key.
    #[must_use]
    pub fn dek(&self) -> &Dek {
        &self.dek
    }

    /// The key wrapped under its key-encryption key.
    #[must_use]
    pub fn wrapped(&self) -> &WrappedDek {
        &self.wrapped
    }

    /// The data-key scope the key was wrapped under.
    #[must_use]
    pub fn scope(&self) -> &EncryptionContext {
        &self.scope
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_codes_round_trip() {
        for p in [
            ProviderId::Aws,
            ProviderId::Gcp,
            ProviderId::Azure,
            ProviderId::Vault,
            ProviderId::Local,
        ] {
            assert_eq!(ProviderId::from_code(p.code()), Some(p));
        }
        assert_eq!(ProviderId::from_code(0), None);
        assert_eq!(ProviderId::from_code(0x7f), None);
    }

    #[test]
    fn dek_debug_is_redacted() {
        let dek = Dek::from_slice(&[0xAB; 32]).unwrap();
        let text = format!("{dek:?}");
        assert_eq!(text, "Dek(<redacted>)");
        assert!(!text.to_lowercase().contains("abab"));
        assert!(Dek::from_slice(&[0; 31]).is_err());
    }

    #[test]
    fn dek_derive_matches_rfc5869_expand() {
        // HKDF-Expand(PRK, info, 32) is T(1) = HMAC(PRK, info ‖ 0x01).
        use hmac::{Hmac, KeyInit, Mac};
        let dek = Dek::from_slice(&[7u8; 32]).unwrap();
        let mid = [9u8; 32];
        let got = dek.derive(b"AEV1 key", 1, &mid);
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&[7u8; 32]).unwrap();
        mac.update(b"AEV1 key");
        mac.update(&[0, 1]);
        mac.update(&mid);
        mac.update(&[1]);
        assert_eq!(got.as_slice(), mac.finalize().into_bytes().as_slice());
    }

    #[test]
    fn generated_deks_differ() {
        let a = Dek::generate().unwrap();
        let b = Dek::generate().unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn key_ref_parse() {
        let k = KeyRef::parse("local:main/v2").unwrap();
        assert_eq!(k.provider(), ProviderId::Local);
        assert_eq!(k.to_string(), "local:main/v2");
        let a = KeyRef::parse("aws:1234abcd-12ab-34cd-56ef-1234567890ab").unwrap();
        assert_eq!(a.provider(), ProviderId::Aws);
        assert_eq!(a.key_id(), "1234abcd-12ab-34cd-56ef-1234567890ab");
        assert_eq!(
            KeyRef::parse("alias/x").unwrap().provider(),
            ProviderId::Aws
        );
        assert!(KeyRef::parse("gcp:whatever").is_err());
        assert!(KeyRef::parse("local:a b").is_err());
    }

    #[test]
    fn wrapped_dek_bytes_round_trip_and_limits() {
        let w = WrappedDek::new(ProviderId::Local, "local:k/v1", vec![1, 2, 3]).unwrap();
        let bytes = w.to_bytes();
        assert_eq!(WrappedDek::from_bytes(&bytes).unwrap(), w);
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(WrappedDek::from_bytes(&trailing).is_err());
        assert!(WrappedDek::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(WrappedDek::new(ProviderId::Local, "k", vec![]).is_err());
        assert!(WrappedDek::new(ProviderId::Local, "k", vec![0; MAX_WRAPPED_LEN + 1]).is_err());
        assert!(format!("{w:?}").contains("blob_len: 3"));
    }

    #[test]
    fn data_key_ids() {
        let r = DataKeyId::random().unwrap();
        assert_eq!(r.as_str().len(), 35);
        assert!(r.as_str().starts_with("dk-"));
        assert!(DataKeyId::new("").is_err());
        assert!(DataKeyId::new("a b").is_err());
        assert!(DataKeyId::new("x".repeat(129)).is_err());
        assert!(DataKeyId::new("tenant-a/subj-01").is_ok());
    }
}
