//! Keyed subject hashes for erasure evidence and data-key scopes.
//!
//! Erasure records and key scopes must identify a data subject without storing the identifier
//! itself. A bare SHA-256 of an e-mail address or user id is not enough: the space of plausible
//! identifiers is small enough to hash them all and look the digest up. A keyed hash (HMAC) can
//! only be recomputed by whoever holds the key, which stays with the operator.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::random_array;

/// Domain-separation label prefixed to every subject id before hashing.
const SUBJECT_LABEL: &[u8] = b"spanforge subject v1\x00";
/// Shortest accepted key, in bytes.
pub const MIN_SUBJECT_KEY_LEN: usize = 32;

/// The secret key for [`subject_hash`]. Zeroized on drop; `Debug` prints nothing secret.
pub struct SubjectHashKey(Zeroizing<Vec<u8>>);

impl SubjectHashKey {
    /// Wraps key bytes; at least [`MIN_SUBJECT_KEY_LEN`] bytes are required.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a shorter key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < MIN_SUBJECT_KEY_LEN {
            return Err(Error::InvalidInput {
                what: "subject hash key",
                reason: format!(
                    "{} bytes given, at least {MIN_SUBJECT_KEY_LEN} required",
                    bytes.len()
                ),
            });
        }
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    /// Generates a random 32-byte key.
    ///
    /// # Errors
    /// [`Error::Random`] if the system RNG fails.
    pub fn generate() -> Result<Self> {
        let bytes = Zeroizing::new(random_array::<32>()?);
        Self::from_bytes(bytes.as_slice())
    }

    /// The raw key bytes, for persisting the key in a secret store.
    #[must_use]
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SubjectHashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubjectHashKey(<redacted>)")
    }
}

/// Returns the keyed hash of a subject identifier as 64 lower-case hex digits:
///
/// `hex(HMAC-SHA256(key, "spanforge subject v1" ‖ 0x00 ‖ UTF-8(subject_id)))`
///
/// The same key and id always give the same hash, so an erasure record can later be matched
/// against a subject by whoever holds the key, and by nobody else.
///
/// ```
/// use spanforge_crypto::{subject_hash, SubjectHashKey};
///
/// let key = SubjectHashKey::from_bytes(&[7u8; 32])?;
/// let h = subject_hash(&key, "user-42");
/// assert_eq!(h.len(), 64);
/// assert_eq!(h, subject_hash(&key, "user-42"));
/// assert_ne!(h, subject_hash(&key, "user-43"));
/// # Ok::<(), spanforge_crypto::Error>(())
/// ```
#[must_use]
pub fn subject_hash(key: &SubjectHashKey, subject_id: &str) -> String {
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(SUBJECT_LABEL);
    mac.update(subject_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // Expected value computed independently with Python's standard library:
        // hmac.new(b"\x0b" * 32, b"spanforge subject v1\x00alice@example.com",
        //          hashlib.sha256).hexdigest()
        let key = SubjectHashKey::from_bytes(&[0x0b; 32]).unwrap();
        assert_eq!(
            subject_hash(&key, "alice@example.com"),
            "e06862cbf4e4c39e0b7a13ca8108d1706b27cc25de84b66c5a2e8bb8e30afa0c"
        );
    }

    #[test]
    fn depends_on_the_key_and_is_not_plain_sha256() {
        use sha2::Digest;
        let k1 = SubjectHashKey::from_bytes(&[1; 32]).unwrap();
        let k2 = SubjectHashKey::from_bytes(&[2; 32]).unwrap();
        assert_ne!(subject_hash(&k1, "s"), subject_hash(&k2, "s"));
        assert_ne!(subject_hash(&k1, "s"), hex::encode(Sha256::digest(b"s")));
    }

    #[test]
    fn short_keys_are_refused_and_debug_is_redacted() {
        assert!(SubjectHashKey::from_bytes(&[0; 31]).is_err());
        let k = SubjectHashKey::from_bytes(&[0x5a; 32]).unwrap();
        assert_eq!(format!("{k:?}"), "SubjectHashKey(<redacted>)");
        assert_eq!(
            SubjectHashKey::generate().unwrap().expose_secret().len(),
            32
        );
    }
}
