//! The crate's single error type and its `Result` alias.
//!
//! Verification failures come in distinguishable families so that callers can tell a
//! tampered log from a malformed input or a wrong key:
//!
//! * [`Error::RootMismatch`]: a well-formed proof did not lead to the expected root;
//! * [`Error::MalformedProof`]: the proof or its sizes and indices cannot be right for any tree;
//! * [`Error::SignatureInvalid`] / [`Error::NoVerifiedSignature`]: note signature problems;
//! * [`Error::Rollback`], [`Error::Fork`], [`Error::Inconsistent`]: checkpoint history problems.
//!
//! No variant ever carries secret key material.

use std::error::Error as StdError;

/// The result type used throughout this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `spanforge-chain`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A hash field did not hold exactly 32 bytes.
    #[error("{field}: expected a 32-byte hash, got {len} bytes")]
    HashLength {
        /// Which field or input held the hash.
        field: &'static str,
        /// The length that was found.
        len: usize,
    },

    /// A hex or base64 field could not be decoded.
    #[error("{field}: invalid {encoding} encoding")]
    Encoding {
        /// Which field or input was being decoded.
        field: &'static str,
        /// The expected encoding, e.g. `"hex"` or `"base64"`.
        encoding: &'static str,
    },

    /// A proof, or the sizes and indices it is claimed for, cannot be valid for any tree
    /// (wrong number of hashes, index out of range, invalid subtree, zero-size tree, ...).
    #[error("malformed proof: {reason}")]
    MalformedProof {
        /// What exactly is wrong.
        reason: String,
    },

    /// A well-formed proof was checked and the recomputed root differs from the expected one.
    #[error("{what}: recomputed root does not match the expected root")]
    RootMismatch {
        /// Which root failed, e.g. `"inclusion root"` or `"consistency: new root"`.
        what: &'static str,
    },

    /// A tree operation would exceed the largest representable tree size (2^64 - 1 leaves).
    #[error("tree is full: cannot grow past 2^64 - 1 leaves")]
    TreeFull,

    /// A proof or root was requested for a tree size larger than the store holds.
    #[error("tree size {requested} exceeds the {available} leaves held by the store")]
    SizeBeyondStore {
        /// The tree size asked for.
        requested: u64,
        /// The number of leaves the store holds.
        available: u64,
    },

    /// The node store does not hold a complete-subtree hash that must exist for its size.
    #[error("node store is missing node at level {level}, index {index}")]
    MissingNode {
        /// The node's level (0 = leaf hashes).
        level: u8,
        /// The node's index within its level.
        index: u64,
    },

    /// The node store failed; its own error is kept as the source.
    #[error("node store error")]
    Store {
        /// The store's error.
        #[source]
        source: Box<dyn StdError + Send + Sync + 'static>,
    },

    /// A serialised frontier could not be decoded.
    #[error("invalid frontier encoding: {reason}")]
    FrontierEncoding {
        /// What exactly is wrong.
        reason: String,
    },

    /// Key material supplied to build a signer or verifier was malformed.
    #[error("invalid {what}: {reason}")]
    KeyFormat {
        /// Which kind of key text, e.g. `"verifier key"` or `"signer key"`.
        what: &'static str,
        /// What exactly is wrong (never includes secret bytes).
        reason: String,
    },

    /// The caller-supplied randomness source failed while generating a key.
    #[error("randomness source failed while generating a key")]
    Randomness {
        /// The randomness source's error.
        #[source]
        source: Box<dyn StdError + Send + Sync + 'static>,
    },

    /// A signed note was not well formed.
    #[error("malformed note, line {line}: {reason}")]
    NoteFormat {
        /// The 1-based line of the note where the problem was found.
        line: usize,
        /// What exactly is wrong.
        reason: String,
    },

    /// A signature from a known key did not verify. The note must be rejected.
    #[error("signature by known key {key_name} ({key_id}) does not verify")]
    SignatureInvalid {
        /// The key name from the signature line.
        key_name: String,
        /// The key ID from the signature line, as 8 hex digits.
        key_id: String,
    },

    /// No signature on the note was made by any of the trusted keys.
    #[error("note carries no valid signature from a trusted key")]
    NoVerifiedSignature,

    /// Checkpoint text did not follow the C2SP tlog-checkpoint format.
    #[error("malformed checkpoint, line {line}: {reason}")]
    CheckpointFormat {
        /// The 1-based line of the checkpoint text.
        line: usize,
        /// What exactly is wrong.
        reason: String,
    },

    /// Two checkpoints (or a checkpoint and a verifier) name different logs.
    #[error("origin mismatch: expected {expected:?}, found {found:?}")]
    OriginMismatch {
        /// The origin that was expected.
        expected: String,
        /// The origin that was found.
        found: String,
    },

    /// A presented checkpoint is smaller than one already trusted: the log was truncated
    /// or rolled back.
    #[error("rollback: trusted tree size {trusted_size}, presented tree size {presented_size}")]
    Rollback {
        /// The size of the checkpoint already trusted.
        trusted_size: u64,
        /// The (smaller) size of the presented checkpoint.
        presented_size: u64,
    },

    /// Two checkpoints of the same size carry different roots: the log forked.
    #[error("fork: two different roots for tree size {size}")]
    Fork {
        /// The tree size both checkpoints claim.
        size: u64,
    },

    /// A larger checkpoint could not be shown to extend a trusted smaller one.
    #[error("checkpoint of size {new_size} is not shown to extend trusted size {old_size}")]
    Inconsistent {
        /// The trusted (older) tree size.
        old_size: u64,
        /// The presented (newer) tree size.
        new_size: u64,
        /// Why the consistency proof was rejected.
        #[source]
        source: Box<Error>,
    },

    /// A signing key is missing, empty or too weak for its use. The message never contains
    /// key material.
    #[error("key error: {0}")]
    Key(String),

    /// A `c2sp.org/tlog-proof@v1` bundle was not well formed.
    #[error("malformed tlog-proof, line {line}: {reason}")]
    TlogProofFormat {
        /// The 1-based line of the bundle.
        line: usize,
        /// What exactly is wrong.
        reason: String,
    },
}

impl Error {
    /// Builds a [`Error::MalformedProof`] from anything printable.
    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        Error::MalformedProof {
            reason: reason.into(),
        }
    }

    /// Wraps a node-store error.
    pub(crate) fn store<E: StdError + Send + Sync + 'static>(source: E) -> Self {
        Error::Store {
            source: Box::new(source),
        }
    }

    /// Returns true for errors that mean "the data was checked and does not match", as opposed
    /// to malformed input: a root mismatch, a bad signature, a rollback, a fork or an
    /// inconsistent extension.
    pub fn is_verification_failure(&self) -> bool {
        matches!(
            self,
            Error::RootMismatch { .. }
                | Error::SignatureInvalid { .. }
                | Error::NoVerifiedSignature
                | Error::Rollback { .. }
                | Error::Fork { .. }
                | Error::Inconsistent { .. }
        )
    }
}
