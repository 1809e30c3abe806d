//! The crate's single error type and its `Result` alias.
//!
//! Errors name what failed and where (field and byte offset, key id, file and line), but never
//! carry secret material: no key bytes, no plaintext, no credentials. Authentication failures are
//! deliberately coarse (one variant for "the AEAD tag did not verify") so that callers cannot be
//! turned into a decryption oracle that reports *which* byte was wrong.

use std::path::PathBuf;
use std::time::Duration;

use crate::keys::ProviderId;

/// Result type used throughout `spanforge-crypto`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while sealing, opening, wrapping or caching keys.
///
/// The variants fall into groups that callers usually treat differently:
///
/// * format problems ([`Error::Malformed`], [`Error::UnsupportedVersion`],
///   [`Error::UnsupportedSuite`]): the bytes are not a valid AEV1 envelope;
/// * binding problems ([`Error::ContextMismatch`], [`Error::CommitmentMismatch`],
///   [`Error::AuthenticationFailed`], [`Error::UnwrapFailed`]): the bytes parse but were moved,
///   swapped or modified;
/// * key lifecycle ([`Error::KeyDestroyed`], [`Error::KeyUnavailable`]): the key needed to open
///   the envelope is gone, which after crypto-shredding is the expected outcome rather than
///   corruption;
/// * KMS service problems ([`Error::Throttled`], [`Error::AccessDenied`], [`Error::Kms`]);
/// * local keyring problems ([`Error::Keyring`], [`Error::InsecurePermissions`], [`Error::Io`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The envelope bytes do not follow the AEV1 layout.
    #[error("malformed AEV1 envelope: field `{field}` at byte {offset}: {reason}")]
    Malformed {
        /// The layout field being read when the problem was found.
        field: &'static str,
        /// Byte offset of that field from the start of the envelope.
        offset: usize,
        /// What was wrong with it.
        reason: &'static str,
    },

    /// The envelope carries a format version this build does not read.
    #[error("unsupported envelope format version {found} (this build reads AEV version 1)")]
    UnsupportedVersion {
        /// The version byte found in the magic.
        found: u8,
    },

    /// The envelope names an algorithm suite this build does not implement.
    #[error("unsupported AEV1 algorithm suite 0x{found:04x} (this build implements 0x0001)")]
    UnsupportedSuite {
        /// The suite id found in the header.
        found: u16,
    },

    /// An encryption context entry is missing, empty, too long or badly formed.
    #[error("invalid encryption context entry `{key}`: {reason}")]
    InvalidContext {
        /// The context key concerned (keys are non-secret by contract).
        key: String,
        /// What was wrong with it.
        reason: &'static str,
    },

    /// A caller-supplied identifier or parameter is not acceptable.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// Which input was rejected (for example "data key id" or "key reference").
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },

    /// The envelope was sealed for a different context than the one the caller expected,
    /// for example another tenant or another event.
    #[error(
        "encryption context mismatch on `{key}`: the envelope was sealed for a different value"
    )]
    ContextMismatch {
        /// The first context key whose value (or presence) differs.
        key: String,
    },

    /// The key commitment in the header does not match the data key, so the data key does not
    /// belong to this envelope (wrong key, or a swapped encrypted data key).
    #[error("key commitment mismatch: the data key does not belong to this envelope")]
    CommitmentMismatch,

    /// The AEAD tag did not verify: the body or the authenticated header was modified.
    #[error("authentication failed: the envelope body or authenticated header was modified")]
    AuthenticationFailed,

    /// The data key was destroyed (crypto-shredded): its wrapped form no longer exists, so the
    /// envelope can never be opened again. This is the expected outcome after an erasure.
    #[error("data key `{key_id}` was destroyed; the payload is unrecoverable")]
    KeyDestroyed {
        /// The data key id from the envelope header.
        key_id: String,
    },

    /// A key-encryption key is not available (unknown, retired, disabled or pending deletion).
    #[error("key `{key_id}` is unavailable: {reason}")]
    KeyUnavailable {
        /// The version-qualified key id.
        key_id: String,
        /// Why the key cannot be used.
        reason: String,
    },

    /// The KMS rejected a wrapped data key: the encryption context differs from the one used
    /// to wrap it, or the wrapped bytes were modified.
    #[error(
        "cannot unwrap data key under `{key_id}`: wrong encryption context or corrupted ciphertext"
    )]
    UnwrapFailed {
        /// The version-qualified key id named by the wrapped data key.
        key_id: String,
    },

    /// The envelope carries no encrypted data key this KMS provider can unwrap.
    #[error("the envelope has no encrypted data key for the `{provider}` KMS provider")]
    NoUsableEdk {
        /// The provider that was asked to open the envelope.
        provider: ProviderId,
    },

    /// The KMS throttled the request; retry later.
    #[error("{provider} KMS throttled the request (retry after {retry_after:?})")]
    Throttled {
        /// The provider that throttled.
        provider: ProviderId,
        /// The back-off the service suggested, when it gave one.
        retry_after: Option<Duration>,
    },

    /// The KMS refused the caller's credentials or permissions for this key.
    #[error("{provider} KMS denied access to `{key_id}`: {message}")]
    AccessDenied {
        /// The provider that refused.
        provider: ProviderId,
        /// The key the request named.
        key_id: String,
        /// The service's explanation (never includes credentials).
        message: String,
    },

    /// Any other KMS failure (network, service error, unexpected response).
    #[error("{provider} KMS {operation} failed: {message}")]
    Kms {
        /// The provider that failed.
        provider: ProviderId,
        /// The operation that failed, such as "GenerateDataKey".
        operation: &'static str,
        /// A description of the failure (never includes credentials).
        message: String,
        /// Whether retrying the same request may succeed.
        retryable: bool,
    },

    /// The local keyring file is malformed or inconsistent.
    #[error("keyring {}{}: {reason}", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Keyring {
        /// The keyring file.
        path: PathBuf,
        /// The 1-based line the problem was found on, if any.
        line: Option<usize>,
        /// What is wrong (never includes key material).
        reason: String,
    },

    /// The local keyring file can be read by the group or by others.
    #[error(
        "keyring {} has mode {mode:04o}, readable or writable by group/others; \
         run `chmod 600 {}` and rotate the keys if others may have read them",
        path.display(),
        path.display()
    )]
    InsecurePermissions {
        /// The keyring file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// An I/O operation on a file failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(String),

    /// An input exceeds a hard limit of the format.
    #[error("{what} is {len} bytes, over the limit of {max}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
}

impl Error {
    /// Returns true when the error means the key needed to decrypt is gone for good (destroyed
    /// data key) or not currently usable (missing or retired key-encryption key), as opposed to
    /// a corrupted or tampered envelope.
    #[must_use]
    pub fn is_key_unavailable(&self) -> bool {
        matches!(
            self,
            Error::KeyDestroyed { .. } | Error::KeyUnavailable { .. }
        )
    }

    /// Returns true when retrying the same operation later may succeed (throttling or a
    /// transient KMS failure).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Throttled { .. }
                | Error::Kms {
                    retryable: true,
                    ..
                }
        )
    }

    pub(crate) fn malformed(field: &'static str, offset: usize, reason: &'static str) -> Self {
        Error::Malformed {
            field,
            offset,
            reason,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
