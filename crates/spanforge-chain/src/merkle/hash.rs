//! The 32-byte [`Hash`] newtype and the RFC 6962 leaf, node and empty-tree hash functions.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use spanforge_event::sha256::sha256_prefixed;
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// Length in bytes of every hash in the tree (SHA-256).
pub const HASH_LEN: usize = 32;

/// Domain-separation prefix of a leaf hash (RFC 6962 §2.1).
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of an interior node hash (RFC 6962 §2.1).
const NODE_PREFIX: u8 = 0x01;

/// A SHA-256 value used as a Merkle leaf hash, node hash or tree root.
///
/// Equality is constant-time (via `subtle`), so comparing a recomputed root with an expected
/// one leaks nothing about where they differ. `Debug` and `Display` print lowercase hex.
#[derive(Clone, Copy, Default)]
pub struct Hash([u8; HASH_LEN]);

/// The root of the empty tree, `SHA-256("")` (RFC 6962 §2.1: `MTH({}) = SHA-256()`).
pub const EMPTY_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

impl Hash {
    /// Wraps 32 raw bytes.
    pub const fn from_bytes(bytes: [u8; HASH_LEN]) -> Self {
        Hash(bytes)
    }

    /// Copies a hash out of a slice, which must be exactly 32 bytes long.
    ///
    /// `field` names the input in the error, e.g. `"leaf hash"` or `"proof[3]"`.
    pub fn from_slice(bytes: &[u8], field: &'static str) -> Result<Self> {
        let array: [u8; HASH_LEN] = bytes.try_into().map_err(|_| Error::HashLength {
            field,
            len: bytes.len(),
        })?;
        Ok(Hash(array))
    }

    /// Returns the raw bytes.
    pub const fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// Returns the raw bytes by value.
    pub const fn to_bytes(self) -> [u8; HASH_LEN] {
        self.0
    }

    /// Encodes as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Decodes 64 hex digits (either case). `field` names the input in errors.
    pub fn from_hex(text: &str, field: &'static str) -> Result<Self> {
        let bytes = hex::decode(text).map_err(|_| Error::Encoding {
            field,
            encoding: "hex",
        })?;
        Hash::from_slice(&bytes, field)
    }

    /// Encodes as standard, padded base64 (RFC 4648 §4), the form C2SP formats use.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// Decodes standard, padded, canonical base64 holding exactly 32 bytes.
    /// `field` names the input in errors.
    pub fn from_base64(text: &str, field: &'static str) -> Result<Self> {
        let bytes = BASE64.decode(text).map_err(|_| Error::Encoding {
            field,
            encoding: "base64",
        })?;
        Hash::from_slice(&bytes, field)
    }
}

impl PartialEq for Hash {
    fn eq(&self, other: &Self) -> bool {
        spanforge_event::ids::digests_equal(&self.0, &other.0)
    }
}

impl Eq for Hash {}

impl ConstantTimeEq for Hash {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl std::hash::Hash for Hash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<[u8; HASH_LEN]> for Hash {
    fn from(bytes: [u8; HASH_LEN]) -> Self {
        Hash(bytes)
    }
}

impl From<Hash> for [u8; HASH_LEN] {
    fn from(hash: Hash) -> Self {
        hash.0
    }
}

impl TryFrom<&[u8]> for Hash {
    type Error = Error;

    fn try_from(bytes: &[u8]) -> Result<Self> {
        Hash::from_slice(bytes, "hash")
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Computes the RFC 6962 leaf hash `SHA-256(0x00 || data)` of one log entry.
pub fn leaf_hash(data: &[u8]) -> Hash {
    Hash(sha256_prefixed(LEAF_PREFIX, data))
}

/// Computes the RFC 6962 interior node hash `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut pair = [0u8; 2 * HASH_LEN];
    pair[..HASH_LEN].copy_from_slice(&left.0);
    pair[HASH_LEN..].copy_from_slice(&right.0);
    Hash(sha256_prefixed(NODE_PREFIX, &pair))
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        let computed: [u8; 32] = Sha256::digest(b"").into();
        assert_eq!(EMPTY_ROOT, Hash(computed));
        assert_eq!(
            EMPTY_ROOT.to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn leaf_and_node_hashes_are_domain_separated() {
        // RFC 6962 leaf hash of the empty entry (transparency-dev constants).
        assert_eq!(
            leaf_hash(b"").to_hex(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        let mut manual = Sha256::new();
        manual.update([1u8]);
        manual.update(a.as_bytes());
        manual.update(b.as_bytes());
        let manual: [u8; 32] = manual.finalize().into();
        assert_eq!(node_hash(&a, &b), Hash(manual));
        assert_ne!(node_hash(&a, &b), node_hash(&b, &a));
        let mut concat = Vec::from(*a.as_bytes());
        concat.extend_from_slice(b.as_bytes());
        assert_ne!(node_hash(&a, &b), leaf_hash(&concat));
    }

    #[test]
    fn encodings_round_trip_and_reject_bad_lengths() {
        let h = leaf_hash(b"x");
        assert_eq!(Hash::from_hex(&h.to_hex(), "t").unwrap(), h);
        assert_eq!(Hash::from_hex(&h.to_hex().to_uppercase(), "t").unwrap(), h);
        assert_eq!(Hash::from_base64(&h.to_base64(), "t").unwrap(), h);
        assert!(matches!(
            Hash::from_hex("abcd", "t"),
            Err(Error::HashLength { len: 2, .. })
        ));
        assert!(matches!(
            Hash::from_hex("zz", "t"),
            Err(Error::Encoding { .. })
        ));
        assert!(matches!(
            Hash::from_base64("AAAA", "t"),
            Err(Error::HashLength { len: 3, .. })
        ));
        // Unpadded and non-canonical base64 are rejected.
        let unpadded = h.to_base64().trim_end_matches('=').to_owned();
        assert!(Hash::from_base64(&unpadded, "t").is_err());
        assert!(Hash::try_from(&[0u8; 31][..]).is_err());
        assert!(Hash::try_from(&[0u8; 33][..]).is_err());
    }

    #[test]
    fn equality_and_formatting() {
        let a = leaf_hash(b"a");
        let mut bytes = a.to_bytes();
        bytes[31] ^= 1;
        assert_ne!(a, Hash::from_bytes(bytes));
        assert_eq!(format!("{a}"), a.to_hex());
        assert_eq!(format!("{a:?}"), format!("Hash({})", a.to_hex()));
    }
}
